"""What sells together: frequent itemsets, association rules and per-basket suggestions.

Mining is Eclat over vertical bitsets (Zaki 2000): each item is a bitset over baskets, the
support of an itemset is the popcount of the AND of its items' bitsets, and a depth-first walk
extends each frequent itemset with the items after it, all extensions of one itemset in one
vectorised AND over a stacked array. NumPy does the bit work (`np.bitwise_count`); Python
only walks the frequent itemsets.

Identical baskets (common in retail: a third of the Groceries baskets are one of a few hundred
combinations) are stored once with a count. Counts enter the popcount through their binary
digits: with plane k the bitset of baskets whose count has bit k set, the support of a tidset
t is sum_k 2^k popcount(t & plane_k), still pure bit arithmetic.

Thresholds are compared on integer counts: min_support_count = ceil(min_support * n_baskets)
and confidence as count(A u C) * den >= num * count(A) with the threshold as an exact fraction
of its decimal form, so 0.001 of 9,835 baskets means 10 baskets, not whatever 9.835000000001
rounds to. As in arules' apriori (whose published Groceries figures the tests reproduce),
rules have one item as consequent unless `max_consequent` says otherwise.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations
from typing import Any

import numpy as np
import numpy.typing as npt

from guanxi.engine._arrays import IntArray

U64 = npt.NDArray[np.uint64]

__all__ = [
    "Baskets",
    "Itemset",
    "Recommender",
    "Rule",
    "Suggestion",
    "association_rules",
    "baskets_from_lists",
    "baskets_from_pairs",
    "frequent_itemsets",
    "min_count",
]


@dataclass(frozen=True, slots=True)
class Baskets:
    """Baskets in vertical form: one bitset per item over the distinct baskets."""

    items: tuple[str, ...]
    """Item labels, by item id."""
    item_bits: U64
    """(n_items, words): bit j of item i's row is set if distinct basket j holds item i."""
    weight_planes: U64 | None
    """(n_planes, words): bit j of plane k is bit k of distinct basket j's count; None if all counts are 1."""
    n_baskets: int
    """Baskets represented, duplicates included."""
    n_distinct: int


@dataclass(frozen=True, slots=True)
class Itemset:
    items: tuple[int, ...]
    """Item ids, ascending."""
    count: int


@dataclass(frozen=True, slots=True)
class Rule:
    """antecedent => consequent, with the counts the measures come from."""

    antecedent: tuple[str, ...]
    consequent: tuple[str, ...]
    count: int
    """Baskets holding antecedent and consequent together."""
    antecedent_count: int
    consequent_count: int
    n_baskets: int

    @property
    def support(self) -> float:
        return self.count / self.n_baskets

    @property
    def confidence(self) -> float:
        return self.count / self.antecedent_count

    @property
    def lift(self) -> float:
        return self.count * self.n_baskets / (self.antecedent_count * self.consequent_count)


def min_count(fraction: float | str | Fraction, n: int) -> int:
    """ceil(fraction * n) computed exactly from the fraction's decimal form (at least 1)."""
    exact = Fraction(str(fraction)) if isinstance(fraction, float) else Fraction(fraction)
    if not 0 <= exact <= 1:
        raise ValueError("a support threshold must lie between 0 and 1")
    return max(1, math.ceil(exact * n))


CHUNK = 1 << 20
"""Pairs or baskets handled per step while encoding, so temporaries stay a few MB each."""


def _basket_index(basket_ids: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.integer[Any]], int]:
    """Map basket ids to 0..n-1; a sorted input (order lines by order) needs no sort.

    int32 where it fits: the index is as long as the input, the largest array built here.
    """
    if len(basket_ids) == 0:
        return basket_ids, 0
    if np.all(basket_ids[1:] >= basket_ids[:-1]):
        index: npt.NDArray[np.integer[Any]] = np.empty(
            len(basket_ids), dtype=np.int32 if len(basket_ids) < 2**31 else np.int64
        )
        index[0] = 0
        np.cumsum(basket_ids[1:] != basket_ids[:-1], out=index[1:])
        return index, int(index[-1]) + 1
    _, inverse = np.unique(basket_ids, return_inverse=True)
    return inverse.astype(np.int64, copy=False), int(inverse.max()) + 1


def _basket_masks(basket: npt.NDArray[np.integer[Any]], item: npt.NDArray[np.int64], n_baskets: int, words: int) -> U64:
    """(n_baskets, words): each basket as a bitset over items, built chunk by chunk."""
    masks = np.zeros((n_baskets, words), dtype=np.uint64)
    one = np.uint64(1)
    for start in range(0, len(basket), CHUNK):
        b = basket[start : start + CHUNK]
        i = item[start : start + CHUNK]
        np.bitwise_or.at(masks, (b, i >> 6), np.left_shift(one, (i & 63).astype(np.uint64)))
    return masks


def _transpose(masks: U64, n_items: int) -> U64:
    """(baskets, item words) -> (n_items, basket words): the vertical form, 4,096 baskets a step."""
    n_baskets = masks.shape[0]
    words = max(1, (n_baskets + 63) // 64)
    out = np.zeros((n_items, words), dtype=np.uint64)
    step = 4096  # a multiple of 64, so each step fills whole words
    for start in range(0, n_baskets, step):
        chunk = masks[start : start + step]
        as_bool = np.unpackbits(chunk.view(np.uint8), axis=1, bitorder="little")[:, :n_items]
        packed = np.packbits(as_bool.T, axis=1, bitorder="little")
        padded = np.zeros((n_items, (packed.shape[1] + 7) // 8 * 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        first = start // 64
        block = padded.view(np.uint64)
        out[:, first : first + block.shape[1]] = block
    return out


def baskets_from_pairs(
    basket_ids: npt.ArrayLike, item_ids: npt.ArrayLike, items: Sequence[str], *, deduplicate: bool = True
) -> Baskets:
    """Build the vertical form from (basket, item) pairs, e.g. order lines (order id, product id).

    Basket ids may be any integers (sorted ones are cheapest); item ids index `items`.
    Repeated pairs count once. Memory stays near the size of the result: pairs become one
    bitset per basket (3 words for 169 items), identical bitsets merge, and the transpose to
    one bitset per item runs in blocks.
    """
    basket_raw = np.asarray(basket_ids, dtype=np.int64)
    item = np.asarray(item_ids, dtype=np.int64)
    if basket_raw.shape != item.shape or basket_raw.ndim != 1:
        raise ValueError("basket_ids and item_ids must be 1-D and of one length")
    n_items = len(items)
    if len(item) and (item.min() < 0 or item.max() >= n_items):
        raise ValueError("item id out of range")
    basket, n_baskets = _basket_index(basket_raw)
    masks = _basket_masks(basket, item, n_baskets, max(1, (n_items + 63) // 64))
    del basket
    weights: IntArray | None = None
    if deduplicate and n_baskets:
        order = np.lexsort(masks.T[::-1])
        masks = masks[order]
        del order
        change = np.ones(n_baskets, dtype=bool)
        change[1:] = np.any(masks[1:] != masks[:-1], axis=1)
        starts = np.flatnonzero(change)
        weights = np.diff(np.append(starts, n_baskets)).astype(np.int64)
        masks = masks[starts]
    n_distinct = masks.shape[0]
    item_bits = _transpose(masks, n_items)
    planes: U64 | None = None
    if weights is not None and int(weights.max()) > 1:
        plane_bits = np.stack([((weights >> k) & 1).astype(np.uint8) for k in range(int(weights.max()).bit_length())])
        packed = np.packbits(plane_bits, axis=1, bitorder="little")
        padded = np.zeros((len(plane_bits), item_bits.shape[1] * 8), dtype=np.uint8)
        padded[:, : packed.shape[1]] = packed
        planes = padded.view(np.uint64)
    return Baskets(
        items=tuple(items), item_bits=item_bits, weight_planes=planes, n_baskets=n_baskets, n_distinct=n_distinct
    )


def baskets_from_lists(baskets: Iterable[Iterable[str]], *, deduplicate: bool = True) -> Baskets:
    """Build the vertical form from baskets given as lists of item labels (ids in first-seen order)."""
    index: dict[str, int] = {}
    basket_ids: list[int] = []
    item_ids: list[int] = []
    for b, basket in enumerate(baskets):
        for label in basket:
            basket_ids.append(b)
            item_ids.append(index.setdefault(label, len(index)))
    return baskets_from_pairs(basket_ids, item_ids, list(index), deduplicate=deduplicate)


class _Counter:
    """Weighted popcounts of stacked bitsets."""

    def __init__(self, planes: U64 | None) -> None:
        self.planes = planes
        if planes is not None:
            self.place_values = np.left_shift(np.int64(1), np.arange(len(planes), dtype=np.int64))

    def __call__(self, bits: U64) -> IntArray:
        """Support of each row of `bits` ((m, words) -> (m,))."""
        if self.planes is None:
            return np.bitwise_count(bits).sum(axis=1, dtype=np.int64)
        # (m, planes, words) in one go: one NumPy call per step instead of one per plane.
        per_plane = np.bitwise_count(bits[:, None, :] & self.planes[None, :, :]).sum(axis=2, dtype=np.int64)
        return np.asarray(per_plane @ self.place_values, dtype=np.int64)


def frequent_itemsets(baskets: Baskets, min_support_count: int, *, max_len: int = 10) -> list[Itemset]:
    """Every itemset of at most `max_len` items held by at least `min_support_count` baskets."""
    if min_support_count < 1:
        raise ValueError("min_support_count must be at least 1")
    count = _Counter(baskets.weight_planes)
    item_counts = count(baskets.item_bits)
    frequent = np.flatnonzero(item_counts >= min_support_count)
    # Rarest first: the deepest subtrees then hang off the smallest tidsets.
    frequent = frequent[np.argsort(item_counts[frequent], kind="stable")]
    found = [Itemset((int(i),), int(item_counts[i])) for i in frequent]
    if max_len < 2:
        return found

    def extend(prefix: tuple[int, ...], ids: IntArray, bits: U64, depth: int) -> None:
        # `ids`/`bits`: the frequent extensions prefix + ids[j] and their tidsets.
        for j in range(len(ids) - 1):
            joined = bits[j + 1 :] & bits[j]
            counts = count(joined)
            keep = np.flatnonzero(counts >= min_support_count)
            if len(keep) == 0:
                continue
            head = (*prefix, int(ids[j]))
            for k in keep:
                found.append(Itemset(tuple(sorted((*head, int(ids[j + 1 + k])))), int(counts[k])))
            if depth + 1 < max_len and len(keep) > 1:
                extend(head, ids[j + 1 :][keep], joined[keep], depth + 1)

    extend((), frequent, baskets.item_bits[frequent], 1)
    return found


def association_rules(
    baskets: Baskets,
    *,
    min_support: float | str | Fraction | None = None,
    min_support_count: int | None = None,
    min_confidence: float | str | Fraction = 0.5,
    max_len: int = 10,
    max_consequent: int | None = 1,
) -> list[Rule]:
    """Rules A => C with support and confidence at least the thresholds, best lift first.

    Give the support as a fraction of baskets or as a count. Ties in lift are ordered by
    confidence, support, then the labels, so a run is reproducible.
    """
    if (min_support is None) == (min_support_count is None):
        raise ValueError("give exactly one of min_support and min_support_count")
    threshold = min_support_count if min_support_count is not None else min_count(min_support or 0, baskets.n_baskets)
    confidence = Fraction(str(min_confidence)) if isinstance(min_confidence, float) else Fraction(min_confidence)
    num, den = confidence.numerator, confidence.denominator
    itemsets = frequent_itemsets(baskets, threshold, max_len=max_len)
    counts = {itemset.items: itemset.count for itemset in itemsets}
    labels = baskets.items
    rules: list[Rule] = []
    for itemset in itemsets:
        size = len(itemset.items)
        if size < 2:
            continue
        largest = size - 1 if max_consequent is None else min(max_consequent, size - 1)
        for c_size in range(1, largest + 1):
            for consequent in combinations(itemset.items, c_size):
                antecedent = tuple(i for i in itemset.items if i not in consequent)
                a_count = counts[antecedent]
                if itemset.count * den >= num * a_count:
                    rules.append(
                        Rule(
                            antecedent=tuple(sorted(labels[i] for i in antecedent)),
                            consequent=tuple(sorted(labels[i] for i in consequent)),
                            count=itemset.count,
                            antecedent_count=a_count,
                            consequent_count=counts[consequent],
                            n_baskets=baskets.n_baskets,
                        )
                    )
    rules.sort(key=lambda r: (-r.lift, -r.confidence, -r.count, r.antecedent, r.consequent))
    return rules


@dataclass(frozen=True, slots=True)
class Suggestion:
    """'Bought `because`, often buys `item`'."""

    item: str
    because: tuple[str, ...]
    confidence: float
    lift: float
    support: float


class Recommender:
    """Cross-sell suggestions for one basket from single-consequent rules, in microseconds.

    Each rule's antecedent is kept as a bitset over items, so the rules that apply to a basket
    are found with one vectorised subset test over all rules: (antecedent & ~basket) == 0.
    """

    def __init__(self, rules: Sequence[Rule]) -> None:
        single = [r for r in rules if len(r.consequent) == 1]
        labels = sorted({label for r in single for label in (*r.antecedent, *r.consequent)})
        self._index = {label: i for i, label in enumerate(labels)}
        self._words = max(1, (len(labels) + 63) // 64)
        self._rules = single
        self._antecedents = np.zeros((len(single), self._words), dtype=np.uint64)
        for row, rule in enumerate(single):
            for label in rule.antecedent:
                i = self._index[label]
                self._antecedents[row, i // 64] |= np.uint64(1) << np.uint64(i % 64)
        self._consequent = np.array([self._index[r.consequent[0]] for r in single], dtype=np.int64)
        self._confidence = np.array([r.confidence for r in single])
        self._lift = np.array([r.lift for r in single])

    def suggest(self, basket: Iterable[str], *, limit: int = 5, by: str = "confidence") -> list[Suggestion]:
        """Items not in `basket` that rules on its contents point to, best rule per item first.

        `by` ranks by "confidence" (how often such baskets hold the item) or "lift" (how much
        more often than baskets in general).
        """
        if by not in ("confidence", "lift"):
            raise ValueError('by must be "confidence" or "lift"')
        mask = np.zeros(self._words, dtype=np.uint64)
        for label in basket:
            i = self._index.get(label)
            if i is not None:
                mask[i // 64] |= np.uint64(1) << np.uint64(i % 64)
        applies = np.all((self._antecedents & ~mask) == 0, axis=1)
        held = (mask[self._consequent // 64] >> (self._consequent % 64).astype(np.uint64)) & np.uint64(1)
        candidates = np.flatnonzero(applies & (held == 0))
        primary, secondary = (self._confidence, self._lift) if by == "confidence" else (self._lift, self._confidence)
        order = candidates[np.lexsort((candidates, -secondary[candidates], -primary[candidates]))]
        seen: set[int] = set()
        out: list[Suggestion] = []
        for row in order.tolist():
            item = int(self._consequent[row])
            if item in seen:
                continue
            seen.add(item)
            rule = self._rules[row]
            out.append(Suggestion(rule.consequent[0], rule.antecedent, rule.confidence, rule.lift, rule.support))
            if len(out) == limit:
                break
        return out

"""Association rules on Groceries replicated 100x: the engine against mlxtend's FP-growth.

The 9,835 Groceries baskets (guanxi/engine/tests/data/groceries.csv) are repeated `--times`
times (100: 983,500 baskets, 4.3 M items), and rules are mined at support 0.001 and confidence
0.5 (arules' published setting for this data) by

- `guanxi.engine.rules` in this process, from (basket id, item id) pairs as order lines give
  them: encoding (with identical baskets merged, the default, and without) plus mining;
- mlxtend 0.23.1 in its own venv (see bench_engine_common.py): `TransactionEncoder` to the
  one-hot DataFrame it needs, `fpgrowth`, `association_rules(metric="confidence")`.

Time is the best of `--repeat` runs without tracing; peak memory is a separate run under
`tracemalloc` (NumPy and pandas report their buffers to it), each side in a fresh process
state for that run. mlxtend returns every antecedent/consequent split; for the comparison its
rules are cut to one-item consequents, which is what arules and the engine return by default.
Targets: at least as fast, the same rules, less memory.

    python benchmarks/bench_engine_rules.py --times 100
"""

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_engine_common import run_reference
from guanxi.engine.rules import association_rules, baskets_from_pairs
from guanxi.engine.tests._data import groceries

REFERENCE = """
import time, tracemalloc
import numpy as np
import pandas as pd
from mlxtend.frequent_patterns import association_rules, fpgrowth
from mlxtend.preprocessing import TransactionEncoder

basket_ids = np.load(DATA / "basket.npy")
item_ids = np.load(DATA / "item.npy")
labels = [str(x) for x in np.load(DATA / "labels.npy")]
bounds = np.flatnonzero(np.r_[True, basket_ids[1:] != basket_ids[:-1], True])
transactions = [[labels[i] for i in item_ids[a:b]] for a, b in zip(bounds[:-1], bounds[1:])]

def mine():
    encoder = TransactionEncoder()
    onehot = pd.DataFrame(encoder.fit(transactions).transform(transactions), columns=encoder.columns_)
    itemsets = fpgrowth(onehot, min_support=OPTIONS["support"], use_colnames=True)
    return association_rules(itemsets, metric="confidence", min_threshold=OPTIONS["confidence"])

best = float("inf")
for _ in range(OPTIONS["repeat"]):
    started = time.perf_counter()
    rules = mine()
    best = min(best, time.perf_counter() - started)
tracemalloc.start()
mine()
peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
single = rules[rules["consequents"].apply(len) == 1]
print(json.dumps({
    "seconds": best,
    "peak_bytes": peak,
    "rules_all_splits": len(rules),
    "rules": sorted([sorted(a), next(iter(c))] for a, c in zip(single["antecedents"], single["consequents"])),
}))
"""


def pairs(times: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    data = groceries()
    index: dict[str, int] = {}
    basket_list: list[int] = []
    item_list: list[int] = []
    for b, contents in enumerate(data):
        for label in contents:
            basket_list.append(b)
            item_list.append(index.setdefault(label, len(index)))
    one_basket = np.array(basket_list, dtype=np.int64)
    one_item = np.array(item_list, dtype=np.int64)
    n = len(data)
    basket = (np.arange(times, dtype=np.int64)[:, None] * n + one_basket[None, :]).ravel()
    item = np.tile(one_item, times)
    return basket, item, list(index)


def measure(run: Callable[[], Any], repeat: int) -> tuple[float, int, Any]:
    best = float("inf")
    result: Any = None
    for _ in range(repeat):
        started = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - started)
    tracemalloc.start()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return best, peak, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--times", type=int, default=100)
    parser.add_argument("--support", default="0.001")
    parser.add_argument("--confidence", default="0.5")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    basket, item, labels = pairs(args.times)
    n_baskets = int(basket.max()) + 1
    print(f"{n_baskets:,} baskets, {len(item):,} items, {len(labels)} distinct", flush=True)

    def engine(deduplicate: bool) -> Callable[[], Any]:
        def run() -> Any:
            baskets = baskets_from_pairs(basket, item, labels, deduplicate=deduplicate)
            return association_rules(baskets, min_support=args.support, min_confidence=args.confidence)

        return run

    seconds, peak, rules = measure(engine(True), args.repeat)
    plain_seconds, plain_peak, plain_rules = measure(engine(False), 1)
    ours = sorted([sorted(r.antecedent), r.consequent[0]] for r in rules)
    result: dict[str, Any] = {
        "baskets": n_baskets,
        "engine": {"seconds": seconds, "peak_bytes": peak, "rules": len(rules)},
        "engine_no_dedup": {"seconds": plain_seconds, "peak_bytes": plain_peak, "rules": len(plain_rules)},
        "top_by_lift": [
            [list(r.antecedent), r.consequent[0], r.count, round(r.confidence, 7), round(r.lift, 6)] for r in rules[:3]
        ],
    }
    summary = f"engine {seconds:.2f} s, peak {peak / 2**20:.0f} MiB, {len(rules)} rules"
    summary += f" (no basket merging: {plain_seconds:.2f} s, {plain_peak / 2**20:.0f} MiB)"
    if not args.skip_reference:
        print("mining with mlxtend 0.23.1 …", flush=True)
        ref = run_reference(
            REFERENCE,
            {"basket": basket, "item": item, "labels": np.array(labels)},
            {"support": float(args.support), "confidence": float(args.confidence), "repeat": args.repeat},
        )
        same = ref["rules"] == ours
        result["mlxtend"] = {k: v for k, v in ref.items() if k != "rules"} | {"rules": len(ref["rules"])}
        result["same_rules"] = same
        result["speedup"] = ref["seconds"] / seconds
        result["speedup_no_dedup"] = ref["seconds"] / plain_seconds
        result["memory_ratio"] = peak / ref["peak_bytes"]
        result["memory_ratio_no_dedup"] = plain_peak / ref["peak_bytes"]
        summary += (
            f"; mlxtend {ref['seconds']:.2f} s, peak {ref['peak_bytes'] / 2**20:.0f} MiB, {len(ref['rules'])} rules"
            f" with one-item consequents ({ref['rules_all_splits']} in all); same rules: {same}; "
            f"speed-up {result['speedup']:.1f}x ({result['speedup_no_dedup']:.1f}x without merging)"
        )
    print(json.dumps(result, indent=2))
    print(summary)


if __name__ == "__main__":
    main()

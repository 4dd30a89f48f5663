"""Candidate duplicate pairs across the whole database, found by blocking, scored, stored.

Comparing every pair of a million people is 5·10¹¹ comparisons; instead records are grouped by
blocking keys and only records sharing a block are compared:

- people: the same normalised e-mail address, the same E.164 phone number, or a role at the same
  account together with one name word in common (the pinyin of a Chinese name counts as its
  word, so 张伟 at Acme meets "Wei Zhang" at Acme; a typo in one word leaves the other);
- accounts: the same registration number, website domain or phone.

A block larger than `MAX_BLOCK` (a shared switchboard number, a generic info@ address) is not
compared all against all: its records are sorted by name and each is compared with its next
`WINDOW` neighbours (sorted neighbourhood), so the work stays linear in the number of records.
Each candidate pair is scored by `customers.duplicates` (the same rules the forms use); pairs a
user dismissed are skipped.

The result is stored in `DuplicateCandidate`, one row per pair, replaced in one transaction at
the end of a run (readers see the old set or the new one, never half), and each run is a
`DuplicateSearch` row with its progress and figures. The duplicates page reads one page of rows
through the (target, -score, low_id, high_id) index, keeping in SQL only open pairs whose two
records the user may see.
"""

import datetime
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import combinations, groupby
from typing import Any

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from guanxi.customers import duplicates as rules
from guanxi.customers import queries
from guanxi.customers.models import Account, EmailAddress, Person, PhoneNumber, Role
from guanxi.dataio.models import CUSTOMER_TARGETS, DismissedPair, DuplicateCandidate, DuplicateSearch, JobStatus, Target
from guanxi.staff.models import User

MAX_BLOCK = 40
WINDOW = 6
FACT_BATCH = 2_000

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CandidatePair:
    low_id: int
    high_id: int
    score: int
    reasons: tuple[str, ...]


@dataclass
class FindReport:
    target: str
    pairs: list[CandidatePair] = field(default_factory=list)
    blocks: dict[str, int] = field(default_factory=dict)  # blocking key kind -> blocks
    compared: int = 0  # candidate pairs scored
    records: int = 0
    seconds: float = 0.0


def _pairs_in_block(ids: list[int], order: dict[int, str] | None = None) -> Iterator[tuple[int, int]]:
    """All pairs of a small block; sorted neighbourhood in a large one."""
    unique = sorted(set(ids))
    if len(unique) < 2:
        return
    if len(unique) <= MAX_BLOCK:
        yield from combinations(unique, 2)
        return
    ordered = sorted(unique, key=lambda pk: ((order or {}).get(pk, ""), pk))
    for index, first in enumerate(ordered):
        for second in ordered[index + 1 : index + 1 + WINDOW]:
            yield (first, second) if first < second else (second, first)


def _name_order(ids: list[int]) -> dict[int, str]:
    """A sort key per person of a large block: the name's Latin words in order."""
    keys: dict[int, str] = {}
    for start in range(0, len(ids), FACT_BATCH):
        rows = Person.objects.filter(pk__in=ids[start : start + FACT_BATCH]).values_list(
            "pk", "family_name", "given_name"
        )
        for pk, family, given in rows:
            keys[pk] = rules.name_forms(family, given).latin
    return keys


def _grouped(rows: Iterable[tuple[Any, int]]) -> Iterator[list[int]]:
    for _key, group in groupby(rows, key=lambda row: row[0]):
        yield [pk for _k, pk in group]


def _shared_value_blocks(model: type[EmailAddress] | type[PhoneNumber], column: str) -> Iterator[list[int]]:
    """People per value of `column` held by more than one person: one GROUP BY, then only those rows."""
    shared = (
        model.objects.values(column)
        .annotate(people=Count("person_id", distinct=True))
        .filter(people__gt=1)
        .values(column)
    )
    rows: QuerySet[Any, tuple[Any, int]] = (
        model.objects.filter(**{f"{column}__in": shared}).order_by(column, "person_id").values_list(column, "person_id")
    )
    yield from _grouped(rows.iterator(chunk_size=5_000))


def _account_name_blocks(progress: Progress | None) -> Iterator[list[int]]:
    """People at the same account who share a name word (pinyin for characters)."""
    rows = (
        Role.objects.order_by("account_id", "person_id")
        .values_list("account_id", "person_id", "person__family_name", "person__given_name")
        .iterator(chunk_size=5_000)
    )
    seen = 0
    for _account_id, group in groupby(rows, key=lambda row: row[0]):
        people = {pk: (family, given) for _a, pk, family, given in group}
        seen += len(people)
        if len(people) < 2:
            continue
        by_key: dict[str, list[int]] = defaultdict(list)
        for pk, (family, given) in people.items():
            for key in rules.name_forms(family, given).keys:
                by_key[key].append(pk)
        for ids in by_key.values():
            if len(ids) > 1:
                yield ids
        if progress is not None and seen % 100_000 < len(people):
            progress(f"roles read: {seen:,}")


def _dismissed(target: str) -> set[tuple[int, int]]:
    return set(DismissedPair.objects.filter(target=target).values_list("low_id", "high_id"))


def find_person_pairs(progress: Progress | None = None) -> FindReport:
    """Every likely duplicate pair of people, best first; never all pairs (see the module doc)."""
    started = time.perf_counter()
    report = FindReport(target=str(Target.PERSON))
    candidates: set[tuple[int, int]] = set()
    sources: list[tuple[str, Iterator[list[int]]]] = [
        ("email", _shared_value_blocks(EmailAddress, "address")),
        ("phone", _shared_value_blocks(PhoneNumber, "number")),
        ("account_name", _account_name_blocks(progress)),
    ]
    for kind, blocks in sources:
        count = 0
        for ids in blocks:
            count += 1
            order = _name_order(sorted(set(ids))) if len(set(ids)) > MAX_BLOCK else None
            candidates.update(_pairs_in_block(ids, order))
        report.blocks[kind] = count
        if progress is not None:
            progress(f"{kind}: {count:,} blocks, {len(candidates):,} candidate pairs so far")
    candidates -= _dismissed(report.target)
    report.compared = len(candidates)
    involved = sorted({pk for pair in candidates for pk in pair})
    report.records = len(involved)
    facts: dict[int, rules.PersonFacts] = {}
    for start in range(0, len(involved), FACT_BATCH * 10):
        facts.update(rules.load_person_facts(involved[start : start + FACT_BATCH * 10], batch_size=FACT_BATCH))
        if progress is not None:
            progress(f"facts loaded: {len(facts):,}/{len(involved):,}")
    for low, high in candidates:
        a, b = facts.get(low), facts.get(high)
        if a is None or b is None:
            continue
        scored = rules.score_people(a, b)
        if scored.is_likely:
            report.pairs.append(CandidatePair(low, high, scored.score, scored.reasons))
    report.pairs.sort(key=lambda p: (-p.score, p.low_id, p.high_id))
    report.seconds = time.perf_counter() - started
    return report


def find_account_pairs(progress: Progress | None = None) -> FindReport:
    """Every likely duplicate pair of accounts: blocks on registration number, domain and phone."""
    started = time.perf_counter()
    report = FindReport(target=str(Target.ACCOUNT))
    facts: dict[int, rules.AccountFacts] = {}
    blocks: dict[str, dict[str, list[int]]] = {"registration": {}, "domain": {}, "phone": {}}
    rows = Account.objects.order_by("pk").values_list(
        "pk", "name", "registration_number", "domain", "phone", "parent_id"
    )
    for pk, name, registration, domain, phone, parent_id in rows.iterator(chunk_size=5_000):
        item = rules.account_facts_from(pk, name, registration, domain, phone, parent_id)
        facts[pk] = item
        for kind, value in (("registration", item.registration), ("domain", item.domain), ("phone", item.phone)):
            if value:
                blocks[kind].setdefault(value, []).append(pk)
    report.records = len(facts)
    candidates: set[tuple[int, int]] = set()
    for kind, by_value in blocks.items():
        shared = [ids for ids in by_value.values() if len(ids) > 1]
        report.blocks[kind] = len(shared)
        for ids in shared:
            order = {pk: facts[pk].name for pk in ids} if len(ids) > MAX_BLOCK else None
            candidates.update(_pairs_in_block(ids, order))
    candidates -= _dismissed(report.target)
    report.compared = len(candidates)
    for low, high in candidates:
        a, b = facts[low], facts[high]
        if rules.is_parent_and_child(a, b):
            continue
        scored = rules.score_accounts(a, b)
        if scored.is_likely:
            report.pairs.append(CandidatePair(low, high, scored.score, scored.reasons))
    report.pairs.sort(key=lambda p: (-p.score, p.low_id, p.high_id))
    report.seconds = time.perf_counter() - started
    return report


# ---------------------------------------------------------------------------------------------
# The stored result: a run writes it, a page reads one keyset page of it

STORE_BATCH = 1_000
STALE_AFTER = datetime.timedelta(hours=6)  # a run "running" this long died with its worker


def mark_running(target: str, actor: User | None = None) -> tuple[DuplicateSearch, bool]:
    """A search was asked for: its row, pending until the task starts, and whether it is new.
    The last result stays on the page meanwhile. A search of `target` already waiting or
    running is returned instead of a new one (two runs would only race to write the same rows)."""
    open_run = (
        DuplicateSearch.objects.filter(
            target=target,
            status__in=[JobStatus.PENDING, JobStatus.RUNNING],
            created_at__gte=timezone.now() - STALE_AFTER,
        )
        .order_by("-id")
        .first()
    )
    if open_run is not None:
        return open_run, False
    return DuplicateSearch.objects.create(target=target, created_by=actor), True


def _replace_candidates(target: str, pairs: list[CandidatePair]) -> None:
    """The target's old pairs out, the new ones in, in the caller's transaction.

    Two runs of the same target at once would both delete the old rows and then clash on the
    new ones; locking the target's first search row makes the second wait for the first.
    """
    first_run = DuplicateSearch.objects.filter(target=target).order_by("id").values_list("pk", flat=True)[:1]
    list(DuplicateSearch.objects.select_for_update().filter(pk__in=list(first_run)))
    DuplicateCandidate.objects.filter(target=target).delete()
    now = timezone.now()
    DuplicateCandidate.objects.bulk_create(
        (
            DuplicateCandidate(
                target=target, low_id=p.low_id, high_id=p.high_id, score=p.score, reasons=list(p.reasons), found_at=now
            )
            for p in pairs
        ),
        batch_size=STORE_BATCH,
    )


def find_and_store(
    target: str, progress: Progress | None = None, *, search: DuplicateSearch | None = None
) -> FindReport:
    """Run the search for `target` and store its pairs (the task and the command call this).

    `search` is the run's row made by `mark_running` (the page's button); without one (the
    command) a row is made here. The row is updated as the run goes, outside any transaction,
    so the page shows its progress; the pairs are written in one transaction at the end.
    """
    if target not in CUSTOMER_TARGETS:
        raise ValueError(f"unknown target: {target}")
    if search is None:
        search = DuplicateSearch.objects.create(target=target)
    search.status = JobStatus.RUNNING
    search.started_at = timezone.now()
    search.save(update_fields=["status", "started_at"])
    search_pk = search.pk

    def note(text: str) -> None:
        DuplicateSearch.objects.filter(pk=search_pk).update(progress=text[:200])
        if progress is not None:
            progress(text)

    try:
        report = find_person_pairs(note) if target == Target.PERSON else find_account_pairs(note)
        with transaction.atomic():
            _replace_candidates(target, report.pairs)
            search.status = JobStatus.DONE
            search.finished_at = timezone.now()
            search.seconds = round(report.seconds, 3)
            search.compared = report.compared
            search.blocks = report.blocks
            search.pairs_found = len(report.pairs)
            search.progress = ""
            search.save()
    except Exception as exc:
        search.status = JobStatus.FAILED
        search.finished_at = timezone.now()
        search.error = str(exc)[:500]
        search.save(update_fields=["status", "finished_at", "error"])
        raise
    return report


@dataclass(frozen=True)
class SearchState:
    """What the duplicates page says about the searches: the latest run, and the latest that
    finished (the one whose pairs are listed); often the same row."""

    latest: DuplicateSearch | None
    last_done: DuplicateSearch | None

    @property
    def running(self) -> bool:
        return self.latest is not None and not self.latest.is_finished


def search_state(target: str) -> SearchState:
    """The latest run and the latest finished one, in one query."""
    runs = DuplicateSearch.objects.filter(target=target).order_by("-id").values("pk")
    rows = list(
        DuplicateSearch.objects.filter(Q(pk__in=runs[:1]) | Q(pk__in=runs.filter(status=JobStatus.DONE)[:1])).order_by(
            "-id"
        )
    )
    done = [row for row in rows if row.status == JobStatus.DONE]
    return SearchState(latest=rows[0] if rows else None, last_done=done[0] if done else None)


def forget_pair(target: str, first_id: int, second_id: int) -> None:
    """A dismissed pair leaves the list at once (the list also hides dismissed pairs)."""
    low, high = sorted((first_id, second_id))
    DuplicateCandidate.objects.filter(target=target, low_id=low, high_id=high).delete()


def forget_record(target: str, pk: int) -> None:
    """A merged-away record leaves every pair it was in; the next search pairs the survivor."""
    DuplicateCandidate.objects.filter(Q(low_id=pk) | Q(high_id=pk), target=target).delete()


def _visible(user: User, target: str) -> QuerySet[Any]:
    return queries.visible_accounts(user) if target == Target.ACCOUNT else queries.visible_people(user)


def open_candidates(user: User, target: str) -> QuerySet[DuplicateCandidate]:
    """Stored pairs of `target` that are not dismissed and whose two records `user` may see
    (a merged-away record is seen by nobody): all in SQL, best first."""
    visible = _visible(user, target)
    dismissed = DismissedPair.objects.filter(target=target, low_id=OuterRef("low_id"), high_id=OuterRef("high_id"))
    # EXISTS, not IN: SQLite would build the whole visible set (a rep's records and the pool,
    # 100,000s of ids) before the first row; EXISTS is a primary-key probe per pair walked in
    # score order, and PostgreSQL plans both as the same semi-join.
    return (
        DuplicateCandidate.objects.filter(
            Exists(visible.filter(pk=OuterRef("low_id"))),
            Exists(visible.filter(pk=OuterRef("high_id"))),
            target=target,
        )
        .exclude(Exists(dismissed))
        .order_by("-score", "low_id", "high_id")
    )


class InvalidPairCursorError(ValueError):
    """The cursor in the request is not one this server wrote."""


def _encode_cursor(candidate: DuplicateCandidate) -> str:
    return f"{candidate.score}.{candidate.low_id}.{candidate.high_id}"


def _decode_cursor(cursor: str) -> tuple[int, int, int]:
    parts = cursor.split(".")
    if len(parts) != 3 or not all(part.isascii() and part.isdigit() and len(part) <= 19 for part in parts):
        raise InvalidPairCursorError("the cursor is malformed")
    score, low, high = (int(part) for part in parts)
    return score, low, high


@dataclass(frozen=True)
class PairRow:
    """A stored pair as a user sees it: both records (the user may see both)."""

    pair: DuplicateCandidate
    first: Any  # Person or Account
    second: Any

    @property
    def reason_labels(self) -> list[str]:
        return [str(rules.REASON_LABELS[r]) for r in self.pair.reasons if r in rules.REASON_LABELS]


@dataclass(frozen=True)
class PairPage:
    rows: list[PairRow]
    next_cursor: str | None


def visible_pairs(user: User, target: str, *, cursor: str | None = None, size: int = 25) -> PairPage:
    """Up to `size` open pairs that `user` may see both sides of, after `cursor` in the order
    (score desc, low_id, high_id): a keyset seek through the score index, then one query for
    the page's records. Raises `InvalidPairCursorError` for a cursor this server did not write."""
    candidates = open_candidates(user, target)
    if cursor:
        score, low, high = _decode_cursor(cursor)
        candidates = candidates.filter(
            Q(score__lt=score) | Q(score=score, low_id__gt=low) | Q(score=score, low_id=low, high_id__gt=high)
        )
    page = list(candidates[: size + 1])
    has_more = len(page) > size
    page = page[:size]
    ids = sorted({pk for c in page for pk in (c.low_id, c.high_id)})
    records = {r.pk: r for r in _visible(user, target).filter(pk__in=ids).select_related("owner")} if ids else {}
    rows = [
        PairRow(c, records[c.low_id], records[c.high_id]) for c in page if c.low_id in records and c.high_id in records
    ]
    return PairPage(rows=rows, next_cursor=_encode_cursor(page[-1]) if has_more else None)

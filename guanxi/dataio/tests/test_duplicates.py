"""Finding likely duplicates: the name rules, one record against the database, the whole database."""

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from guanxi.customers import demo, services
from guanxi.customers import duplicates as rules
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio import duplicates
from guanxi.dataio.models import DismissedPair, DuplicateCandidate, DuplicateSearch, JobStatus
from guanxi.staff.models import User


def _similar(a: tuple[str, str], b: tuple[str, str]) -> float:
    return round(rules.name_similarity(rules.name_forms(*a), rules.name_forms(*b)), 3)


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        (("张", "晓明"), ("张", "晓明"), 1.0),
        (("张", "晓明"), ("张", "小明"), 0.95),  # a homophone from a pinyin input method
        (("李", "娜"), ("娜", "李"), 0.95),  # family and given name swapped
        (("王", "伟"), ("Wang", "Wei"), 1.0),  # pinyin for characters
        (("王", "伟"), ("Wei", "Wang"), 1.0),
        (("欧阳", "娜"), ("", "Na Ouyang"), 1.0),  # all in one field
        (("曾", "伟"), ("Zeng", "Wei"), 1.0),  # a surname's own reading
        (("吕", "伟"), ("Lv", "Wei"), 1.0),
        (("Smith", "Jonathan"), ("Smith", "Jonathon"), 0.929),  # a typo
        (("Zhang", "Wei"), ("Wei", "Zhang"), 1.0),  # word order
        (("王", "伟"), ("王", "芳"), 0.5),  # only the surname in common
        (("Smith", "Mary"), ("Smith", "John"), 0.6),
        (("王", "伟"), ("Wang", "Fei"), 0.757),
    ],
)
def test_name_similarity(first: tuple[str, str], second: tuple[str, str], expected: float) -> None:
    assert _similar(first, second) == expected
    assert _similar(second, first) == expected


def test_scores_need_more_than_a_name() -> None:
    li_na = rules.PersonFacts(1, rules.name_forms("李", "娜"), emails=frozenset({"lina@qq.example"}))
    again = rules.PersonFacts(2, rules.name_forms("Li", "Na"), emails=frozenset({"lina@qq.example"}))
    namesake = rules.PersonFacts(3, rules.name_forms("李", "娜"))
    assert rules.score_people(li_na, again) == rules.Score(90, ("name", "email"))
    assert rules.score_people(li_na, namesake) == rules.Score(40, ("name",))
    assert not rules.score_people(li_na, namesake).is_likely
    born = rules.PersonFacts(
        4, rules.name_forms("Li", "Na"), phones=frozenset({"+8613812345678"}), birthday="1990-01-01"
    )
    other = rules.PersonFacts(
        5, rules.name_forms("Li", "Na"), phones=frozenset({"+8613812345678"}), birthday="1991-01-01"
    )
    assert rules.score_people(born, other) == rules.Score(50, ("name", "phone", "other_birthday"))


def test_account_name_key_drops_the_legal_form() -> None:
    assert rules.account_name_key("上海明远科技有限公司") == "上海明远科技"
    assert rules.account_name_key("Northwind Systems Ltd.") == "northwindsystems"
    assert rules.account_name_key("Acme Company") == "acme"


# ---------------------------------------------------------------------------------------------
# One record: the forms and the import


@pytest.mark.django_db
def test_person_lookup_finds_email_phone_and_similar_name_at_the_same_company(admin_user: User) -> None:
    acme = AccountFactory.create(name="Acme", actor=admin_user)
    by_email = PersonFactory.create(family_name="李", given_name="娜", emails=["LiNa@QQ.example"], actor=admin_user)
    by_phone = PersonFactory.create(family_name="张", given_name="伟", phones=["+86 138 1234 5678"], actor=admin_user)
    at_acme = PersonFactory.create(family_name="Smith", given_name="Jonathan", actor=admin_user)
    services.add_role(admin_user, at_acme, acme, "purchaser")
    namesake = PersonFactory.create(family_name="Smith", given_name="Mary", actor=admin_user)
    services.add_role(admin_user, namesake, acme, "finance")

    found = rules.likely_duplicates_of_person(
        {"family_name": "Li", "given_name": "Na", "emails": ["lina@qq.example"]}, user=admin_user
    )
    assert [(m.record, m.score, m.reasons) for m in found] == [(by_email, 90, ("name", "email"))]
    assert found[0].reason_labels == ["same name", "same e-mail"]
    found = rules.likely_duplicates_of_person(
        {"family_name": "Zhang", "given_name": "Wei", "phones": ["13812345678"]}, user=admin_user
    )
    assert [(m.record, m.score) for m in found] == [(by_phone, 80)]
    found = rules.likely_duplicates_of_person(
        {"family_name": "Smith", "given_name": "Jonathon", "account_ids": [acme.pk]}, user=admin_user
    )
    assert [(m.record, m.score, m.reasons) for m in found] == [(at_acme, 50, ("similar_name", "account"))]
    # Editing a record does not find itself; input that does not normalise is ignored.
    assert (
        rules.likely_duplicates_of_person(
            {"family_name": "李", "given_name": "娜", "emails": ["lina@qq.example", "not an address"]},
            user=admin_user,
            exclude_id=by_email.pk,
        )
        == []
    )


@pytest.mark.django_db
def test_person_lookup_shows_only_what_the_user_may_see(rep: User, other_rep: User) -> None:
    PersonFactory.create(
        family_name="Li", given_name="Na", emails=["lina@qq.example"], owner=other_rep, actor=other_rep
    )
    data = {"family_name": "Li", "given_name": "Na", "emails": ["lina@qq.example"]}
    assert rules.likely_duplicates_of_person(data, user=rep) == []
    assert len(rules.likely_duplicates_of_person(data, user=other_rep)) == 1
    assert len(rules.likely_duplicates_of_person(data, user=None)) == 1


@pytest.mark.django_db
def test_account_lookup_by_registration_and_domain_but_not_a_branch(admin_user: User) -> None:
    group = AccountFactory.create(
        name="上海明远科技有限公司",
        website="https://www.mingyuan.example",
        registration_number="91310000123456789X",
        actor=admin_user,
    )
    branch = AccountFactory.create(
        name="上海明远科技有限公司北京分公司", website="https://mingyuan.example", parent=group, actor=admin_user
    )
    found = rules.likely_duplicates_of_account(
        {"name": "上海明远科技有限公司", "registration_number": "91310000 123456789x"}, user=admin_user
    )
    assert [(m.record, m.score, m.reasons) for m in found] == [(group, 100, ("name", "registration"))]
    found = rules.likely_duplicates_of_account(
        {"name": "上海明远科技公司", "website": "mingyuan.example"}, user=admin_user
    )
    assert [m.record for m in found] == [group]
    assert (
        rules.likely_duplicates_of_account(
            {"name": "上海明远科技有限公司北京分公司", "website": "mingyuan.example", "parent": group},
            user=admin_user,
            exclude_id=branch.pk,
        )
        == []
    )


# ---------------------------------------------------------------------------------------------
# The whole database


@pytest.mark.django_db
def test_whole_database_pairs_typos_word_order_and_pinyin_but_not_a_common_surname(admin_user: User) -> None:
    acme = AccountFactory.create(name="Acme", actor=admin_user)

    def at_acme(family: str, given: str, **kwargs: object) -> int:
        person = PersonFactory.create(family_name=family, given_name=given, actor=admin_user, **kwargs)
        services.add_role(admin_user, person, acme, "user")
        return int(person.pk)

    wang_wei, wang_fang = at_acme("王", "伟"), at_acme("王", "芳")  # a surname in common only
    typo_a, typo_b = at_acme("Smith", "Jonathan"), at_acme("Smith", "Jonathon")
    order_a, order_b = at_acme("Zhang", "Wei"), at_acme("Wei", "Zhang")
    pinyin_a = PersonFactory.create(family_name="李", given_name="娜", phones=["+8613812345678"], actor=admin_user).pk
    pinyin_b = PersonFactory.create(family_name="Li", given_name="Na", phones=["13812345678"], actor=admin_user).pk
    shared = PersonFactory.create(family_name="Brown", given_name="Tom", emails=["tb@x.example"], actor=admin_user).pk
    other = PersonFactory.create(family_name="White", given_name="Ann", emails=["tb@x.example"], actor=admin_user).pk
    report = duplicates.find_person_pairs()
    found = {(p.low_id, p.high_id): (p.score, p.reasons) for p in report.pairs}
    assert found == {
        (pinyin_a, pinyin_b): (80, ("name", "phone")),
        (typo_a, typo_b): (50, ("similar_name", "account")),
        (order_a, order_b): (60, ("name", "account")),
    }
    assert (wang_wei, wang_fang) not in found
    assert (shared, other) not in found
    assert report.blocks == {"email": 1, "phone": 1, "account_name": 4}
    DismissedPair.objects.create(target="person", low_id=typo_a, high_id=typo_b)
    assert {(p.low_id, p.high_id) for p in duplicates.find_person_pairs().pairs} == {
        (pinyin_a, pinyin_b),
        (order_a, order_b),
    }


def test_a_large_block_is_compared_by_sorted_neighbourhood(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duplicates, "MAX_BLOCK", 4)
    monkeypatch.setattr(duplicates, "WINDOW", 2)
    small = list(duplicates._pairs_in_block([3, 1, 2]))
    assert small == [(1, 2), (1, 3), (2, 3)]
    order = dict(zip(range(1, 11), "jihgfedcba", strict=True))
    pairs = list(duplicates._pairs_in_block(list(range(1, 11)), order))
    assert len(pairs) == 17  # 10 records, each with its next two by name: not 45
    assert (9, 10) in pairs
    assert (1, 10) not in pairs


@pytest.mark.django_db
def test_whole_database_account_pairs(admin_user: User) -> None:
    first = AccountFactory.create(name="Northwind Systems Ltd", registration_number="12-3456789", actor=admin_user)
    second = AccountFactory.create(name="Northwind Systems", registration_number="123456789", actor=admin_user)
    group = AccountFactory.create(name="Harbor Group", website="https://harbor.example", actor=admin_user)
    AccountFactory.create(name="Harbor Group (Leeds)", website="https://harbor.example", parent=group, actor=admin_user)
    report = duplicates.find_account_pairs()
    assert [(p.low_id, p.high_id, p.score, p.reasons) for p in report.pairs] == [
        (first.pk, second.pk, 100, ("name", "registration"))
    ]


@pytest.mark.django_db
def test_seeded_demo_duplicates_are_found(admin_user: User) -> None:
    reference = demo.ensure_reference_data(demo.SIZES["small"], "pw")
    generator = demo.DemoGenerator(
        connection, reference, accounts=60, people=1500, seed=5, duplicate_share=0.03,
        today=datetime.date(2026, 1, 1),
    )  # fmt: skip
    for chunk in generator.chunks():
        demo.write_chunk(chunk)
    seeded = {(min(a, b), max(a, b)): variant for a, b, variant in generator.seeded_duplicates}
    assert len(seeded) >= 30
    assert set(seeded.values()) == {"typo", "swapped", "pinyin", "homophone", "same_name"}
    proposed = {(p.low_id, p.high_id) for p in duplicates.find_person_pairs().pairs}
    assert set(seeded) <= proposed
    assert len(proposed - set(seeded)) <= len(seeded) // 10


def _stored(target: str = "person") -> list[tuple[int, int, int, list[str]]]:
    return list(
        DuplicateCandidate.objects.filter(target=target)
        .order_by("-score", "low_id", "high_id")
        .values_list("low_id", "high_id", "score", "reasons")
    )


@pytest.mark.django_db
def test_find_and_store_replaces_the_targets_pairs_and_records_the_run(admin_user: User) -> None:
    a = PersonFactory.create(family_name="Li", given_name="Na", emails=["lina@qq.example"], actor=admin_user)
    b = PersonFactory.create(family_name="李", given_name="娜", emails=["lina@qq.example"], actor=admin_user)
    old = DuplicateCandidate.objects.create(target="person", low_id=1, high_id=2, score=60, found_at=timezone.now())
    account_pair = DuplicateCandidate.objects.create(
        target="account", low_id=1, high_id=2, score=100, found_at=timezone.now()
    )
    lines: list[str] = []
    report = duplicates.find_and_store("person", lines.append)
    assert report.pairs == [duplicates.CandidatePair(a.pk, b.pk, 90, ("name", "email"))]
    assert _stored() == [(a.pk, b.pk, 90, ["name", "email"])]
    assert not DuplicateCandidate.objects.filter(pk=old.pk).exists()
    assert DuplicateCandidate.objects.filter(pk=account_pair.pk).exists()  # another target's pairs stay
    search = DuplicateSearch.objects.get()
    assert (search.target, search.status, search.pairs_found, search.compared, search.created_by) == (
        "person",
        JobStatus.DONE,
        1,
        1,
        None,
    )
    assert search.blocks == {"email": 1, "phone": 0, "account_name": 0}
    assert search.started_at is not None
    assert search.finished_at is not None
    assert search.progress == ""
    assert lines[0] == "email: 1 blocks, 1 candidate pairs so far"
    state = duplicates.search_state("person")
    assert (state.latest, state.last_done, state.running) == (search, search, False)


@pytest.mark.django_db
def test_a_failed_search_keeps_the_previous_pairs(admin_user: User, monkeypatch: pytest.MonkeyPatch) -> None:
    a = PersonFactory.create(family_name="Li", given_name="Na", emails=["lina@qq.example"], actor=admin_user)
    b = PersonFactory.create(family_name="李", given_name="娜", emails=["lina@qq.example"], actor=admin_user)
    done = duplicates.search_state("person").last_done
    assert done is None
    duplicates.find_and_store("person")

    def broken(rows: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    # The write fails half way: the transaction puts the old pairs back.
    monkeypatch.setattr(DuplicateCandidate.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        duplicates.find_and_store("person")
    assert _stored() == [(a.pk, b.pk, 90, ["name", "email"])]
    state = duplicates.search_state("person")
    assert state.latest is not None
    assert state.last_done is not None
    assert (state.latest.status, state.latest.error, state.last_done.status) == ("failed", "disk full", "done")
    assert state.last_done.pk < state.latest.pk


@pytest.mark.django_db
def test_a_search_asked_for_twice_runs_once(admin_user: User) -> None:
    first, created = duplicates.mark_running("person", admin_user)
    assert created
    again, created = duplicates.mark_running("person", admin_user)
    assert (again, created) == (first, False)
    assert duplicates.mark_running("account", admin_user)[1]
    duplicates.find_and_store("person", search=first)
    first.refresh_from_db()
    assert (first.status, first.created_by) == ("done", admin_user)
    assert duplicates.mark_running("person", admin_user)[1]


def _candidates(*pairs: tuple[int, int, int]) -> None:
    DuplicateCandidate.objects.bulk_create(
        DuplicateCandidate(target="person", low_id=low, high_id=high, score=score, found_at=timezone.now())
        for low, high, score in pairs
    )


@pytest.mark.django_db
def test_pairs_page_by_score_then_ids_skipping_hidden_and_dismissed(rep: User, other_rep: User) -> None:
    mine = [PersonFactory.create(owner=rep, actor=rep).pk for _ in range(5)]
    theirs = PersonFactory.create(owner=other_rep, actor=other_rep).pk
    a, b, c, d, e = mine
    _candidates((a, b, 60), (a, c, 90), (b, c, 90), (c, d, 70), (a, theirs, 95), (d, e, 50), (b, d, 80))
    DismissedPair.objects.create(target="person", low_id=b, high_id=d)
    seen: list[tuple[int, int, int]] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = duplicates.visible_pairs(rep, "person", cursor=cursor, size=2)
        pages += 1
        seen.extend((row.first.pk, row.second.pk, row.pair.score) for row in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [(a, c, 90), (b, c, 90), (c, d, 70), (a, b, 60), (d, e, 50)]
    assert pages == 3
    assert duplicates.open_candidates(other_rep, "person").count() == 0
    for bad in ("x", "1.2", "1.2.x", "-1.2.3", "１.2.3"):
        with pytest.raises(duplicates.InvalidPairCursorError):
            duplicates.visible_pairs(rep, "person", cursor=bad)

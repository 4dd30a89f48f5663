import random

import phonenumbers
import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import connection

from guanxi.core.models import ChangeRecord
from guanxi.core.names import has_cjk
from guanxi.customers import demo, queries, services
from guanxi.customers.models import (
    Account,
    EmailAddress,
    LifecycleChange,
    Person,
    PhoneNumber,
    Relationship,
    RelationshipKind,
    Role,
    RoleKind,
    SearchTerm,
)
from guanxi.customers.normalise import normalise_email
from guanxi.staff.models import StaffRole, User

pytestmark = pytest.mark.django_db

SERVE_LOGINS = ("admin", "manager", "rep1", "rep2", "agent", "marketer", "analyst")


def _load(**options: object) -> None:
    call_command("demo_data", accounts=20, people=200, password="demo-pass-1", verbosity=0, **options)


def _is_e164(number: str) -> bool:
    parsed = phonenumbers.parse(number, None)
    valid = phonenumbers.is_valid_number(parsed)
    return valid and phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number


def test_demo_staff_log_in_with_the_given_password() -> None:
    _load()
    for username in SERVE_LOGINS:
        assert authenticate(username=username, password="demo-pass-1") is not None, username
    assert User.objects.get(username="admin").role == StaffRole.ADMIN
    assert User.objects.get(username="manager").managed_teams.exists()
    assert User.objects.get(username="agent").role == StaffRole.SERVICE_AGENT
    assert User.objects.filter(language="zh-hans").exists()


def test_contacts_are_valid_and_normalised() -> None:
    _load()
    phones = list(PhoneNumber.objects.values_list("number", flat=True))
    phones += [p for p in Account.objects.values_list("phone", flat=True) if p]
    assert phones
    assert [n for n in phones if not _is_e164(n)] == []
    emails = list(EmailAddress.objects.values_list("address", flat=True))
    assert emails
    assert [a for a in emails if normalise_email(a) != a] == []
    assert all(a.rsplit("@", 1)[1].endswith(".example") or "@example." in a for a in emails)


def test_every_number_shape_the_generator_makes_is_valid() -> None:
    reference = demo.Reference(admin_id=1, owners=[(1, None)], team_ids=[], tag_ids={}, attribute_keys=set())
    generator = demo.DemoGenerator(connection, reference, accounts=0, people=0, seed=3)
    numbers = [generator.cn_mobile() for _ in range(500)] + [generator.west_mobile() for _ in range(300)]
    numbers += [generator.cn_landline(city) for city in demo.CN_CITIES for _ in range(10)]
    numbers += [generator.west_landline(city) for city in demo.WEST_CITIES for _ in range(10)]
    assert [n for n in numbers if not _is_e164(n)] == []
    assert {n[:6] for n in numbers if n.startswith("+861")} >= {"+86" + p for p in demo.CN_MOBILE_PREFIXES[:5]}


def test_search_finds_demo_people_by_two_chinese_characters_and_last_phone_digits() -> None:
    _load()
    people = list(Person.objects.filter(phones__isnull=False).distinct().order_by("pk"))
    chinese = [p for p in people if has_cjk(p.full_name) and len(p.full_name) >= 3]
    assert chinese
    rng = random.Random(5)  # noqa: S311  -- picks test samples
    for person in rng.sample(chinese, 5):
        pair = person.full_name[1:3]
        assert person in queries.search_people(Person.objects.all(), pair), pair
        number = person.phones.first()
        assert number is not None
        assert person in queries.search_people(Person.objects.all(), number.number[-4:])
    account = Account.objects.exclude(phone="").first()
    assert account is not None
    assert account in queries.search_accounts(Account.objects.all(), account.name[2:4])


def test_search_keys_are_the_ones_the_services_build() -> None:
    _load()
    for person in Person.objects.order_by("pk")[:30]:
        stored = set(SearchTerm.objects.filter(person=person).values_list("term", flat=True))
        expected = services.person_search_terms(
            person.family_name,
            person.given_name,
            person.emails.values_list("address", flat=True),
            person.phones.values_list("number", flat=True),
        )
        assert stored == expected
    for account in Account.objects.order_by("pk")[:30]:
        stored = set(SearchTerm.objects.filter(account=account).values_list("term", flat=True))
        assert stored == services.account_search_terms(
            account.name, account.domain, account.registration_number, account.phone
        )


def test_records_have_a_first_stage_roles_relationships_and_no_history() -> None:
    _load()
    assert LifecycleChange.objects.filter(person__isnull=False).count() == Person.objects.count() == 200
    assert LifecycleChange.objects.filter(account__isnull=False).count() == Account.objects.count() == 20
    assert Role.objects.filter(kind=RoleKind.USER).exists()
    assert Role.objects.filter(kind__in=[RoleKind.PURCHASER, RoleKind.DECISION_MAKER]).exists()
    assert Person.objects.filter(roles__isnull=True).exists()  # consumers with no account
    assert Relationship.objects.filter(kind=RelationshipKind.REFERRED_BY).exists()
    assert Person.objects.filter(owner__isnull=True).exists()  # the shared pool
    assert ChangeRecord.objects.count() == 0


def test_services_keep_working_after_explicit_ids() -> None:
    _load()
    admin = User.objects.get(username="admin")
    person = services.create_person(admin, {"family_name": "欧阳", "given_name": "娜娜"}, phones=["13812345678"])
    account = services.create_account(admin, {"name": "上海明远科技有限公司"})
    assert person.pk > 200
    assert account.pk > 20


def test_refuses_to_run_twice_without_force_and_adds_with_force() -> None:
    _load()
    with pytest.raises(CommandError, match="--force"):
        _load()
    assert Person.objects.count() == 200
    _load(force=True, seed=2)
    assert Person.objects.count() == 400
    assert Account.objects.count() == 40
    assert User.objects.filter(username="admin").count() == 1


def test_same_seed_same_rows() -> None:
    reference = demo.Reference(admin_id=1, owners=[(1, None), (2, None)], team_ids=[], tag_ids={}, attribute_keys=set())

    def rows() -> list[tuple[object, ...]]:
        generator = demo.DemoGenerator(connection, reference, accounts=30, people=100, seed=9)
        result: list[tuple[object, ...]] = []
        for chunk in generator.chunks():
            for table, table_rows in chunk.tables:
                if table.model in (Person, Account, EmailAddress, PhoneNumber, SearchTerm):
                    result.extend(row[:4] for row in table_rows)
        return result

    assert rows() == rows()

"""Exported files import again: export → delete → import through the import service → same records."""

import datetime
import io
from pathlib import Path
from typing import Any

import pytest

from guanxi.core.models import AttributeDefinition
from guanxi.customers import services
from guanxi.customers.models import Account, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import JobStatus
from guanxi.dataio.services import exporting, importing
from guanxi.dataio.services.exporting import ExportSpec
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def _person_state(person: Person) -> dict[str, Any]:
    return {
        "name": (person.family_name, person.given_name),
        "emails": [e.address for e in person.emails.all()],
        "phones": sorted((p.number, p.kind) for p in person.phones.all()),
        "tags": sorted(t.name for t in person.tags.all()),
        "stage": person.lifecycle_stage,
        "owner": person.owner.username if person.owner else None,
        "notes": person.notes,
        "birthday": person.birthday,
        "channel": person.preferred_channel,
        "attributes": person.attributes,
        "accounts": sorted(r.account.name for r in person.roles.all()),
    }


def _account_state(account: Account) -> dict[str, Any]:
    address = account.addresses.first()
    return {
        "name": account.name,
        "kind": account.kind,
        "segment": account.market_segment,
        "grade": account.grade,
        "website": account.website,
        "regno": account.registration_number,
        "phone": account.phone,
        "tags": sorted(t.name for t in account.tags.all()),
        "stage": account.lifecycle_stage,
        "owner": account.owner.username if account.owner else None,
        "notes": account.notes,
        "address": (address.line1, address.city, address.postal_code, address.country) if address else None,
    }


def _reimport(admin: User, data: bytes, file_name: str, target: str) -> None:
    job = importing.start_import(admin, io.BytesIO(data), file_name, target)
    job = importing.set_mapping(admin, job, job.mapping, "all_or_nothing", "skip")
    job = importing.run_import(job.pk, dry_run=False)
    assert job.status == JobStatus.DONE, (job.error, list(job.problems.values_list("column", "reason")))
    assert job.rejected_count == 0


@pytest.mark.parametrize("file_format", ["csv", "xlsx"])
def test_people_round_trip(rep: User, admin_user: User, settings: Any, tmp_path: Path, file_format: str) -> None:
    settings.DATA_DIR = tmp_path
    AttributeDefinition.objects.create(target="person", key="shoe_size", label="Shoe size", data_type="number")
    company = AccountFactory.create(actor=rep, name="上海星云科技有限公司")
    person = PersonFactory.create(
        actor=rep,
        family_name="诸葛",
        given_name="明亮",
        birthday=datetime.date(1990, 5, 1),
        preferred_channel="wechat",
        notes='=HYPERLINK("http://evil.example","click")',
        emails=["liang@example.cn"],
        phones=["13812345678", {"number": "+86 21 5000 1234", "kind": "work"}],
        tags=["华东", "VIP"],
        attributes={"shoe_size": 42},
        lifecycle_stage="active",
    )
    services.add_role(rep, person, company, "purchaser", job_title="采购经理")
    PersonFactory.create(actor=rep, family_name="Smith", given_name="Anna", emails=["anna@example.com"])
    before = sorted((_person_state(p) for p in Person.objects.all()), key=lambda s: s["name"])

    stream = io.BytesIO()
    exporting.write_export(rep, ExportSpec("person", language="en"), file_format, stream)
    Person.objects.all().delete()
    _reimport(admin_user, stream.getvalue(), f"people.{file_format}", "person")

    after = sorted((_person_state(p) for p in Person.objects.all()), key=lambda s: s["name"])
    assert after == before


def test_accounts_round_trip(rep: User, admin_user: User, settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    AccountFactory.create(
        actor=rep,
        name="上海星云科技有限公司",
        kind="distributor",
        market_segment="enterprise",
        grade="A",
        website="https://xingyun.example.cn",
        registration_number="91310000MA1FL0000X",
        phone="+862150001234",
        tags=["重点"],
        addresses=[{"line1": "长安街1号", "city": "北京", "postal_code": "100000", "country": "CN"}],
        notes="-1 day, +2 weeks",
        lifecycle_stage="loyal",
    )
    before = [_account_state(a) for a in Account.objects.all()]
    stream = io.BytesIO()
    exporting.write_export(rep, ExportSpec("account", language="en"), "csv", stream)
    Account.objects.all().delete()
    _reimport(admin_user, stream.getvalue(), "accounts.csv", "account")
    assert [_account_state(a) for a in Account.objects.all()] == before

"""The export service: visibility, the list filters, exact columns, batches, jobs, cancel, clean-up."""

import csv
import datetime
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from openpyxl import load_workbook

from guanxi.core.models import AttributeDefinition
from guanxi.customers import queries, services
from guanxi.customers.models import Account, Person
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import ExportJob, JobStatus
from guanxi.dataio.services import exporting
from guanxi.dataio.services.exporting import ExportSpec, InlineExport
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

PERSON_HEADERS = [
    "ID",
    "Name",
    "Family name",
    "Given name",
    "E-mail",
    "Mobile",
    "Phone",
    "Home phone",
    "Other phone",
    "Account",
    "Job title",
    "Lifecycle stage",
    "Owner",
    "Tags",
    "Birthday",
    "Preferred language",
    "Preferred channel",
    "Source",
    "What they prefer",
    "Why they buy",
    "Notes",
    "Created",
    "Updated",
]
ACCOUNT_HEADERS = [
    "ID",
    "Name",
    "Kind",
    "Organisation type",
    "Industry",
    "Market segment",
    "Grade",
    "Parent account",
    "Website",
    "Registration number",
    "Phone",
    "Status",
    "Source",
    "Lifecycle stage",
    "Owner",
    "Team",
    "Tags",
    "Address line 1",
    "City",
    "Province / state",
    "Postal code",
    "Country",
    "Notes",
    "Created",
    "Updated",
]


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def export_rows(user: User, target: str = "person", file_format: str = "csv", **spec: Any) -> list[list[str]]:
    stream = io.BytesIO()
    exporting.write_export(user, ExportSpec(target, language="en", **spec), file_format, stream)
    return read_csv(stream.getvalue())


def names(user: User, target: str = "person", **spec: Any) -> list[str]:
    return [row[1] for row in export_rows(user, target, **spec)[1:]]


def local(value: datetime.datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------------------------------
# Visibility


@pytest.fixture
def people(admin_user: User, rep: User, other_rep: User, outside_rep: User, manager: User) -> dict[str, Person]:
    return {
        "mine": PersonFactory.create(actor=rep, family_name="Mine", given_name="A"),
        "pool": PersonFactory.create(actor=admin_user, family_name="Pool", given_name="B"),
        "team": PersonFactory.create(actor=other_rep, family_name="Team", given_name="C"),
        "outside": PersonFactory.create(actor=outside_rep, family_name="Outside", given_name="D"),
        "managers": PersonFactory.create(actor=manager, family_name="Boss", given_name="E"),
    }


def test_rep_exports_own_and_pool_only(rep: User, people: dict[str, Person]) -> None:
    assert names(rep) == ["A Mine", "B Pool"]


def test_manager_exports_team_and_pool(manager: User, people: dict[str, Person]) -> None:
    assert names(manager) == ["A Mine", "B Pool", "C Team", "E Boss"]


def test_admin_exports_everything(admin_user: User, people: dict[str, Person]) -> None:
    assert names(admin_user) == ["A Mine", "B Pool", "C Team", "D Outside", "E Boss"]


def test_accounts_follow_the_same_rules(rep: User, other_rep: User, admin_user: User) -> None:
    AccountFactory.create(actor=rep, name="Mine Co")
    AccountFactory.create(actor=admin_user, name="Pool Co")
    AccountFactory.create(actor=other_rep, name="Their Co")
    assert names(rep, "account") == ["Mine Co", "Pool Co"]
    assert names(admin_user, "account") == ["Mine Co", "Pool Co", "Their Co"]


def test_roles_and_parents_the_exporter_may_not_see_stay_hidden(rep: User, other_rep: User, admin_user: User) -> None:
    hidden = AccountFactory.create(actor=other_rep, name="Hidden Parent Co")
    seen = AccountFactory.create(actor=admin_user, name="Pool Co")
    child = AccountFactory.create(actor=rep, name="Child Co")
    services.update_account(admin_user, child, {"parent": hidden})
    pooled = PersonFactory.create(actor=admin_user, family_name="Wang", given_name="Fang")
    services.add_role(admin_user, pooled, hidden, "purchaser", job_title="Secret title")
    services.add_role(admin_user, pooled, seen, "user", job_title="Buyer")

    person_row = export_rows(rep)[1]
    assert person_row[9:11] == ["Pool Co", "Buyer"]
    account_rows = {row[1]: row for row in export_rows(rep, "account")[1:]}
    assert set(account_rows) == {"Child Co", "Pool Co"}
    assert account_rows["Child Co"][7] == ""  # the parent is not the rep's to see
    assert {row[1]: row[7] for row in export_rows(admin_user, "account")[1:]}["Child Co"] == "Hidden Parent Co"


def test_inactive_or_anonymous_users_may_not_export(rep: User) -> None:
    rep.is_active = False
    with pytest.raises(PermissionDenied):
        exporting.start_export(rep, ExportSpec("person"), "csv")


def test_unknown_target_or_format_is_refused(rep: User) -> None:
    with pytest.raises(ValidationError) as excinfo:
        exporting.start_export(rep, ExportSpec("order"), "pdf")
    assert set(excinfo.value.message_dict) == {"target", "file_format"}


# ---------------------------------------------------------------------------------------------
# Filters mean what they mean on the lists


def test_filters_tag_stage_search_owner_attribute_and_sort(rep: User, admin_user: User) -> None:
    AttributeDefinition.objects.create(target="person", key="city", label="City", data_type="text")
    PersonFactory.create(actor=rep, family_name="诸葛", given_name="明亮", tags=["VIP"], attributes={"city": "上海"})
    PersonFactory.create(actor=rep, family_name="张", given_name="伟", tags=["VIP"], lifecycle_stage="active")
    PersonFactory.create(actor=rep, family_name="李", given_name="娜", lifecycle_stage="active")
    PersonFactory.create(actor=admin_user, family_name="王", given_name="芳", tags=["VIP"])

    def with_filters(**kwargs: Any) -> list[str]:
        return names(rep, filters=queries.PartyFilters(**kwargs))

    assert with_filters(tag="VIP") == ["张伟", "王芳", "诸葛明亮"]
    assert with_filters(stage="active") == ["张伟", "李娜"]
    assert with_filters(tag="VIP", stage="active") == ["张伟"]
    assert with_filters(q="葛亮") == ["诸葛明亮"]
    assert with_filters(owner="pool") == ["王芳"]
    assert with_filters(owner="me", tag="VIP") == ["张伟", "诸葛明亮"]
    assert with_filters(attributes={"city": "上海"}) == ["诸葛明亮"]
    assert with_filters(tag="no such tag") == []
    ordered = names(rep, filters=queries.PartyFilters(tag="VIP"), ordering="-full_name")
    assert ordered == ["诸葛明亮", "王芳", "张伟"]


def test_account_filters(rep: User) -> None:
    AccountFactory.create(actor=rep, name="Big Co", market_segment="enterprise", kind="distributor")
    AccountFactory.create(actor=rep, name="Small Co", market_segment="small_business")
    assert names(rep, "account", filters=queries.PartyFilters(market_segment="enterprise")) == ["Big Co"]
    assert names(rep, "account", filters=queries.PartyFilters(kind="customer")) == ["Small Co"]
    assert names(rep, "account", filters=queries.PartyFilters(q="Small")) == ["Small Co"]


# ---------------------------------------------------------------------------------------------
# Exact content


@pytest.fixture
def zhuge(rep: User, admin_user: User) -> Person:
    AttributeDefinition.objects.create(target="person", key="shoe_size", label="Shoe size", data_type="number")
    AttributeDefinition.objects.create(target="person", key="city", label="City", data_type="text", position=1)
    account = AccountFactory.create(actor=rep, name="上海星云科技有限公司")
    person = PersonFactory.create(
        actor=rep,
        family_name="诸葛",
        given_name="明亮",
        birthday=datetime.date(1990, 5, 1),
        preferred_channel="wechat",
        source="referral",
        notes='=HYPERLINK("http://evil.example","click")',
        emails=[{"address": "Liang@Example.cn", "is_primary": True}, {"address": "ml@example.com", "kind": "personal"}],
        phones=["13812345678", {"number": "+86 21 5000 1234", "kind": "work"}],
        tags=["华东", "VIP"],
        attributes={"shoe_size": 42, "city": "上海"},
        lifecycle_stage="active",
    )
    services.add_role(rep, person, account, "purchaser", job_title="采购经理")
    person.refresh_from_db()
    return person


def test_person_csv_row_exact(rep: User, zhuge: Person) -> None:
    rows = export_rows(rep)
    assert rows[0] == [*PERSON_HEADERS, "Shoe size", "City"]
    assert rows[1] == [
        str(zhuge.pk),
        "诸葛明亮",
        "诸葛",
        "明亮",
        "liang@example.cn; ml@example.com",
        "+8613812345678",
        "+862150001234",
        "",
        "",
        "上海星云科技有限公司",
        "采购经理",
        "Active",
        "rep",
        "VIP; 华东",
        "1990-05-01",
        "",
        "WeChat",
        "Referral",
        "",
        "",
        '\'=HYPERLINK("http://evil.example","click")',
        local(zhuge.created_at),
        local(zhuge.updated_at),
        "42",
        "上海",
    ]
    assert len(rows) == 2


def test_person_xlsx_row_exact(rep: User, zhuge: Person) -> None:
    stream = io.BytesIO()
    exporting.write_export(rep, ExportSpec("person", language="en"), "xlsx", stream)
    sheet = load_workbook(io.BytesIO(stream.getvalue())).active
    assert sheet is not None
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert rows[0] == [*PERSON_HEADERS, "Shoe size", "City"]
    assert rows[1][:4] == [zhuge.pk, "诸葛明亮", "诸葛", "明亮"]
    assert rows[1][20] == '=HYPERLINK("http://evil.example","click")'  # a string cell: shown, never run
    assert sheet.cell(row=2, column=21).data_type == "s"
    assert rows[1][-2:] == [42, "上海"]
    assert rows[1][13] == "VIP; 华东"


def test_person_vcard_exact(rep: User, zhuge: Person) -> None:
    stream = io.BytesIO()
    exporting.write_export(rep, ExportSpec("person", language="en"), "vcard", stream)
    assert stream.getvalue().decode() == (
        "BEGIN:VCARD\r\n"
        "VERSION:3.0\r\n"
        f"UID:guanxi-person-{zhuge.pk}\r\n"
        "BDAY:1990-05-01\r\n"
        "CATEGORIES:VIP,华东\r\n"
        "EMAIL;TYPE=INTERNET,WORK,pref:liang@example.cn\r\n"
        "EMAIL;TYPE=INTERNET,HOME:ml@example.com\r\n"
        "FN:诸葛明亮\r\n"
        "N:诸葛;明亮;;;\r\n"
        'NOTE:=HYPERLINK("http://evil.example"\\,"click")\r\n'
        "ORG:上海星云科技有限公司\r\n"
        "TEL;TYPE=CELL,pref:+8613812345678\r\n"
        "TEL;TYPE=WORK:+862150001234\r\n"
        "TITLE:采购经理\r\n"
        "END:VCARD\r\n"
    )


def test_account_rows_and_org_cards_exact(rep: User, admin_user: User) -> None:
    parent = AccountFactory.create(actor=rep, name="星云集团")
    account = AccountFactory.create(
        actor=rep,
        name="上海星云科技有限公司",
        kind="distributor",
        industry="软件",
        market_segment="enterprise",
        grade="A",
        parent=parent,
        website="https://xingyun.example.cn",
        registration_number="91310000MA1FL0000X",
        phone="+862150001234",
        tags=["重点"],
        addresses=[{"line1": "长安街1号", "city": "北京", "postal_code": "100000", "country": "cn"}],
        notes="@admin please check",
    )
    rows = export_rows(rep, "account")
    assert rows[0] == ACCOUNT_HEADERS
    assert rows[1] == [
        str(account.pk),
        "上海星云科技有限公司",
        "Distributor",
        "Company",
        "软件",
        "Enterprise",
        "A",
        "星云集团",
        "https://xingyun.example.cn",
        "91310000MA1FL0000X",
        "+862150001234",
        "Active",
        "",
        "Prospect",
        "rep",
        "",
        "重点",
        "长安街1号",
        "北京",
        "",
        "100000",
        "CN",
        "'@admin please check",
        local(account.created_at),
        local(account.updated_at),
    ]
    stream = io.BytesIO()
    exporting.write_export(rep, ExportSpec("account", language="en"), "vcard", stream)
    cards = stream.getvalue().decode().split("END:VCARD\r\n")
    assert cards[0] == (
        "BEGIN:VCARD\r\n"
        "VERSION:3.0\r\n"
        f"UID:guanxi-account-{account.pk}\r\n"
        "ADR;TYPE=WORK:;;长安街1号;北京;;100000;CN\r\n"
        "CATEGORIES:重点\r\n"
        "FN:上海星云科技有限公司\r\n"
        "N:;;;;\r\n"
        "NOTE:@admin please check\r\n"
        "ORG:上海星云科技有限公司\r\n"
        "TEL;TYPE=WORK,pref:+862150001234\r\n"
        "URL:https://xingyun.example.cn\r\n"
        "X-ABSHOWAS:COMPANY\r\n"
    )
    assert len(cards) == 3  # two cards and the empty tail


# ---------------------------------------------------------------------------------------------
# Cost: queries grow per batch, never per row


def _count_queries(run: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        run()
    return len(captured.captured_queries)


@pytest.mark.parametrize(("target", "file_format"), [("person", "csv"), ("person", "vcard"), ("account", "xlsx")])
def test_query_count_does_not_grow_per_row(rep: User, settings: Any, target: str, file_format: str) -> None:
    settings.EXPORT_BATCH_SIZE = 100
    account = AccountFactory.create(actor=rep, name="Parent Co")

    def make(count: int) -> None:
        for _ in range(count):
            if target == "person":
                person = PersonFactory.create(actor=rep, emails=[f"p{Person.objects.count()}@example.cn"], tags=["t"])
                services.add_role(rep, person, account, "user")
            else:
                AccountFactory.create(actor=rep, parent=account, tags=["t"], addresses=[{"line1": "x"}])

    def export() -> None:
        user = User.objects.get(pk=rep.pk)  # a fresh user: no memoised team ids
        exporting.write_export(user, ExportSpec(target, language="en"), file_format, io.BytesIO())

    make(2)
    few = _count_queries(export)
    make(10)
    many = _count_queries(export)
    assert few == many
    assert few <= 8


def test_batches_add_a_fixed_number_of_queries(rep: User, settings: Any) -> None:
    for index in range(6):
        PersonFactory.create(actor=rep, family_name=f"P{index}", emails=[f"p{index}@example.cn"])
    settings.EXPORT_BATCH_SIZE = 6
    one_batch = _count_queries(lambda: export_rows(User.objects.get(pk=rep.pk)))
    settings.EXPORT_BATCH_SIZE = 2
    three_batches = _count_queries(lambda: export_rows(User.objects.get(pk=rep.pk)))
    assert three_batches - one_batch == 2 * 5  # rows, tags, e-mails, phones, roles per extra batch
    assert len(export_rows(rep)) == 7


# ---------------------------------------------------------------------------------------------
# Small lists at once, large ones as a job


def test_small_list_is_written_at_once(rep: User, settings: Any) -> None:
    settings.EXPORT_INLINE_LIMIT = 3
    for index in range(3):
        PersonFactory.create(actor=rep, family_name=f"P{index}")
    result = exporting.start_export(rep, ExportSpec("person", language="en"), "csv")
    assert isinstance(result, InlineExport)
    assert result.rows == 3
    assert result.file_name == f"people-{timezone.localdate().isoformat()}.csv"
    assert result.content_type == "text/csv; charset=utf-8"
    assert [row[1] for row in read_csv(result.file.read())[1:]] == ["Alex P0", "Alex P1", "Alex P2"]
    assert not ExportJob.objects.exists()


def test_large_list_becomes_a_background_job(
    rep: User,
    admin_user: User,
    settings: Any,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.DATA_DIR = tmp_path
    settings.EXPORT_INLINE_LIMIT = 2
    settings.EXPORT_BATCH_SIZE = 2
    for index in range(5):
        PersonFactory.create(actor=rep, family_name=f"P{index}", tags=["VIP"] if index != 2 else [])
    PersonFactory.create(actor=admin_user, family_name="Pooled")  # visible to the rep, but not tagged
    spec = ExportSpec("person", filters=queries.PartyFilters(tag="VIP"), ordering="-full_name")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        job = exporting.start_export(rep, spec, "xlsx")
    assert isinstance(job, ExportJob)
    assert len(callbacks) == 1  # queued after commit; the test settings run tasks at once
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    assert (job.total, job.processed, job.percent) == (4, 4, 100)
    assert job.filters["tag"] == "VIP"
    assert job.filters["ordering"] == "-full_name"
    assert job.file_name == f"people-{timezone.localdate().isoformat()}.xlsx"
    assert job.stored_path.startswith("exports/")
    path = exporting.export_file(rep, job)
    assert path is not None
    assert path.parent == tmp_path / "exports"
    sheet = load_workbook(path).active
    assert sheet is not None
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == ["Alex P4", "Alex P3", "Alex P1", "Alex P0"]
    assert sorted(p.name for p in (tmp_path / "exports").iterdir()) == [Path(job.stored_path).name]
    assert job.started_at is not None
    assert job.finished_at is not None

    assert exporting.run_export(job.pk).status == JobStatus.DONE  # a retry leaves a finished job alone
    assert len(list((tmp_path / "exports").iterdir())) == 1


def test_job_runs_as_its_creator_sees_things_now(rep: User, other_rep: User, settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    PersonFactory.create(actor=rep, family_name="Mine")
    PersonFactory.create(actor=other_rep, family_name="Theirs")
    job = ExportJob.objects.create(created_by=rep, target="person", file_format="csv", filters={"owner": ""})
    job = exporting.run_export(job.pk)
    path = exporting.export_file(rep, job)
    assert path is not None
    assert [row[1] for row in read_csv(path.read_bytes())[1:]] == ["Alex Mine"]


# ---------------------------------------------------------------------------------------------
# Cancel, failure, download rights, clean-up


def test_cancel_a_waiting_job(rep: User, other_rep: User, admin_user: User, tmp_path: Path, settings: Any) -> None:
    settings.DATA_DIR = tmp_path
    job = ExportJob.objects.create(created_by=rep, target="person", file_format="csv")
    with pytest.raises(PermissionDenied):
        exporting.cancel_export(other_rep, job)
    job = exporting.cancel_export(rep, job)
    assert (job.status, job.cancel_requested) == (JobStatus.CANCELLED, True)
    assert job.finished_at is not None
    assert exporting.run_export(job.pk).status == JobStatus.CANCELLED  # the queued task finds it cancelled
    assert not (tmp_path / "exports").exists()
    with pytest.raises(ValidationError):
        exporting.cancel_export(admin_user, job)


def test_cancel_a_running_job_stops_between_batches(
    rep: User, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DATA_DIR = tmp_path
    settings.EXPORT_BATCH_SIZE = 1
    for index in range(4):
        PersonFactory.create(actor=rep, family_name=f"P{index}")
    job = ExportJob.objects.create(created_by=rep, target="person", file_format="csv")
    original = exporting.write_export

    def cancel_after_first_batch(*args: Any, on_batch: Callable[[int], bool], **kwargs: Any) -> int:
        def hook(written: int) -> bool:
            exporting.cancel_export(rep, ExportJob.objects.get(pk=job.pk))
            return on_batch(written)

        return original(*args, on_batch=hook, **kwargs)

    monkeypatch.setattr(exporting, "write_export", cancel_after_first_batch)
    job = exporting.run_export(job.pk)
    assert job.status == JobStatus.CANCELLED
    assert (job.processed, job.total) == (1, 4)
    assert job.stored_path == ""
    assert list((tmp_path / "exports").iterdir()) == []  # the partial file is gone
    assert exporting.export_file(rep, job) is None


def test_a_failing_job_is_marked_and_leaves_no_file(
    rep: User, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.DATA_DIR = tmp_path
    PersonFactory.create(actor=rep)
    job = ExportJob.objects.create(created_by=rep, target="person", file_format="csv")

    def broken(*args: Any, **kwargs: Any) -> int:
        args[3].write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(exporting, "write_export", broken)
    job = exporting.run_export(job.pk)
    assert (job.status, job.error) == (JobStatus.FAILED, "disk full")
    assert list((tmp_path / "exports").iterdir()) == []


def test_only_the_creator_or_an_admin_gets_the_file(
    rep: User, other_rep: User, admin_user: User, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    PersonFactory.create(actor=rep)
    job = exporting.run_export(ExportJob.objects.create(created_by=rep, target="person", file_format="vcard").pk)
    assert exporting.export_file(rep, job) == tmp_path / job.stored_path
    assert exporting.export_file(admin_user, job) == tmp_path / job.stored_path
    assert exporting.export_file(other_rep, job) is None
    assert list(exporting.visible_export_jobs(rep)) == [job]
    assert list(exporting.visible_export_jobs(other_rep)) == []
    assert list(exporting.visible_export_jobs(admin_user)) == [job]
    job.stored_path = "../secret_key"
    assert exporting.export_file(rep, job) is None  # never outside the exports folder


def test_old_export_files_are_deleted_and_the_record_kept(rep: User, settings: Any, tmp_path: Path) -> None:
    settings.DATA_DIR = tmp_path
    PersonFactory.create(actor=rep)
    old = exporting.run_export(ExportJob.objects.create(created_by=rep, target="person", file_format="csv").pk)
    new = exporting.run_export(ExportJob.objects.create(created_by=rep, target="person", file_format="csv").pk)
    ExportJob.objects.filter(pk=old.pk).update(finished_at=timezone.now() - datetime.timedelta(days=8))
    old_file = tmp_path / old.stored_path
    assert exporting.delete_old_exports() == 1
    assert not old_file.exists()
    old.refresh_from_db()
    assert old.stored_path == ""
    assert exporting.export_file(rep, old) is None
    assert exporting.export_file(rep, new) is not None
    assert exporting.delete_old_exports() == 0


def test_spec_round_trips_through_the_job(rep: User) -> None:
    spec = ExportSpec(
        "account",
        filters=queries.PartyFilters(q="星云", owner="me", kind="distributor", attributes={"size": "10"}),
        ordering="-created_at",
        language="zh-hans",
    )
    back = ExportSpec.from_json("account", spec.to_json())
    assert back == spec
    assert back.sort == "-created_at"
    assert ExportSpec("account", ordering="bogus").sort == "name"
    assert isinstance(Account.objects.none(), object)

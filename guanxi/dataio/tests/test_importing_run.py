"""Importing files end to end: upload, mapping, dry run, import, and every bad input a real file has."""

import datetime
import io
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from guanxi.core.models import AttributeDefinition, ChangeRecord, Tag
from guanxi.customers import services
from guanxi.customers.models import Account, LifecycleChange, Person, Role, SearchTerm
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import ImportJob, ImportProblem, ImportStage, JobStatus, SavedMapping
from guanxi.dataio.services import importing
from guanxi.dataio.tests.test_importing_readers import GOOGLE_HEADER, OUTLOOK_HEADER, VCARD_3, VCARD_4
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    settings.GUANXI_DEFAULT_PHONE_REGION = "CN"
    return tmp_path


def _start(actor: User, data: bytes, name: str = "people.csv", target: str = "person") -> ImportJob:
    return importing.start_import(actor, io.BytesIO(data), name, target)


def _run(
    actor: User,
    data: bytes,
    *,
    name: str = "people.csv",
    target: str = "person",
    mode: str = "good_rows",
    on_duplicate: str = "skip",
    dry_run: bool = False,
    mapping: dict[str, str] | None = None,
) -> ImportJob:
    job = _start(actor, data, name, target)
    job = importing.set_mapping(actor, job, mapping or job.mapping, mode, on_duplicate)
    return importing.run_import(job.pk, dry_run=dry_run)


def _problems(job: ImportJob) -> list[tuple[int, str, str]]:
    return [(p.line, p.column, p.reason) for p in job.problems.order_by("line", "id")]


def _csv(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def _counts(job: ImportJob) -> tuple[int, int, int, int]:
    return job.created_count, job.updated_count, job.skipped_count, job.rejected_count


# -- the happy path, with everything the services would write -----------------------------------


def test_chinese_gb18030_file_imports_people_with_everything_services_write(rep: User) -> None:
    data = _csv(
        "姓名,手机,邮箱,公司,职位,生日,标签,备注",
        "张伟,138 1234 5678,Zhang.Wei@Example.com,腾讯,采购经理,1990年5月3日,VIP、老客户,展会认识",
        "诸葛明亮,13912345678,,腾讯,,1985/12/1,,",
        encoding="gb18030",
    )
    job = _run(rep, data)
    assert job.encoding == "gb18030"
    assert (job.status, job.stage, job.processed, job.total) == (JobStatus.DONE, ImportStage.IMPORTED, 2, 2)
    assert _counts(job) == (2, 0, 0, 0)
    zhang = Person.objects.get(full_name="张伟")
    assert (zhang.family_name, zhang.given_name, zhang.birthday) == ("张", "伟", datetime.date(1990, 5, 3))
    assert (zhang.owner, zhang.created_by, zhang.source, zhang.notes) == (rep, rep, "import", "展会认识")
    assert list(zhang.emails.values_list("address", "kind", "is_primary")) == [("zhang.wei@example.com", "work", True)]
    assert list(zhang.phones.values_list("number", "kind", "is_primary")) == [("+8613812345678", "mobile", True)]
    assert sorted(zhang.tags.values_list("name", flat=True)) == ["VIP", "老客户"]
    assert set(SearchTerm.objects.filter(person=zhang).values_list("term", flat=True)) == services.person_search_terms(
        "张", "伟", ["zhang.wei@example.com"], ["+8613812345678"]
    )
    assert list(LifecycleChange.objects.filter(person=zhang).values_list("from_stage", "to_stage", "changed_by")) == [
        ("", "prospect", rep.pk)
    ]
    history = ChangeRecord.objects.get(content_type=ContentType.objects.get_for_model(Person), object_id=zhang.pk)
    assert (history.action, history.actor, history.note) == ("create", rep, f"import {job.pk}")
    assert history.changes == {
        "birthday": [None, "1990-05-03"],
        "buying_motives": [None, ""],
        "emails": [None, ["zhang.wei@example.com"]],
        "family_name": [None, "张"],
        "given_name": [None, "伟"],
        "grade": [None, ""],
        "lifecycle_stage": [None, "prospect"],
        "notes": [None, "展会认识"],
        "owner": [None, "rep"],
        "phones": [None, ["+8613812345678"]],
        "preferences": [None, ""],
        "preferred_channel": [None, ""],
        "preferred_language": [None, ""],
        "reclaim_exempt": [None, False],
        "source": [None, "import"],
        "tags": [None, ["VIP", "老客户"]],
    }
    zhuge = Person.objects.get(full_name="诸葛明亮")
    assert (zhuge.family_name, zhuge.given_name, zhuge.birthday) == ("诸葛", "明亮", datetime.date(1985, 12, 1))
    tencent = Account.objects.get(name="腾讯")  # created once, for both people
    assert tencent.owner == rep
    assert set(Role.objects.values_list("person__full_name", "account__name", "kind", "job_title")) == {
        ("张伟", "腾讯", "user", "采购经理"),
        ("诸葛明亮", "腾讯", "user", ""),
    }
    assert set(SearchTerm.objects.filter(account=tencent).values_list("term", flat=True)) == (
        services.account_search_terms("腾讯", "", "", "")
    )


def test_bulk_created_person_matches_one_created_by_the_service(admin_user: User, rep: User) -> None:
    job = _run(
        rep, _csv("First Name,Last Name,E-mail Address,Mobile Phone", "Ada,Lovelace,ada@example.org,+447400123456")
    )
    assert job.created_count == 1
    imported = Person.objects.get(family_name="Lovelace")
    made = services.create_person(
        rep,
        {"family_name": "Lovelace2", "given_name": "Ada", "source": "import"},
        emails=["ada2@example.org"],
        phones=["+447400123457"],
    )
    person_type = ContentType.objects.get_for_model(Person)
    imported_changes = ChangeRecord.objects.get(content_type=person_type, object_id=imported.pk).changes
    made_changes = ChangeRecord.objects.get(content_type=person_type, object_id=made.pk).changes
    assert set(imported_changes) == set(made_changes)
    assert imported_changes["family_name"] == [None, "Lovelace"]
    assert imported.full_name == "Ada Lovelace"


def test_a_second_import_gets_fresh_ids(rep: User) -> None:
    PersonFactory.create(family_name="Existing")
    first = _run(rep, _csv("name,email", "Ann One,ann1@example.com"))
    second = _run(rep, _csv("name,email", "Ann Two,ann2@example.com"))
    assert (first.created_count, second.created_count) == (1, 1)
    assert Person.objects.count() == 3
    person = services.create_person(rep, {"family_name": "After"})  # the id sequence moved past the imported ids
    assert person.pk == Person.objects.order_by("-pk").values_list("pk", flat=True).first()


# -- mapping ------------------------------------------------------------------------------------


def test_mapping_without_a_name_column_is_refused(rep: User) -> None:
    job = _start(rep, _csv("email,phone", "a@example.com,13812345678"))
    with pytest.raises(ValidationError) as caught:
        importing.set_mapping(rep, job, {"email": "email", "phone": "mobile"}, "good_rows", "skip")
    assert caught.value.message_dict == {"mapping": ["Map a column to the name, the family name or the given name."]}


def test_mapping_errors_name_the_column(rep: User) -> None:
    job = _start(rep, _csv("name,mail,mail2", "Ann,a@example.com,b@example.com"))
    with pytest.raises(ValidationError) as caught:
        importing.set_mapping(
            rep, job, {"name": "full_name", "mail": "email", "mail2": "email", "nope": "notes"}, "x", "skip"
        )
    assert caught.value.message_dict == {
        "mail2": ["email is already filled from column mail."],
        "nope": ["The file has no column called nope."],
        "mode": ["Choose one of: all_or_nothing, good_rows."],
    }
    with pytest.raises(ValidationError) as caught:
        importing.set_mapping(rep, job, {"name": "full_name", "mail": "shoe_size"}, "good_rows", "skip")
    assert caught.value.message_dict == {"mail": ["Unknown field: shoe_size"]}


def test_saved_mapping_is_suggested_for_the_same_columns(rep: User) -> None:
    data = _csv("Kontakt,Mail", "Ann Lee,ann@example.com")
    job = _start(rep, data)
    assert job.mapping == {"Kontakt": "", "Mail": "email"}
    importing.set_mapping(rep, job, {"Kontakt": "full_name", "Mail": "email"}, "good_rows", "skip", save_as="DE file")
    assert SavedMapping.objects.get(name="DE file").mapping == {"Kontakt": "full_name", "Mail": "email"}
    assert _start(rep, data).mapping == {"Kontakt": "full_name", "Mail": "email"}


def test_custom_attributes_are_typed_and_required_ones_enforced(rep: User) -> None:
    AttributeDefinition.objects.create(target="person", key="shoe_size", label="鞋码", data_type="number")
    AttributeDefinition.objects.create(
        target="person", key="member_since", label="Member since", data_type="date", required=True
    )
    job = _run(
        rep,
        _csv("name,鞋码,Member since", "Ann Lee,42,2020/1/2", "Bob Li,big,2020-01-02", "Cat Wu,40,"),
    )
    assert _counts(job) == (1, 0, 0, 2)
    assert Person.objects.get(full_name="Ann Lee").attributes == {"shoe_size": 42, "member_since": "2020-01-02"}
    assert _problems(job) == [
        (3, "鞋码", "Enter a number."),
        (4, "Member since", "Member since is required."),
    ]


# -- bad files ----------------------------------------------------------------------------------


def test_undecodable_file_is_refused_and_nothing_is_kept(rep: User, data_dir: Path) -> None:
    garbage = bytes((i * 37 + 11) % 255 + 1 for i in range(3000))
    with pytest.raises(ValidationError) as caught:
        _start(rep, garbage)
    assert "encoding is not one we can read" in caught.value.message_dict["file"][0]
    assert ImportJob.objects.count() == 0
    assert list((data_dir / "imports").iterdir()) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"name,email\n", "The file has a header but no rows."),
    ],
)
def test_empty_files_are_refused(rep: User, data: bytes, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _start(rep, data)
    assert caught.value.message_dict == {"file": [message]}


def _xlsx(rows: list[list[Any]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_truncated_xlsx_is_refused_and_nothing_written(rep: User, data_dir: Path) -> None:
    data = _xlsx([["姓名", "手机"], ["张伟", 13812345678]])
    with pytest.raises(ValidationError) as caught:
        _start(rep, data[:-200], name="people.xlsx")
    assert caught.value.message_dict == {
        "file": ["The Excel file is damaged or incomplete (was the upload cut short?)."]
    }
    assert (ImportJob.objects.count(), Person.objects.count()) == (0, 0)
    assert list((data_dir / "imports").iterdir()) == []


def test_xlsx_imports(rep: User) -> None:
    data = _xlsx([["姓名", "手机", "生日"], ["张伟", 13812345678, datetime.datetime(1990, 5, 3)]])
    job = _run(rep, data, name="people.xlsx")
    assert (job.file_format, job.created_count) == ("xlsx", 1)
    person = Person.objects.get()
    assert (person.full_name, person.birthday) == ("张伟", datetime.date(1990, 5, 3))
    assert list(person.phones.values_list("number", flat=True)) == ["+8613812345678"]


def test_malformed_emails_and_phones_are_rejected_with_line_column_and_reason(rep: User) -> None:
    job = _run(
        rep,
        _csv(
            "Name,Email,Mobile",
            "Ann Lee,ann@example.com,13812345678",
            "Bob Li,bob@@example,13812345679",
            "Cat Wu,cat@example.com,12345",
            ",nobody@example.com,",
        ),
    )
    assert _counts(job) == (1, 0, 0, 3)
    problems = _problems(job)
    assert [(line, column) for line, column, _reason in problems] == [(3, "Email"), (4, "Mobile"), (5, "Name")]
    assert problems[0][2].startswith("bob@@example is not a valid e-mail address: ")
    assert problems[1][2] == ("12345 is not a valid phone number (numbers without +country code are read as CN).")
    assert problems[2][2] == "Enter a family name or a given name."
    assert list(Person.objects.values_list("full_name", flat=True)) == ["Ann Lee"]


def test_duplicate_rows_inside_the_file_are_skipped_naming_the_earlier_line(rep: User) -> None:
    job = _run(
        rep,
        _csv(
            "name,email,mobile",
            "Ann Lee,ann@example.com,",
            "Ann L.,ANN@example.com,",
            "Bob Li,,13812345678",
            "Robert Li,,+86 138-1234-5678",
        ),
    )
    assert _counts(job) == (2, 0, 2, 0)
    assert _problems(job) == [
        (3, "email", "Skipped: same e-mail as line 2 (ann@example.com)."),
        (5, "mobile", "Skipped: same phone as line 4 (+8613812345678)."),
    ]
    assert all(importing.is_skipped(p) for p in job.problems.all())


def test_formulas_are_kept_as_text_and_defused_in_the_rejected_rows_file(rep: User) -> None:
    job = _run(
        rep,
        _csv(
            "name,email,notes",
            'Ann Lee,ann@example.com,"=HYPERLINK(""http://evil.example"",""click"")"',
            "@SUM(1+1),not-an-email,+cmd|' /C calc'!A0",
        ),
    )
    assert _counts(job) == (1, 0, 0, 1)
    assert Person.objects.get().notes == '=HYPERLINK("http://evil.example","click")'
    text = "".join(importing.rejected_rows_csv(job))
    assert text.startswith("\ufeffname,email,notes,line,problem\r\n")
    lines = text.lstrip("\ufeff").split("\r\n")
    assert lines[1].startswith("'@SUM(1+1),not-an-email,'+cmd|' /C calc'!A0,3,email: not-an-email is not a valid")
    assert lines[2] == ""


def test_rejected_rows_file_round_trips_without_the_apostrophes(rep: User) -> None:
    AttributeDefinition.objects.create(target="person", key="code", label="Code", data_type="text")
    job = _run(rep, _csv("name,mobile,Code", "Ann Lee,12,=A1"))
    fixed = "".join(importing.rejected_rows_csv(job)).replace(",12,", ",13812345678,").encode("utf-8")
    again = _run(
        rep, fixed, mapping={"name": "full_name", "mobile": "mobile", "Code": "attr:code", "line": "", "problem": ""}
    )
    assert again.created_count == 1
    person = Person.objects.get()
    assert person.attributes == {"code": "=A1"}


def test_very_long_cells_are_rejected_not_cut(rep: User) -> None:
    job = _run(rep, _csv("family name,given name,notes", f"{'L' * 101},Ann,ok", f"Lee,Bob,{'n' * 10_001}"))
    assert _counts(job) == (0, 0, 0, 2)
    assert _problems(job) == [
        (2, "family name", "Too long: 101 characters, at most 100."),
        (3, "notes", "Too long: 10001 characters, at most 10000."),
    ]


# -- modes, dry run and cancel ------------------------------------------------------------------


BAD_FILE = _csv("name,email", "Ann Lee,ann@example.com", "Bob Li,bob@", "Cat Wu,cat@example.com")


def test_dry_run_counts_and_writes_nothing(rep: User) -> None:
    PersonFactory.create(family_name="Old", emails=["cat@example.com"])
    job = _run(rep, BAD_FILE, dry_run=True)
    assert (job.status, job.stage, job.dry_run) == (JobStatus.DONE, ImportStage.CHECKED, True)
    assert _counts(job) == (1, 0, 1, 1)
    assert Person.objects.count() == 1
    assert [line for line, _c, _r in _problems(job)] == [3, 4]


def test_all_or_nothing_writes_nothing_when_one_row_is_bad(rep: User) -> None:
    job = _run(rep, BAD_FILE, mode="all_or_nothing")
    assert (job.status, job.stage) == (JobStatus.FAILED, ImportStage.CHECKED)
    assert job.error == (
        "1 rows were rejected, so nothing was imported (all or nothing). Fix them, or import the good rows only."
    )
    assert (Person.objects.count(), Tag.objects.count(), SearchTerm.objects.count()) == (0, 0, 0)
    assert _problems(job)[0][:2] == (3, "email")


def test_all_or_nothing_writes_everything_when_all_rows_are_good(rep: User) -> None:
    job = _run(rep, _csv("name,email", "Ann Lee,ann@example.com", "Cat Wu,cat@example.com"), mode="all_or_nothing")
    assert (job.status, job.stage, _counts(job)) == (JobStatus.DONE, ImportStage.IMPORTED, (2, 0, 0, 0))
    assert Person.objects.count() == 2


def test_good_rows_writes_the_good_ones_and_lists_the_bad(rep: User) -> None:
    job = _run(rep, BAD_FILE, mode="good_rows")
    assert (job.status, _counts(job)) == (JobStatus.DONE, (2, 0, 0, 1))
    assert sorted(Person.objects.values_list("full_name", flat=True)) == ["Ann Lee", "Cat Wu"]
    lines = "".join(importing.rejected_rows_csv(job)).lstrip("\ufeff").split("\r\n")
    assert lines[0] == "name,email,line,problem"
    assert lines[1].startswith("Bob Li,bob@,3,email: bob@ is not a valid e-mail address: ")
    assert lines[2:] == [""]


def test_cancel_between_batches_keeps_whole_batches_only(rep: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importing, "BATCH_SIZE", 2)
    rows = [f"Person {i},p{i}@example.com" for i in range(7)]
    job = importing.set_mapping(
        rep, _start(rep, _csv("name,email", *rows)), {"name": "full_name", "email": "email"}, "good_rows", "skip"
    )
    seen: list[int] = []

    def cancel_after_second_batch(current: ImportJob) -> None:
        seen.append(current.processed)
        if current.processed == 4:
            importing.cancel_import(rep, current)

    job = importing.run_import(job.pk, dry_run=False, progress=cancel_after_second_batch)
    assert seen == [0, 2, 4]
    assert (job.status, job.processed, job.created_count) == (JobStatus.CANCELLED, 4, 4)
    assert Person.objects.count() == 4
    assert importing.run_import(job.pk, dry_run=False).status == JobStatus.CANCELLED  # a retried task changes nothing


def test_request_run_queues_the_task_after_commit(rep: User, django_capture_on_commit_callbacks: Any) -> None:
    job = importing.set_mapping(rep, _start(rep, _csv("name", "Ann Lee")), {"name": "full_name"}, "good_rows", "skip")
    with django_capture_on_commit_callbacks(execute=True):
        job = importing.request_run(rep, job, dry_run=True)
    assert job.status == JobStatus.PENDING
    job.refresh_from_db()
    assert (job.status, job.stage, job.created_count) == (JobStatus.DONE, ImportStage.CHECKED, 1)
    assert Person.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        importing.request_run(rep, job, dry_run=False)
    job.refresh_from_db()
    assert (job.status, job.stage) == (JobStatus.DONE, ImportStage.IMPORTED)
    assert Person.objects.count() == 1
    with pytest.raises(ValidationError):
        importing.request_run(rep, job, dry_run=False)


# -- duplicates against the database ------------------------------------------------------------


def test_existing_records_are_skipped_or_updated_per_policy(rep: User, other_rep: User) -> None:
    mine = PersonFactory.create(family_name="Lee", given_name="Ann", actor=rep, emails=["ann@example.com"], tags=["A"])
    theirs = PersonFactory.create(family_name="Li", given_name="Bob", actor=other_rep, phones=["13812345678"])
    data = _csv(
        "name,email,mobile,标签,备注",
        "Ann Lee,ann@example.com,13900001111,B,new note",
        "Bob Li,,138 1234 5678,,x",
    )
    skipped = _run(rep, data, on_duplicate="skip")
    assert _counts(skipped) == (0, 0, 2, 0)
    assert _problems(skipped) == [
        (2, "email", f"Skipped: same e-mail (ann@example.com) as an existing record (Ann Lee, #{mine.pk})."),
        (3, "mobile", "Skipped: same phone (+8613812345678) as an existing record you cannot see."),
    ]
    updated = _run(rep, data, on_duplicate="update")
    assert _counts(updated) == (0, 1, 0, 1)
    assert _problems(updated) == [
        (3, "mobile", "Same phone (+8613812345678) as an existing record you cannot see, which you may not change.")
    ]
    mine.refresh_from_db()
    assert mine.notes == "new note"
    assert sorted(mine.phones.values_list("number", flat=True)) == ["+8613900001111"]
    assert sorted(mine.tags.values_list("name", flat=True)) == ["A", "B"]
    theirs.refresh_from_db()
    assert theirs.notes == ""
    assert ChangeRecord.objects.filter(object_id=mine.pk, action="update").count() == 1


def test_accounts_match_by_registration_number_domain_or_name(rep: User) -> None:
    acme = AccountFactory.create(name="Acme Ltd", registration_number="91310000MA1FL4B12X", actor=rep)
    globex = AccountFactory.create(name="Globex", website="https://www.globex.example", actor=rep)
    data = _csv(
        "公司名称,统一社会信用代码,官网,电话,地址,城市,国家,客户级别",
        "ACME (Shanghai),91310000 ma1fl4b12x,,,,,,",
        "Globex China,,globex.example/cn,,,,,",
        "Acme Ltd,,,,,,,",
        "Initech,,initech.example,021 6888 1234,世纪大道100号,上海,中国,A",
        "Initech Beijing,,http://www.initech.example,,,,,",
        "Bad Phone Co,,,12,,,,",
    )
    job = _run(rep, data, target="account")
    assert _counts(job) == (1, 0, 4, 1)
    assert _problems(job) == [
        (
            2,
            "统一社会信用代码",
            f"Skipped: same registration number (91310000MA1FL4B12X) as an existing record (Acme Ltd, #{acme.pk}).",
        ),
        (3, "官网", f"Skipped: same website domain (globex.example) as an existing record (Globex, #{globex.pk})."),
        (4, "公司名称", "Skipped: matches the same record as line 2."),
        (6, "官网", "Skipped: same website domain as line 5 (initech.example)."),
        (7, "电话", "12 is not a valid phone number (numbers without +country code are read as CN)."),
    ]
    initech = Account.objects.get(name="Initech")
    assert (initech.website, initech.domain, initech.phone, initech.grade, initech.owner) == (
        "https://initech.example",
        "initech.example",
        "+862168881234",
        "A",
        rep,
    )
    assert list(initech.addresses.values_list("line1", "city", "country")) == [("世纪大道100号", "上海", "CN")]
    assert set(SearchTerm.objects.filter(account=initech).values_list("term", flat=True)) == (
        services.account_search_terms("Initech", "initech.example", "", "+862168881234")
    )


# -- real-world exports -------------------------------------------------------------------------


def test_google_contacts_csv_imports_without_editing(rep: User) -> None:
    columns = GOOGLE_HEADER.split(",")
    row = dict.fromkeys(columns, "")
    row.update(
        {
            "Name": "Wei Zhang",
            "Given Name": "Wei",
            "Family Name": "Zhang",
            "Birthday": "1990-05-03",
            "Group Membership": "* myContacts ::: Customers",
            "E-mail 1 - Type": "* Work",
            "E-mail 1 - Value": "wei@example.com ::: wei.zhang@example.net",
            "Phone 1 - Type": "Mobile",
            "Phone 1 - Value": "+86 138-1234-5678",
            "Organization 1 - Name": "Acme",
            "Organization 1 - Title": "Buyer",
        }
    )
    data = ("\ufeff" + GOOGLE_HEADER + "\r\n" + ",".join(row[c] for c in columns) + "\r\n").encode()
    job = _run(rep, data, name="contacts.csv")
    assert _counts(job) == (1, 0, 0, 0)
    person = Person.objects.get()
    assert (person.family_name, person.given_name, person.birthday) == ("Zhang", "Wei", datetime.date(1990, 5, 3))
    assert list(person.emails.values_list("address", flat=True)) == ["wei@example.com", "wei.zhang@example.net"]
    assert list(person.tags.values_list("name", flat=True)) == ["Customers"]
    assert list(Role.objects.values_list("account__name", "job_title")) == [("Acme", "Buyer")]


def test_outlook_csv_imports_without_editing(rep: User) -> None:
    columns = OUTLOOK_HEADER.split(",")
    row = dict.fromkeys(columns, "")
    row.update(
        {
            "First Name": "Jürgen",
            "Last Name": "Müller",
            "Title": "Herr",
            "E-mail Address": "j.mueller@example.de",
            "Mobile Phone": "+49 151 23456789",
            "Business Phone": "+49 30 1234567",
            "Company": "Beispiel GmbH",
            "Job Title": "Einkauf",
            "Birthday": "5/3/1990",
            "Categories": "Messe;VIP",
        }
    )
    data = (OUTLOOK_HEADER + "\r\n" + ",".join(f'"{row[c]}"' for c in columns) + "\r\n").encode("cp1252")
    job = _run(rep, data, name="outlook.csv")
    assert (job.encoding, _counts(job)) == ("cp1252", (1, 0, 0, 0))
    person = Person.objects.get()
    assert (person.full_name, person.birthday) == ("Jürgen Müller", datetime.date(1990, 5, 3))
    assert list(person.phones.values_list("number", "kind")) == [("+4915123456789", "mobile"), ("+49301234567", "work")]
    assert sorted(person.tags.values_list("name", flat=True)) == ["Messe", "VIP"]
    assert list(Role.objects.values_list("account__name", "job_title")) == [("Beispiel GmbH", "Einkauf")]


def test_vcard_3_and_4_files_import(rep: User) -> None:
    job3 = _run(rep, VCARD_3.encode(), name="contacts.vcf")
    assert (job3.file_format, _counts(job3)) == ("vcard", (2, 0, 0, 0))
    wei = Person.objects.get(family_name="Zhang")
    assert list(wei.emails.values_list("address", "kind")) == [
        ("wei.zhang@example.com", "work"),
        ("wei@example.net", "work"),
    ]
    assert sorted(wei.phones.values_list("number", "kind")) == [("+861065529988", "work"), ("+8613812345678", "mobile")]
    assert wei.notes == "Met at the trade show"
    job4 = _run(rep, VCARD_4.encode(), name="ada.vcf")
    assert _counts(job4) == (0, 0, 0, 1)
    assert _problems(job4)[0][:2] == (1, "Birthday")  # 1815 is no plausible birthday for a customer
    assert Person.objects.count() == 2


# -- permissions and the command line -----------------------------------------------------------


def test_analysts_may_not_import_and_others_may_not_see_a_job(rep: User, other_rep: User, admin_user: User) -> None:
    analyst = UserFactory.create(username="analyst", role=StaffRole.ANALYST)
    with pytest.raises(PermissionDenied):
        _start(analyst, _csv("name", "Ann"))
    job = _start(rep, _csv("name", "Ann"))
    with pytest.raises(PermissionDenied):
        importing.set_mapping(other_rep, job, job.mapping, "good_rows", "skip")
    with pytest.raises(PermissionDenied):
        importing.cancel_import(other_rep, job)
    assert list(importing.visible_import_jobs(rep)) == [job]
    assert list(importing.visible_import_jobs(other_rep)) == []
    assert list(importing.visible_import_jobs(admin_user)) == [job]


def test_owner_column_assigns_only_where_the_importer_may(rep: User, other_rep: User, manager: User) -> None:
    data = _csv("name,负责人", "Ann Lee,rep", "Bob Li,other_rep", "Cat Wu,nobody")
    job = _run(manager, data)
    assert _counts(job) == (2, 0, 0, 1)
    assert dict(Person.objects.values_list("full_name", "owner__username")) == {"Ann Lee": "rep", "Bob Li": "other_rep"}
    assert _problems(job) == [(4, "负责人", "No user is called nobody.")]
    job = _run(rep, _csv("name,负责人", "Dan Ho,other_rep"))
    assert _problems(job) == [(2, "负责人", "You may not assign records to this user.")]


def test_import_records_command(rep: User, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes(BAD_FILE)
    out = io.StringIO()
    with pytest.raises(CommandError, match="1 rows were rejected"):
        call_command("import_records", str(path), "--target", "people", "--user", "rep", stdout=out)
    assert "line 3 [email] rejected: bob@ is not a valid e-mail address" in out.getvalue()
    assert Person.objects.count() == 0
    out = io.StringIO()
    call_command("import_records", str(path), "--target", "people", "--user", "rep", "--mode", "good_rows", stdout=out)
    text = out.getvalue()
    assert "people.csv: 3 rows, csv (utf-8)" in text
    assert "  name -> full_name" in text
    assert "Done: 2 were created, 0 were updated, 0 skipped as duplicates, 1 rejected." in text
    assert Person.objects.count() == 2
    with pytest.raises(CommandError, match="No user called ghost"):
        call_command("import_records", str(path), "--target", "people", "--user", "ghost")
    assert ImportProblem.objects.filter(job__created_by=rep).count() == 2


def test_accounts_are_updated_through_the_service_when_asked(rep: User) -> None:
    acme = AccountFactory.create(name="Acme Ltd", actor=rep, tags=["Old"])
    job = _run(
        rep, _csv("Name,Industry,Tags,Stage", "Acme Ltd,Chemicals,Key,active"), target="account", on_duplicate="update"
    )
    assert _counts(job) == (0, 1, 0, 0)
    acme.refresh_from_db()
    assert (acme.industry, acme.lifecycle_stage) == ("Chemicals", "active")
    assert sorted(acme.tags.values_list("name", flat=True)) == ["Key", "Old"]
    assert list(LifecycleChange.objects.filter(account=acme).values_list("from_stage", "to_stage")) == [
        ("prospect", "active"),
        ("", "prospect"),
    ]


def test_several_problems_of_one_row_share_one_line_of_the_rejected_file(rep: User) -> None:
    job = _run(rep, _csv("name,email,mobile", "Ann Lee,bad,12"))
    assert [(line, column) for line, column, _r in _problems(job)] == [(2, "email"), (2, "mobile")]
    lines = "".join(importing.rejected_rows_csv(job)).lstrip("\ufeff").split("\r\n")
    assert len(lines) == 3
    assert lines[1].startswith("Ann Lee,bad,12,2,email: bad is not a valid e-mail address")
    assert "; mobile: 12 is not a valid phone number" in lines[1]

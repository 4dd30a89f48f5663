"""The import pages through Django's test client, against the real import service and task.

Test settings run tasks with the ImmediateBackend, and the service enqueues after commit: a
test runs the job by executing the on-commit callbacks of the request that asked for it.
"""

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoAssertNumQueries, DjangoCaptureOnCommitCallbacks

from guanxi.customers.models import Person
from guanxi.dataio.models import ImportJob, ImportProblem, ImportStage, JobStatus, SavedMapping
from guanxi.dataio.services import importing
from guanxi.dataio.tasks import importing as tasks
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

CSV = (
    "姓名,手机,邮箱,公司\n"
    "张伟,13812345678,zhangwei@example.com,华为\n"
    "李娜,13912345678,not-an-address,腾讯\n"
    "王芳,13712345678,wangfang@example.com,\n"
).encode()


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def _login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def _upload(client: Client, data: bytes = CSV, name: str = "联系人.csv", target: str = "person") -> Any:
    return client.post(
        reverse("dataio:import-upload"), {"target": target, "file": SimpleUploadedFile(name, data)}, follow=False
    )


def _job_from(response: Any) -> ImportJob:
    match = re.search(r"/data/imports/(\d+)/", response["Location"])
    assert match, response["Location"]
    return ImportJob.objects.get(pk=int(match.group(1)))


def _mapping_data(job: ImportJob, **extra: str) -> dict[str, str]:
    data = {f"column_{i}": job.mapping.get(column, "") for i, column in enumerate(job.columns)}
    data.update({"mode": "good_rows", "on_duplicate": "skip", "save_as": ""})
    data.update(extra)
    return data


def _checked_job(client: Client, capture: Callable[..., Any], data: bytes = CSV) -> ImportJob:
    """Upload and dry-run a file as the logged-in user; the job comes back checked."""
    job = _job_from(_upload(client, data))
    with capture(execute=True):
        response = client.post(reverse("dataio:import-mapping", args=[job.pk]), _mapping_data(job))
    assert response.status_code == 302
    assert response["Location"] == reverse("dataio:import-detail", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.stage) == (JobStatus.DONE, ImportStage.CHECKED)
    return job


# ---------------------------------------------------------------------------------------------
# Access


@pytest.mark.parametrize("name", ["dataio:import-list", "dataio:import-upload"])
def test_pages_require_login(client: Client, db: None, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_analysts_may_not_import(client: Client, rep: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    analyst = UserFactory.create(username="analyst", role=StaffRole.ANALYST)
    _login(client, analyst)
    assert client.get(reverse("dataio:import-list")).status_code == 403
    assert client.get(reverse("dataio:import-upload")).status_code == 403
    assert _upload(client).status_code == 403
    assert client.get(reverse("dataio:import-detail", args=[job.pk])).status_code == 403
    assert ImportJob.objects.count() == 1


def test_only_the_creator_or_an_admin_sees_a_job(client: Client, rep: User, other_rep: User, admin_user: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    _login(client, other_rep)
    for name in ("import-detail", "import-mapping", "import-progress", "import-rejected"):
        assert client.get(reverse(f"dataio:{name}", args=[job.pk])).status_code == 404, name
    assert client.post(reverse("dataio:import-cancel", args=[job.pk])).status_code == 404
    assert client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "good_rows"}).status_code == 404
    assert "联系人.csv" not in client.get(reverse("dataio:import-list")).content.decode()
    _login(client, admin_user)
    assert client.get(reverse("dataio:import-mapping", args=[job.pk])).status_code == 200
    assert "联系人.csv" in client.get(reverse("dataio:import-list")).content.decode()


def test_actions_need_post(client: Client, rep: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    assert client.get(reverse("dataio:import-cancel", args=[job.pk])).status_code == 405
    assert client.get(reverse("dataio:import-run", args=[job.pk])).status_code == 405


# ---------------------------------------------------------------------------------------------
# Upload and mapping


def test_upload_page_offers_both_record_types(client: Client, rep: User) -> None:
    _login(client, rep)
    html = client.get(reverse("dataio:import-upload") + "?target=account").content.decode()
    assert 'enctype="multipart/form-data"' in html
    assert "csrfmiddlewaretoken" in html
    assert re.search(r'<input type="radio" name="target" value="account"[^>]*checked', html)


def test_upload_then_mapping_suggests_fields_and_shows_samples(client: Client, rep: User) -> None:
    _login(client, rep)
    response = _upload(client)
    assert response.status_code == 302
    job = _job_from(response)
    assert response["Location"] == reverse("dataio:import-mapping", args=[job.pk])
    assert job.created_by == rep
    assert job.columns == ["姓名", "手机", "邮箱", "公司"]

    html = client.get(response["Location"]).content.decode()
    selected = dict(re.findall(r'<select name="(column_\d)".*?<option value="([^"]*)" selected>', html, re.S))
    assert selected == {"column_0": "full_name", "column_1": "mobile", "column_2": "email", "column_3": "company"}
    assert "张伟" in html
    assert "not-an-address" in html
    assert "13712345678" in html
    assert 'name="save_as"' in html
    assert 'value="good_rows"' in html
    assert 'value="update"' in html


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.csv", "The submitted file is empty."),
        (b"PK\x03\x04garbage", "cut.xlsx", "damaged"),
    ],
)
def test_unreadable_files_are_refused_with_a_clear_error(
    client: Client, rep: User, data: bytes, name: str, message: str
) -> None:
    _login(client, rep)
    response = _upload(client, data, name)
    assert response.status_code == 400
    html = response.content.decode()
    assert re.search(r'class="error" role="alert">[^<]*' + re.escape(message), html), html
    assert not ImportJob.objects.exists()


def test_a_mapping_error_names_the_column_and_keeps_the_choice(client: Client, rep: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    data = _mapping_data(job, column_0="", column_1="email")
    response = client.post(reverse("dataio:import-mapping", args=[job.pk]), data)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html
    assert re.search(r'<select name="column_1".*?<option value="email" selected>', html, re.S)
    job.refresh_from_db()
    assert job.stage == ImportStage.UPLOADED
    assert not SavedMapping.objects.exists()


# ---------------------------------------------------------------------------------------------
# Dry run and import


def test_dry_run_shows_counts_and_rejected_rows_then_imports_the_good_rows(
    client: Client, rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _login(client, rep)
    job = _checked_job(client, django_capture_on_commit_callbacks)
    assert not Person.objects.exists()
    assert (job.created_count, job.updated_count, job.skipped_count, job.rejected_count) == (2, 0, 0, 1)

    html = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert re.search(r'data-count="created"><strong>2</strong>', html)
    assert re.search(r'data-count="rejected"><strong>1</strong>', html)
    problem = ImportProblem.objects.get(job=job)
    assert (problem.line, problem.column) == (3, "邮箱")
    rows = re.findall(r"<tr>\s*<td data-label=\"Line\">(\d+)</td>\s*<td data-label=\"Column\">([^<]*)</td>", html)
    assert rows == [("3", "邮箱")]
    assert reverse("dataio:import-rejected", args=[job.pk]) in html
    assert 'value="all_or_nothing"' not in html  # it would write nothing: only the good rows are offered
    assert "All or nothing would write nothing while rows are rejected" in html
    assert reverse("dataio:import-mapping", args=[job.pk]) in html

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "good_rows"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.stage, job.dry_run) == (JobStatus.DONE, ImportStage.IMPORTED, False)
    assert sorted(Person.objects.values_list("full_name", flat=True)) == ["张伟", "王芳"]
    assert set(Person.objects.values_list("owner", flat=True)) == {rep.pk}

    html = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert "Import finished" in html
    assert re.search(r'data-count="created"><strong>2</strong>', html)
    assert "Download rejected rows" in html
    assert reverse("customers:person-list") in html
    # An imported job is not mapped or run again.
    assert client.get(reverse("dataio:import-mapping", args=[job.pk]))["Location"] == reverse(
        "dataio:import-detail", args=[job.pk]
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "good_rows"})
    assert Person.objects.count() == 2


def test_all_or_nothing_with_a_rejected_row_writes_nothing_and_says_why(
    client: Client, rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _login(client, rep)
    job = _checked_job(client, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "all_or_nothing"})
    job.refresh_from_db()
    assert (job.status, job.stage, job.mode) == (JobStatus.FAILED, ImportStage.CHECKED, "all_or_nothing")
    assert not Person.objects.exists()
    html = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert "Import failed" in html
    assert "1 rows were rejected, so nothing was imported (all or nothing)." in html
    # The user may still import the good rows.
    assert 'value="good_rows"' in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "good_rows"})
    assert Person.objects.count() == 2


def test_import_needs_a_dry_run_first(client: Client, rep: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    response = client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "good_rows"}, follow=True)
    assert "Run a dry run of this import first." in response.content.decode()
    job.refresh_from_db()
    assert job.stage == ImportStage.UPLOADED
    assert not Person.objects.exists()


def test_all_or_nothing_of_a_clean_file_imports_everything(
    client: Client, rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _login(client, rep)
    clean = b"Name,Email\nAda Lovelace,ada@example.com\nAlan Turing,alan@example.com\n"
    job = _checked_job(client, django_capture_on_commit_callbacks, clean)
    html = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert re.search(r'<button type="submit" name="mode" value="all_or_nothing" class="primary">', html)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "all_or_nothing"})
    job.refresh_from_db()
    assert (job.mode, job.stage, job.created_count) == ("all_or_nothing", ImportStage.IMPORTED, 2)
    assert Person.objects.count() == 2


def test_saving_the_mapping_keeps_it_for_the_next_file(
    client: Client, rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _login(client, rep)
    data = b"Col A,Col B\nAda Lovelace,ada@example.com\n"
    job = _job_from(_upload(client, data))
    assert job.mapping == {"Col A": "", "Col B": ""}
    mapping = _mapping_data(job, column_0="full_name", column_1="email", save_as="Old CRM")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dataio:import-mapping", args=[job.pk]), mapping, follow=True)
    assert "Saved the mapping “Old CRM”." in response.content.decode()
    saved = SavedMapping.objects.get()
    assert (saved.name, saved.mapping) == ("Old CRM", {"Col A": "full_name", "Col B": "email"})
    again = _job_from(_upload(client, data))
    assert again.mapping == {"Col A": "full_name", "Col B": "email"}


def test_rejected_rows_download_as_csv(
    client: Client, rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _login(client, rep)
    job = _checked_job(client, django_capture_on_commit_callbacks)
    response = client.get(reverse("dataio:import-rejected", args=[job.pk]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert "rejected.csv" in response["Content-Disposition"]
    text = cast(StreamingHttpResponse, response).getvalue().decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[:4] == ["姓名", "手机", "邮箱", "公司"]
    assert lines[0].split(",")[4:] == ["line", "problem"]
    assert len(lines) == 2
    assert lines[1].startswith("李娜,13912345678,not-an-address,腾讯,3,")


def test_problems_are_paged(
    client: Client, rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _login(client, rep)
    bad = "Name,Email\n" + "".join(f"Person {i},bad-{i}\n" for i in range(60))
    job = _checked_job(client, django_capture_on_commit_callbacks, bad.encode())
    assert job.rejected_count == 60
    html = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    lines = re.findall(r'<td data-label="Line">(\d+)</td>', html)
    assert lines == [str(n) for n in range(2, 52)]
    assert "60 problems" in html
    next_link = re.search(r'<a class="button" rel="next" href="([^"]+)"', html)
    assert next_link
    query = next_link.group(1).replace("&amp;", "&").removesuffix("#problems")
    assert query.startswith("?cursor=")
    html = client.get(reverse("dataio:import-detail", args=[job.pk]) + query).content.decode()
    assert re.findall(r'<td data-label="Line">(\d+)</td>', html) == [str(n) for n in range(52, 62)]


# ---------------------------------------------------------------------------------------------
# While it runs: progress and cancel


def test_a_queued_job_shows_progress_and_can_be_cancelled(client: Client, rep: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    # Without running the on-commit callbacks the job stays queued, as while a worker is busy.
    response = client.post(reverse("dataio:import-mapping", args=[job.pk]), _mapping_data(job))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING

    progress_url = reverse("dataio:import-progress", args=[job.pk])
    html = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert f'data-job-url="{progress_url}"' in html
    assert 'data-finished="0"' in html
    assert re.search(r'<form method="post" action="/data/imports/\d+/cancel/"', html)
    assert "csrfmiddlewaretoken" in html
    # While it waits for a worker its mapping may still change; not once it runs.
    assert reverse("dataio:import-mapping", args=[job.pk]) in html
    assert client.get(reverse("dataio:import-mapping", args=[job.pk])).status_code == 200
    ImportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)  # as a worker does
    assert client.get(reverse("dataio:import-mapping", args=[job.pk]))["Location"] == reverse(
        "dataio:import-detail", args=[job.pk]
    )
    assert "Change the mapping" not in client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()

    data = client.get(progress_url).json()
    assert data == {
        "status": "running",
        "status_label": "Running",
        "processed": 0,
        "total": job.total,
        "percent": 0,
        "finished": False,
    }

    response = client.post(reverse("dataio:import-cancel", args=[job.pk]), follow=True)
    assert "Cancelling the import" in response.content.decode()
    job.refresh_from_db()
    assert job.cancel_requested

    job = importing.run_import(job.pk, dry_run=True)
    assert job.status == JobStatus.CANCELLED
    html = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert "The dry run was cancelled before it finished." in html
    assert client.get(progress_url).json()["finished"] is True


def test_cancel_needs_the_csrf_token(client: Client, rep: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    client.post(reverse("dataio:import-mapping", args=[job.pk]), _mapping_data(job))
    strict = _login(Client(enforce_csrf_checks=True), rep)
    assert strict.post(reverse("dataio:import-cancel", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert not job.cancel_requested


# ---------------------------------------------------------------------------------------------
# The list


def test_list_shows_each_import_with_its_counts(
    client: Client,
    rep: User,
    django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks,
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    _login(client, rep)
    _checked_job(client, django_capture_on_commit_callbacks)
    _job_from(_upload(client, b"Name\nAda\n", "second.csv"))
    with django_assert_num_queries(3):  # session, user, one page of jobs with their creators
        response = client.get(reverse("dataio:import-list"))
    html = response.content.decode()
    assert re.findall(r'<a href="/data/imports/\d+/">([^<]+)</a>', html) == ["second.csv", "联系人.csv"]
    assert "Import accounts" in html
    assert "Import contacts" in html
    assert re.search(r'data-label="Rejected rows">1</td>', html)
    assert re.search(r'data-label="Created rows">2</td>', html)


# ---------------------------------------------------------------------------------------------
# The background task


def test_the_task_leaves_a_finished_job_alone(
    client: Client, rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    _login(client, rep)
    job = _checked_job(client, django_capture_on_commit_callbacks)
    finished_at = job.finished_at
    # A retried or duplicated task after the job finished changes nothing.
    assert tasks.run_import.call(job.pk, False) == {"job": job.pk, "left_alone": True}
    assert tasks.run_import.call(job.pk + 1000, True) == {"job": job.pk + 1000, "left_alone": True}
    job.refresh_from_db()
    assert (job.stage, job.finished_at) == (ImportStage.CHECKED, finished_at)
    assert not Person.objects.exists()


def test_the_task_runs_a_queued_job(client: Client, rep: User) -> None:
    _login(client, rep)
    job = _job_from(_upload(client))
    client.post(reverse("dataio:import-mapping", args=[job.pk]), _mapping_data(job))  # queued, not run
    assert tasks.run_import.call(job.pk, True) == {
        "job": job.pk,
        "status": "done",
        "stage": "checked",
        "created": 2,
        "updated": 0,
        "skipped": 0,
        "rejected": 1,
    }

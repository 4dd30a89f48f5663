"""Export pages through Django's test client: the list's Export control, download, jobs, rights."""

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import ExportJob, JobStatus
from guanxi.dataio.services import exporting
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def body(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def csv_names(data: bytes) -> list[str]:
    return [row[1] for row in list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]]


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.mark.parametrize("name", ["dataio:export-list", "dataio:export-start"])
def test_pages_require_login(client: Client, db: None, name: str) -> None:
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_list_page_carries_its_query_to_the_export_control(client: Client, rep: User) -> None:
    PersonFactory.create(actor=rep, tags=["VIP"])
    login(client, rep)
    page = client.get(reverse("customers:person-list"), {"tag": "VIP", "ordering": "-full_name"}).content.decode()
    assert f'action="{reverse("dataio:export-start")}"' in page
    assert '<input type="hidden" name="target" value="person">' in page
    assert '<input type="hidden" name="query" value="tag=VIP&amp;ordering=-full_name">' in page
    for value in ("csv", "xlsx", "vcard"):
        assert f'name="format" value="{value}"' in page
    accounts = client.get(reverse("customers:account-list")).content.decode()
    assert "dataio:export-start" not in accounts  # no records, no export control
    AccountFactory.create(actor=rep)
    accounts = client.get(reverse("customers:account-list")).content.decode()
    assert '<input type="hidden" name="target" value="account">' in accounts


def test_small_export_downloads_at_once_with_the_list_filters(client: Client, rep: User, admin_user: User) -> None:
    PersonFactory.create(actor=rep, family_name="Tagged", tags=["VIP"])
    PersonFactory.create(actor=rep, family_name="Plain")
    PersonFactory.create(actor=admin_user, family_name="Pooled", tags=["VIP"])
    login(client, rep)
    response = client.post(
        reverse("dataio:export-start"),
        {"target": "person", "format": "csv", "query": "tag=VIP&ordering=-full_name&cursor=abc&pos=26"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="people-{today}.csv"'
    assert csv_names(body(response)) == ["Alex Tagged", "Alex Pooled"]
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    ("file_format", "content_type", "extension"),
    [
        ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        ("vcard", "text/vcard; charset=utf-8", "vcf"),
    ],
)
def test_small_export_in_other_formats(
    client: Client, rep: User, file_format: str, content_type: str, extension: str
) -> None:
    AccountFactory.create(actor=rep, name="星云科技")
    login(client, rep)
    response = client.post(reverse("dataio:export-start"), {"target": "account", "format": file_format, "query": ""})
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].endswith(f'.{extension}"')
    data = body(response)
    assert data.startswith(b"PK" if file_format == "xlsx" else b"BEGIN:VCARD\r\nVERSION:3.0")


def test_large_export_runs_in_the_background_with_progress(
    client: Client,
    rep: User,
    other_rep: User,
    admin_user: User,
    settings: Any,
    data_dir: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.EXPORT_INLINE_LIMIT = 1
    PersonFactory.create(actor=rep, family_name="诸葛", given_name="明亮")
    PersonFactory.create(actor=rep, family_name="张", given_name="伟")
    login(client, rep)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dataio:export-start"), {"target": "person", "format": "csv", "query": "q=葛亮"})
    # The limit counts the filtered list: the search leaves one row, which downloads at once.
    assert response.status_code == 200
    assert csv_names(body(response)) == ["诸葛明亮"]

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dataio:export-start"), {"target": "person", "format": "csv", "query": ""})
    job = ExportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("dataio:export-detail", args=[job.pk])

    page = client.get(response["Location"]).content.decode()
    download = reverse("dataio:export-download", args=[job.pk])
    assert f'href="{download}"' in page
    progress = client.get(reverse("dataio:export-progress", args=[job.pk])).json()
    assert progress == {
        "status": "done",
        "status_label": "Done",
        "processed": 2,
        "total": 2,
        "percent": 100,
        "finished": True,
    }
    response = client.get(download)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{job.file_name}"'
    assert csv_names(body(response)) == ["张伟", "诸葛明亮"]

    listing = client.get(reverse("dataio:export-list")).content.decode()
    assert reverse("dataio:export-detail", args=[job.pk]) in listing

    # Anyone else: 404 on every page of the job; an admin may fetch it.
    login(client, other_rep)
    for name in ("dataio:export-detail", "dataio:export-progress", "dataio:export-download"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    assert client.post(reverse("dataio:export-cancel", args=[job.pk])).status_code == 404
    assert (
        reverse("dataio:export-detail", args=[job.pk]) not in client.get(reverse("dataio:export-list")).content.decode()
    )
    login(client, admin_user)
    assert client.get(download).status_code == 200


def test_running_job_page_shows_progress_and_cancels(client: Client, rep: User, data_dir: Path) -> None:
    job = ExportJob.objects.create(created_by=rep, target="person", file_format="csv", total=10, processed=4)
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)
    login(client, rep)
    page = client.get(reverse("dataio:export-detail", args=[job.pk])).content.decode()
    assert f'data-job-url="{reverse("dataio:export-progress", args=[job.pk])}"' in page
    assert 'value="40"' in page
    assert client.get(reverse("dataio:export-download", args=[job.pk])).status_code == 404
    response = client.post(reverse("dataio:export-cancel", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.cancel_requested
    assert client.get(reverse("dataio:export-cancel", args=[job.pk])).status_code == 405


def test_export_form_page_and_bad_input(client: Client, rep: User) -> None:
    login(client, rep)
    page = client.get(reverse("dataio:export-start"), {"target": "account", "tag": "VIP"}).content.decode()
    assert '<input type="hidden" name="query" value="tag=VIP" id="id_query">' in page
    assert '<option value="account" selected>' in page
    response = client.post(reverse("dataio:export-start"), {"target": "order", "format": "pdf"})
    assert response.status_code == 400
    assert not ExportJob.objects.exists()


def test_export_list_query_count_is_fixed(
    client: Client, rep: User, django_assert_num_queries: Any, data_dir: Path
) -> None:
    login(client, rep)
    for _ in range(3):
        ExportJob.objects.create(created_by=rep, target="person", file_format="csv")
    client.get(reverse("dataio:export-list"))  # warm the session and user caches
    with django_assert_num_queries(3):  # session, user, jobs with their creators
        client.get(reverse("dataio:export-list"))
    for _ in range(10):
        ExportJob.objects.create(created_by=rep, target="account", file_format="xlsx")
    with django_assert_num_queries(3):
        client.get(reverse("dataio:export-list"))


def test_expired_file_says_so(client: Client, rep: User, data_dir: Path) -> None:
    PersonFactory.create(actor=rep)
    job = exporting.run_export(ExportJob.objects.create(created_by=rep, target="person", file_format="csv").pk)
    (data_dir / job.stored_path).unlink()
    login(client, rep)
    page = client.get(reverse("dataio:export-detail", args=[job.pk])).content.decode()
    assert "This file has been deleted" in page
    assert client.get(reverse("dataio:export-download", args=[job.pk])).status_code == 404

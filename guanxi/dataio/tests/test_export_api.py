"""The export API and the export_records command."""

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import ExportJob, JobStatus
from guanxi.staff.models import User

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def csv_names(data: bytes) -> list[str]:
    return [row[1] for row in list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))[1:]]


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


def test_export_lifecycle(
    rep: User, other_rep: User, admin_user: User, data_dir: Path, django_capture_on_commit_callbacks: Any
) -> None:
    PersonFactory.create(actor=rep, family_name="诸葛", given_name="明亮", tags=["VIP"], lifecycle_stage="active")
    PersonFactory.create(actor=rep, family_name="张", given_name="伟", tags=["VIP"])
    PersonFactory.create(actor=other_rep, family_name="李", given_name="娜", tags=["VIP"], lifecycle_stage="active")
    api = client_for(rep)
    payload = {"target": "person", "format": "csv", "filters": {"tag": "VIP", "stage": "active"}}
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/exports/", payload, format="json")
    assert response.status_code == 202, response.content
    job = ExportJob.objects.get()
    assert response["Location"] == f"http://testserver/api/exports/{job.pk}/"
    data = response.json()
    assert data["id"] == job.pk
    assert (data["target"], data["format"], data["created_by"]) == ("person", "csv", "rep")

    detail = api.get(f"/api/exports/{job.pk}/").json()
    assert (detail["status"], detail["processed"], detail["total"], detail["percent"]) == ("done", 1, 1, 100)
    assert detail["download_url"] == f"http://testserver/api/exports/{job.pk}/download/"
    assert detail["filters"]["tag"] == "VIP"

    download = api.get(detail["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{job.file_name}"'
    assert csv_names(download.getvalue()) == ["诸葛明亮"]

    assert [row["id"] for row in api.get("/api/exports/").json()["results"]] == [job.pk]
    other = client_for(other_rep)
    assert other.get("/api/exports/").json()["results"] == []
    for url in (f"/api/exports/{job.pk}/", f"/api/exports/{job.pk}/download/"):
        response = other.get(url)
        assert response.status_code == 404
        assert response["Content-Type"] == PROBLEM
    assert other.post(f"/api/exports/{job.pk}/cancel/").status_code == 404
    assert client_for(admin_user).get(f"/api/exports/{job.pk}/download/").status_code == 200

    response = api.post(f"/api/exports/{job.pk}/cancel/")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM


def test_waiting_job_cancel_and_download_conflict(rep: User, data_dir: Path) -> None:
    api = client_for(rep)
    response = api.post("/api/exports/", {"target": "account", "format": "vcard"}, format="json")  # not run yet
    job_id = response.json()["id"]
    assert response.json()["status"] == "pending"
    response = api.get(f"/api/exports/{job_id}/download/")
    assert response.status_code == 409
    assert response["Content-Type"] == PROBLEM
    assert response.json()["job_status"] == "pending"
    response = api.post(f"/api/exports/{job_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert ExportJob.objects.get(pk=job_id).status == JobStatus.CANCELLED


def test_bad_input_is_a_problem(rep: User) -> None:
    api = client_for(rep)
    response = api.post(
        "/api/exports/",
        {"target": "order", "format": "pdf", "extra": 1, "filters": {"stage": "bogus", "colour": "red"}},
        format="json",
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert {e["field"] for e in response.json()["errors"]} == {
        "target",
        "format",
        "extra",
        "filters.stage",
        "filters.colour",
    }
    response = api.post(
        "/api/exports/", {"target": "person", "format": "csv", "filters": {"kind": "distributor"}}, format="json"
    )
    assert {e["field"] for e in response.json()["errors"]} == {"filters.kind"}
    assert not ExportJob.objects.exists()
    assert APIClient().get("/api/exports/").status_code == 401


def test_exports_are_in_the_openapi_schema(rep: User) -> None:
    schema = client_for(rep).get("/api/openapi.json").json()
    for path in (
        "/api/exports/",
        "/api/exports/{id}/",
        "/api/exports/{id}/download/",
        "/api/exports/{id}/cancel/",
    ):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/exports/"]


# ---------------------------------------------------------------------------------------------
# The command line


def test_export_records_command(rep: User, other_rep: User, admin_user: User, tmp_path: Path) -> None:
    AccountFactory.create(actor=rep, name="Mine Co", kind="distributor")
    AccountFactory.create(actor=rep, name="Other Kind Co")
    AccountFactory.create(actor=other_rep, name="Their Co", kind="distributor")
    output = tmp_path / "accounts.csv"
    stdout = io.StringIO()
    call_command(
        "export_records",
        "--target=account",
        "--user=rep",
        "--kind=distributor",
        f"--output={output}",
        stdout=stdout,
        stderr=io.StringIO(),
    )
    assert csv_names(output.read_bytes()) == ["Mine Co"]
    assert stdout.getvalue().strip() == f"Exported 1 accounts to {output}."

    vcards = tmp_path / "people.vcf"
    PersonFactory.create(actor=admin_user, family_name="Pool")
    call_command(
        "export_records",
        "--target=person",
        "--user=rep",
        f"--output={vcards}",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert vcards.read_text().count("BEGIN:VCARD") == 1

    with pytest.raises(CommandError):
        call_command("export_records", "--target=person", "--user=nobody", f"--output={output}")
    with pytest.raises(CommandError):
        call_command("export_records", "--target=person", "--user=rep", f"--output={tmp_path / 'x.pdf'}")

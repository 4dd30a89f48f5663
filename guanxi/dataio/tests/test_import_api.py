"""The import API: upload, mapping, dry run, run, cancel, problems and the rejected rows as CSV,
against the real import service and task (run by executing the request's on-commit callbacks)."""

import json
from pathlib import Path
from typing import Any, cast

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import StreamingHttpResponse
from django.test import Client
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.customers.models import Person
from guanxi.dataio.models import ImportJob, ImportStage, JobStatus, SavedMapping
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
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


def client_for(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def problem_fields(response: Any) -> set[str]:
    assert response["Content-Type"] == PROBLEM, response.content
    return {error["field"] for error in response.json()["errors"]}


def upload(client: APIClient, data: bytes = CSV, name: str = "联系人.csv", target: str = "person") -> Any:
    return client.post("/api/imports/", {"file": SimpleUploadedFile(name, data), "target": target}, format="multipart")


def mapped(client: APIClient, data: bytes = CSV, mode: str = "good_rows") -> int:
    """Upload a file and accept the suggested mapping, as a client would; returns the job's id."""
    body = upload(client, data).json()
    response = client.post(
        f"/api/imports/{body['id']}/mapping/", {"mapping": body["mapping"], "mode": mode}, format="json"
    )
    assert response.status_code == 200, response.content
    job_id: int = body["id"]
    return job_id


def checked(client: APIClient, capture: DjangoCaptureOnCommitCallbacks) -> dict[str, Any]:
    job_id = mapped(client)
    with capture(execute=True):
        response = client.post(f"/api/imports/{job_id}/check/")
    assert response.status_code == 202, response.content
    body: dict[str, Any] = client.get(f"/api/imports/{job_id}/").json()
    return body


def test_upload_answers_with_columns_and_the_suggested_mapping(rep: User) -> None:
    response = upload(client_for(rep))
    assert response.status_code == 201, response.content
    body = response.json()
    job = ImportJob.objects.get()
    assert body["id"] == job.pk
    assert response["Location"] == body["url"] == f"http://testserver/api/imports/{job.pk}/"
    assert body["columns"] == ["姓名", "手机", "邮箱", "公司"]
    assert body["mapping"] == {"姓名": "full_name", "手机": "mobile", "邮箱": "email", "公司": "company"}
    assert (body["target"], body["file_format"], body["stage"]) == ("person", "csv", "uploaded")
    assert body["original_name"] == "联系人.csv"
    keys = [field["key"] for field in body["importable_fields"]]
    assert {"full_name", "email", "mobile", "company"} <= set(keys)
    assert body["created_by"] == rep.pk


def test_upload_errors_are_problem_json(rep: User) -> None:
    client = client_for(rep)
    response = upload(client, b"", "empty.csv")
    assert response.status_code == 400
    assert problem_fields(response) == {"file"}
    response = upload(client, target="orders")
    assert response.status_code == 400
    assert problem_fields(response) == {"target"}
    response = upload(client, b"PK\x03\x04garbage", "cut.xlsx")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert "damaged" in json.dumps(response.json(), ensure_ascii=False)
    response = client.post(
        "/api/imports/",
        {"file": SimpleUploadedFile("a.csv", CSV), "target": "person", "owner": "1"},
        format="multipart",
    )
    assert problem_fields(response) == {"owner"}
    assert not ImportJob.objects.exists()


def test_who_may_import_and_see_a_job(rep: User, other_rep: User, admin_user: User) -> None:
    assert APIClient().get("/api/imports/").status_code == 401
    analyst = UserFactory.create(username="analyst", role=StaffRole.ANALYST)
    response = upload(client_for(analyst))
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert client_for(analyst).get("/api/imports/").status_code == 403

    job_id = upload(client_for(rep)).json()["id"]
    other = client_for(other_rep)
    assert other.get("/api/imports/").json()["results"] == []
    for path in ("", "problems/", "rejected.csv"):
        response = other.get(f"/api/imports/{job_id}/{path}")
        assert response.status_code == 404, path
        assert response["Content-Type"] == PROBLEM
    for path in ("mapping/", "check/", "run/", "cancel/"):
        assert other.post(f"/api/imports/{job_id}/{path}", {}, format="json").status_code == 404, path
    admin = client_for(admin_user)
    assert [row["id"] for row in admin.get("/api/imports/").json()["results"]] == [job_id]
    assert admin.get(f"/api/imports/{job_id}/").status_code == 200


def test_mapping_is_validated_and_can_be_saved(rep: User) -> None:
    client = client_for(rep)
    job_id = upload(client).json()["id"]
    response = client.post(
        f"/api/imports/{job_id}/mapping/", {"mapping": {"手机": "email", "邮箱": "email"}}, format="json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    response = client.post(f"/api/imports/{job_id}/mapping/", {"mapping": {}, "colour": "red"}, format="json")
    assert "colour" in problem_fields(response)

    mapping = {"姓名": "full_name", "手机": "mobile", "邮箱": "email", "公司": ""}
    response = client.post(
        f"/api/imports/{job_id}/mapping/",
        {"mapping": mapping, "mode": "good_rows", "on_duplicate": "update", "save_as": "Staff list"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["mapping"], body["mode"], body["on_duplicate"], body["stage"]) == (
        mapping,
        "good_rows",
        "update",
        "mapped",
    )
    assert SavedMapping.objects.get().name == "Staff list"


def test_check_then_problems_then_run_the_good_rows(
    rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    client = client_for(rep)
    body = checked(client, django_capture_on_commit_callbacks)
    assert (body["status"], body["stage"], body["dry_run"], body["finished"]) == ("done", "checked", True, True)
    assert (body["created_count"], body["updated_count"], body["skipped_count"], body["rejected_count"]) == (2, 0, 0, 1)
    assert not Person.objects.exists()

    response = client.get(f"/api/imports/{body['id']}/problems/")
    assert response.status_code == 200
    problems = response.json()
    assert problems["next"] is None
    assert [(p["line"], p["column"]) for p in problems["results"]] == [(3, "邮箱")]
    assert problems["results"][0]["row"]["姓名"] == "李娜"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/imports/{body['id']}/run/", {"mode": "good_rows"}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] in ("pending", "done")
    job = ImportJob.objects.get()
    assert (job.status, job.stage, job.mode, job.created_count) == (
        JobStatus.DONE,
        ImportStage.IMPORTED,
        "good_rows",
        2,
    )
    assert sorted(Person.objects.values_list("full_name", flat=True)) == ["张伟", "王芳"]


def test_problems_page_with_a_cursor(
    rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    client = client_for(rep)
    bad = "Name,Email\n" + "".join(f"Person {i},bad-{i}\n" for i in range(7))
    job_id = mapped(client, bad.encode())
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/api/imports/{job_id}/check/")
    first = client.get(f"/api/imports/{job_id}/problems/?page_size=5").json()
    assert [p["line"] for p in first["results"]] == [2, 3, 4, 5, 6]
    second = client.get(first["next"]).json()
    assert [p["line"] for p in second["results"]] == [7, 8]
    assert second["next"] is None
    assert client.get(f"/api/imports/{job_id}/problems/?cursor=nonsense").status_code == 400


def test_rejected_rows_as_csv(rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks) -> None:
    client = client_for(rep)
    body = checked(client, django_capture_on_commit_callbacks)
    response = client.get(f"/api/imports/{body['id']}/rejected.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    text = cast(StreamingHttpResponse, response).getvalue().decode()
    lines = text.lstrip("\ufeff").splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("李娜,13912345678,not-an-address,腾讯,3,")


def test_cancel(rep: User) -> None:
    client = client_for(rep)
    job_id = mapped(client)
    response = client.post(f"/api/imports/{job_id}/check/")  # queued: the on-commit callback never runs
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    response = client.post(f"/api/imports/{job_id}/cancel/")
    assert response.status_code == 200
    body = response.json()
    assert (body["cancel_requested"], body["status"], body["finished"]) == (True, "cancelled", True)
    assert client.post(f"/api/imports/{job_id}/cancel/").status_code == 400


def test_cancel_a_finished_job_is_refused(
    rep: User, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    client = client_for(rep)
    body = checked(client, django_capture_on_commit_callbacks)
    response = client.post(f"/api/imports/{body['id']}/cancel/")
    assert response.status_code == 400
    assert problem_fields(response) == {"status"}


def test_schema_lists_the_import_endpoints(db: None) -> None:
    schema = json.loads(Client().get("/api/openapi.json").content)
    paths = schema["paths"]
    for path in (
        "/api/imports/",
        "/api/imports/{id}/",
        "/api/imports/{id}/mapping/",
        "/api/imports/{id}/check/",
        "/api/imports/{id}/run/",
        "/api/imports/{id}/cancel/",
        "/api/imports/{id}/problems/",
    ):
        assert path in paths, path
    assert "multipart/form-data" in paths["/api/imports/"]["post"]["requestBody"]["content"]
    rejected = [p for p in paths if p.startswith("/api/imports/{id}/rejected")]
    assert rejected
    assert "text/csv" in paths[rejected[0]]["get"]["responses"]["200"]["content"]

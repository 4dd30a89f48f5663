"""Importing orders through the pages and the API, against the real service and task (run by
executing the on-commit callbacks of the request that queued it), and who may do it."""

import csv
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from pytest_django import DjangoCaptureOnCommitCallbacks
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from guanxi.commerce.models import Order
from guanxi.commerce.tests.factories import ProductFactory
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import ImportJob, ImportStage, JobStatus
from guanxi.dataio.services import importing
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

PROBLEM = "application/problem+json"
CSV = (
    "Order reference,Ordered at,Buyer,SKU,Quantity,User,Paid amount\n"
    "W-1,2026-04-03 09:00,明远科技,TEA-001,2,lina@example.com,50\n"
    "W-1,2026-04-03 09:00,明远科技,TEA-001,1,,50\n"
    "W-2,2026-04-04,明远科技,NOPE,1,,\n"
).encode()


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    return tmp_path


@pytest.fixture
def shop(rep: User) -> None:
    ProductFactory.create(sku="TEA-001", unit_price=Decimal("88.00"))
    AccountFactory.create(name="明远科技", owner=rep)
    PersonFactory.create(family_name="李", given_name="娜", owner=rep, emails=["lina@example.com"])


@pytest.fixture
def marketer(db: None) -> User:
    return UserFactory.create(username="marketer", role=StaffRole.MARKETER)


def _upload(client: Client, data: bytes = CSV) -> Any:
    return client.post(
        reverse("dataio:import-upload"), {"target": "order", "file": SimpleUploadedFile("订单.csv", data)}
    )


def _job_from(response: Any) -> ImportJob:
    match = re.search(r"/data/imports/(\d+)/", response["Location"])
    assert match, response["Location"]
    return ImportJob.objects.get(pk=int(match.group(1)))


# -- pages ----------------------------------------------------------------------------------------


def test_import_orders_through_the_pages(
    client: Client, rep: User, shop: None, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(rep)
    listing = client.get(reverse("dataio:import-list")).content.decode()
    assert reverse("dataio:import-upload") + "?target=order" in listing
    upload_page = client.get(reverse("dataio:import-upload") + "?target=order").content.decode()
    assert re.search(r'<input type="radio" name="target" value="order"[^>]*checked', upload_page)
    assert reverse("dataio:import-sample-orders") in upload_page

    job = _job_from(_upload(client))
    assert job.target == "order"
    page = client.get(reverse("dataio:import-mapping", args=[job.pk])).content.decode()
    assert '<input type="hidden" name="on_duplicate" value="skip"' in page
    assert 'name="on_duplicate" value="update"' not in page
    assert "rows with the same order reference make one order" in page

    data = {f"column_{i}": job.mapping[column] for i, column in enumerate(job.columns)}
    data.update({"mode": "good_rows", "on_duplicate": "skip", "save_as": "Shop export"})
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("dataio:import-mapping", args=[job.pk]), data)
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.stage, job.created_count, job.rejected_count) == (ImportStage.CHECKED, 1, 1)
    detail = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert "orders will be created" in detail
    assert "No product has the SKU NOPE." in detail
    assert not Order.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "good_rows"})
    job.refresh_from_db()
    assert (job.status, job.stage, job.created_count, job.rejected_count) == (
        JobStatus.DONE,
        ImportStage.IMPORTED,
        1,
        1,
    )
    order = Order.objects.get()
    assert (order.external_id, order.paid_amount, order.lines.count()) == ("W-1", Decimal("50.00"), 2)
    detail = client.get(reverse("dataio:import-detail", args=[job.pk])).content.decode()
    assert "orders were created" in detail
    assert f'href="{reverse("commerce:order-list")}"' in detail
    assert "See the orders" in detail


def test_sample_file_downloads_and_reads_back_as_two_lines_of_one_order(client: Client, rep: User) -> None:
    client.force_login(rep)
    response = client.get(reverse("dataio:import-sample-orders"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="orders-sample.csv"' in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["Order reference", "Ordered at", "Buyer (name, e-mail or phone)"]
    assert len(rows) == 3
    assert rows[1][0] == rows[2][0] == "SHOP-10001"


def test_staff_who_take_no_orders_may_not_import_them(client: Client, rep: User, marketer: User, shop: None) -> None:
    client.force_login(marketer)
    assert client.get(reverse("dataio:import-list")).status_code == 200
    assert "?target=order" not in client.get(reverse("dataio:import-list")).content.decode()
    assert 'value="order"' not in client.get(reverse("dataio:import-upload")).content.decode()
    assert _upload(client).status_code == 403
    assert client.get(reverse("dataio:import-sample-orders")).status_code == 403
    assert not ImportJob.objects.exists()

    client.force_login(rep)
    job = _job_from(_upload(client))
    User.objects.filter(pk=rep.pk).update(role=StaffRole.MARKETER)  # the rep moves to marketing
    for name in ("import-detail", "import-mapping", "import-progress", "import-rejected"):
        assert client.get(reverse(f"dataio:{name}", args=[job.pk])).status_code == 403, name
    assert client.post(reverse("dataio:import-run", args=[job.pk]), {"mode": "good_rows"}).status_code == 403


# -- API -------------------------------------------------------------------------------------------


def _api(user: User) -> APIClient:
    client = APIClient()
    token, _created = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def _api_upload(client: APIClient, data: bytes = CSV) -> Any:
    return client.post(
        "/api/imports/", {"file": SimpleUploadedFile("orders.csv", data), "target": "order"}, format="multipart"
    )


def test_import_orders_through_the_api(
    rep: User, shop: None, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    client = _api(rep)
    response = _api_upload(client)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["target"] == "order"
    assert body["mapping"] == {
        "Order reference": "external_id",
        "Ordered at": "ordered_at",
        "Buyer": "buyer",
        "SKU": "sku",
        "Quantity": "quantity",
        "User": "user",
        "Paid amount": "paid_amount",
    }
    assert {"external_id", "buyer", "sku", "paid_amount"} <= {f["key"] for f in body["importable_fields"]}
    job_id = body["id"]
    response = client.post(f"/api/imports/{job_id}/mapping/", {"mapping": body["mapping"]}, format="json")
    assert response.status_code == 200, response.content
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"/api/imports/{job_id}/check/").status_code == 202
    body = client.get(f"/api/imports/{job_id}/").json()
    assert (body["stage"], body["created_count"], body["rejected_count"]) == ("checked", 1, 1)
    problems = client.get(f"/api/imports/{job_id}/problems/").json()["results"]
    assert [(p["line"], p["column"], p["reason"]) for p in problems] == [(4, "SKU", "No product has the SKU NOPE.")]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/api/imports/{job_id}/run/", {"mode": "good_rows"}, format="json")
    assert response.status_code == 202, response.content
    body = client.get(f"/api/imports/{job_id}/").json()
    assert (body["status"], body["stage"], body["created_count"]) == ("done", "imported", 1)
    assert list(Order.objects.values_list("external_id", flat=True)) == ["W-1"]


def test_an_orders_mapping_without_a_buyer_is_refused_by_field(rep: User, shop: None) -> None:
    client = _api(rep)
    body = _api_upload(client).json()
    mapping = {**body["mapping"], "Buyer": ""}
    response = client.post(f"/api/imports/{body['id']}/mapping/", {"mapping": mapping}, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["errors"] == [
        {"field": "mapping", "reason": "Map a column to the buyer: a name, an e-mail, a phone or an ID."}
    ]


@pytest.mark.parametrize("role", [StaffRole.MARKETER, StaffRole.ANALYST])
def test_the_api_refuses_orders_imports_to_staff_who_take_no_orders(role: str, rep: User, shop: None) -> None:
    response = _api_upload(_api(UserFactory.create(username="other", role=role)))
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert not ImportJob.objects.exists()
    job_id = _api_upload(_api(rep)).json()["id"]
    User.objects.filter(pk=rep.pk).update(role=StaffRole.MARKETER)
    response = _api(rep).get(f"/api/imports/{job_id}/")
    assert response.status_code == 403
    assert response["Content-Type"] == PROBLEM
    assert importing.visible_import_jobs(rep).count() == 1  # their own job, which they may no longer run

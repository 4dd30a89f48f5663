"""`make run`'s first start: every app's demo rows land on top of the demo customers, and the
pages a new user opens first show them."""

import re

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from guanxi.staff.models import User
from guanxi.web.demo import APP_DEMOS, load_app_demos


@pytest.mark.django_db(transaction=True)
def test_every_app_adds_demo_rows_that_its_pages_show(client: Client) -> None:
    call_command("demo_data", accounts=20, people=200, password="demo-pass-1", verbosity=0)
    loaded: list[str] = []
    counts = load_app_demos("small", report=loaded.append)
    assert loaded == [app for app, _load in APP_DEMOS]
    for app in loaded:
        assert any(value > 0 for key, value in counts.items() if key.startswith(f"{app}.")), app

    client.force_login(User.objects.get(username="admin"))
    pages = {
        "leads:lead-list": "leads:lead-detail",
        "sales:opportunity-list": "sales:opportunity-detail",
        "commerce:order-list": "commerce:order-detail",
    }
    for list_name, detail_name in pages.items():
        response = client.get(reverse(list_name))
        assert response.status_code == 200, list_name
        detail_link = re.escape(reverse(detail_name, args=[987654321])).replace("987654321", r"\d+")
        assert re.search(f'href="{detail_link}"', response.content.decode()), list_name

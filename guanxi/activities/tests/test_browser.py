"""Log a call on a contact's page in a real browser and find the next follow-up task in My day."""

import shutil
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, expect, sync_playwright

from guanxi.activities.models import Activity, FollowUpPlan, Task
from guanxi.customers.models import Person
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

PASSWORD = "correct horse battery"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        yield browser
        browser.close()


def test_log_a_call_and_see_the_next_task_in_my_day(
    transactional_db: None, live_server: Any, browser: Browser, rep: User
) -> None:
    FollowUpPlan.objects.create(grade="A", interval_days=1)
    person = PersonFactory.create(actor=rep, owner=rep, family_name="周", given_name="杰")
    Person.objects.filter(pk=person.pk).update(grade="A")
    # Yesterday's call makes the next follow-up due today, so My day lists it. Yesterday noon,
    # not "23 h 30 min ago": in the last half hour of a day that would make it due tomorrow.
    when = (timezone.localtime() - timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)

    base = live_server.url
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(30_000)
    context.set_default_navigation_timeout(90_000)
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/people/{person.pk}/")
    panel = page.locator(f"#follow-up-person-{person.pk}")
    panel.locator("summary", has_text="Log a follow-up").click()
    panel.locator("select[name=kind]").select_option("call")
    panel.locator("input[name=occurred_at]").fill(when.strftime("%Y-%m-%dT%H:%M"))
    panel.locator("input[name=subject]").fill("Discussed the renewal")
    panel.locator("button[type=submit]", has_text="Save follow-up").click()
    # htmx swaps the panel in place: the record and the planned task appear without a reload.
    expect(page.locator(f"#follow-up-person-{person.pk} .timeline")).to_contain_text("Discussed the renewal")
    expect(page.locator(f"#follow-up-person-{person.pk} .open-tasks")).to_contain_text("Follow up with 周杰")
    assert Activity.objects.filter(person=person).count() == 1
    assert Task.objects.filter(person=person, status="open").count() == 1

    page.goto(f"{base}/follow-up/my-day/")
    expect(page.locator("#today, #overdue").filter(has_text="Follow up with 周杰")).to_have_count(1)
    context.close()

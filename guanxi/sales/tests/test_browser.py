"""The kanban board in a real browser: drag a card to Won and see the columns and forecast follow."""

import datetime
import shutil
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from guanxi.sales.models import Opportunity
from guanxi.sales.tests.factories import OpportunityFactory
from guanxi.staff.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        yield browser
        browser.close()


def test_drag_to_won_and_to_lost(transactional_db: None, live_server: Any, browser: Browser, rep: User) -> None:
    today = datetime.date.today()
    deal = OpportunityFactory.create(actor=rep, name="Drag me", amount=Decimal("1000"), expected_close_date=today)
    other = OpportunityFactory.create(actor=rep, name="Lose me", amount=Decimal("300"), expected_close_date=today)
    base = live_server.url
    context = browser.new_context(locale="en-GB", viewport={"width": 1900, "height": 1000})
    context.set_default_timeout(30_000)  # a busy 2-core machine answers the first page slowly
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", "correct horse battery")
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/sales/board/{deal.pipeline_id}/")
    won = page.locator(".board-column[data-kind=won]")
    expect(won.locator(".column-count")).to_have_attribute("data-count", "0")
    page.drag_and_drop(f'.board-card[data-id="{deal.pk}"]', ".board-column[data-kind=won]")
    expect(won.locator(".column-count")).to_have_attribute("data-count", "1")
    expect(won.locator(".column-total")).to_have_text("1,000")
    expect(won.locator(f'.board-card[data-id="{deal.pk}"]')).to_be_visible()
    assert Opportunity.objects.get(pk=deal.pk).status == "won"

    # A lost column asks why; the move happens only with a reason.
    page.drag_and_drop(f'.board-card[data-id="{other.pk}"]', ".board-column[data-kind=lost]")
    dialog = page.locator("#lost-dialog")
    expect(dialog).to_be_visible()
    page.select_option("#lost-reason", "price")
    dialog.locator("button[value=ok]").click()
    lost = page.locator(".board-column[data-kind=lost]")
    expect(lost.locator(".column-count")).to_have_attribute("data-count", "1")
    assert Opportunity.objects.get(pk=other.pk).lost_reason == "price"

    page.goto(f"{base}/sales/forecast/")
    expect(page.locator("#stat-win-rate")).to_have_text("50%")
    expect(page.locator("#stat-won-amount")).to_have_text("1,000")
    context.close()

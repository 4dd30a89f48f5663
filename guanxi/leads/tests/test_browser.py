"""The lead's way in a real browser: a visitor fills the public web form, the rep finds the lead
in the list, qualifies it and converts it with an opportunity, drags that opportunity across the
board to won and sees the forecast count it."""

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from guanxi.leads.models import Lead
from guanxi.leads.tests.factories import WebFormFactory
from guanxi.staff.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

PASSWORD = "correct horse battery"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-dev-shm-usage", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        yield browser
        browser.close()


def test_web_form_to_converted_lead(transactional_db: None, live_server: Any, browser: Browser, rep: User) -> None:
    base = live_server.url
    web_form = WebFormFactory.create(name="Expo enquiry", default_owner=rep)
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(30_000)  # the shared test machine can be slow

    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")
    anonymous = browser.new_context(locale="en-GB")  # the visitor is nobody signed in
    anonymous.set_default_timeout(30_000)
    visitor = anonymous.new_page()
    visitor.goto(f"{base}/leads/form/{web_form.public_key}/")
    visitor.fill("#id_family_name", "Fischer")
    visitor.fill("#id_given_name", "Anna")
    visitor.fill("#id_company_name", "Fischer Optics GmbH")
    visitor.fill("#id_email", "anna@fischer-optics.example")
    visitor.fill("#id_message", "Please send a quote.")
    visitor.click("form button[type=submit]")
    expect(visitor.locator("#thanks")).to_contain_text("Thanks, we will call you.")
    anonymous.close()
    lead = Lead.objects.get()
    assert (lead.source, lead.owner) == ("web_form", rep)

    page.goto(f"{base}/leads/")
    page.click("text=Anna Fischer")
    expect(page.locator("h1")).to_have_text("Anna Fischer")
    page.select_option("#id_status", "qualified")
    page.click("#status button[type=submit]")
    expect(page.locator(".messages")).to_contain_text("Status changed.")

    page.click("text=Convert")
    expect(page.locator("h1")).to_contain_text("Convert the lead")
    page.check("input[name=account][value=new]")
    page.check("#id_create_opportunity")
    page.fill("#id_opportunity_name", "Lens order")
    page.fill("#id_amount", "25000")
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(r"/accounts/\d+/$"))
    expect(page.locator("h1")).to_have_text("Fischer Optics GmbH")
    expect(page.locator("#converted-from-lead")).to_contain_text("Converted from lead Anna Fischer")
    lead.refresh_from_db()
    assert lead.status == "converted"
    assert lead.converted_opportunity is not None
    assert lead.converted_opportunity.name == "Lens order"

    deal = lead.converted_opportunity
    page.goto(f"{base}/sales/forecast/")
    expect(page.locator("#stat-won-amount")).to_have_text("0")
    page.goto(f"{base}/sales/board/{deal.pipeline_id}/")
    for stage in deal.pipeline.stages.order_by("position"):
        page.drag_and_drop(f'.board-card[data-id="{deal.pk}"]', f'.board-column[data-stage="{stage.pk}"]')
        expect(page.locator(f'.board-column[data-stage="{stage.pk}"] .board-card[data-id="{deal.pk}"]')).to_be_visible()
        if stage.kind == "won":
            break
    expect(page.locator(".board-column[data-kind=won] .column-total")).to_have_text("25,000")
    page.goto(f"{base}/sales/forecast/")
    expect(page.locator("#stat-won-amount")).to_have_text("25,000")
    expect(page.locator("#stat-win-rate")).to_have_text("100%")
    context.close()

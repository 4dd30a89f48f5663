"""The web UI in a real browser: Debian's chromium driven by Playwright, against a live server."""

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from guanxi.customers.models import Account, Person, Role
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
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


def _log_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")


def _no_horizontal_overflow(page: Page) -> bool:
    result: Any = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    return bool(result)


def test_create_link_find_and_assign(
    transactional_db: None, live_server: Any, browser: Browser, manager: User, rep: User
) -> None:
    base = live_server.url
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page, base, "manager")

    # Create an account.
    page.click("nav >> text=Accounts")
    page.click("text=New account")
    page.fill("#id_name", "华为技术有限公司")
    page.select_option("#id_market_segment", "enterprise")
    page.fill("#id_addresses-0-line1", "坂田华为基地")
    page.fill("#id_addresses-0-city", "深圳")
    page.click("form.card button[type=submit]")
    expect(page.locator("h1")).to_have_text("华为技术有限公司")
    expect(page.locator(".messages")).to_contain_text("Created the account")
    account = Account.objects.get(name="华为技术有限公司")

    # A form error shows next to its field, then create the contact.
    page.goto(f"{base}/people/new/")
    page.fill("#id_family_name", "李")
    page.fill("#id_given_name", "雷")
    page.fill("#id_emails", "lilei@example.com\nnot-an-address")
    page.fill("#id_phones", "138 1234 5678")
    page.click("form.card button[type=submit]")
    expect(page.locator(".field.has-error .error")).to_contain_text("Line 2:")
    assert not Person.objects.exists()
    page.fill("#id_emails", "lilei@example.com")
    page.click("form.card button[type=submit]")
    expect(page.locator("h1")).to_have_text("李雷")
    person = Person.objects.get(full_name="李雷")

    # Link them with a role, picking the account from the search-as-you-type list.
    page.click("summary:has-text('Add a role at an account')")
    page.fill("#role_party", "华为")
    option = page.locator("#role-party-options option").first
    option.wait_for(state="attached")
    value = option.get_attribute("value")
    assert value is not None
    assert value.startswith(f"{account.pk} ")
    page.fill("#role_party", value)
    page.select_option("#role_kind", "purchaser")
    page.fill("#role_job_title", "采购经理")
    page.click("#roles button:has-text('Add role')")
    expect(page.locator("#roles")).to_contain_text("华为技术有限公司")
    assert Role.objects.filter(person=person, account=account, kind="purchaser").exists()

    # Find the contact by the last digits of the phone among others.
    PersonFactory.create(actor=manager, family_name="王", given_name="芳", phones=["13900001111"])
    page.goto(f"{base}/people/")
    expect(page.locator("table.records tbody tr")).to_have_count(2)
    page.fill("#id_q", "5678")
    page.press("#id_q", "Enter")
    expect(page.locator("table.records tbody tr")).to_have_count(1)
    expect(page.locator("table.records tbody")).to_contain_text("李雷")

    # Bulk-assign it to the rep.
    page.check("table.records tbody input[name=ids]")
    page.select_option("#bulk-action", "assign")
    page.select_option("select[name=owner][data-for-actions]", str(rep.pk))
    page.click("text=Apply to selected")
    expect(page.locator(".messages")).to_contain_text(f"Assigned 1 contact to {rep}.")
    person.refresh_from_db()
    assert person.owner == rep
    context.close()


def test_phone_sized_screen_has_no_horizontal_overflow(
    transactional_db: None, live_server: Any, browser: Browser, rep: User
) -> None:
    account = AccountFactory.create(actor=rep, name="Shenzhen Very Long Trading Company Name Limited", tags=["VIP"])
    person = PersonFactory.create(
        actor=rep,
        family_name="欧阳",
        given_name="娜娜",
        emails=["nana.ouyang.with.a.rather.long.address@example-company.com.cn"],
        phones=["13812345678"],
        tags=["VIP", "华南"],
    )
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page, live_server.url, "rep")
    for path in (
        "/",
        "/people/",
        f"/people/{person.pk}/",
        "/accounts/",
        f"/accounts/{account.pk}/",
        "/people/new/",
        "/accounts/new/",
    ):
        page.goto(live_server.url + path)
        assert _no_horizontal_overflow(page), path
    # The nav collapses behind a menu button on a phone.
    expect(page.locator("#mainnav")).to_be_hidden()
    page.click("label.nav-toggle-label")
    expect(page.locator("#mainnav")).to_be_visible()
    assert re.search(r"/accounts/new/$", page.url)
    context.close()

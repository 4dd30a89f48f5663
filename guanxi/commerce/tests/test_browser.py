"""Taking an order in a real browser: from the contact's page, with a line used by someone else,
then a payment and a status move. Debian's chromium driven by Playwright, against a live server."""

import shutil
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from guanxi.commerce.models import Order
from guanxi.commerce.tests.factories import ProductFactory
from guanxi.customers.tests.factories import PersonFactory
from guanxi.staff.models import User

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed"),
]

PASSWORD = "correct horse battery"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=ARGS)
        yield browser
        browser.close()


def test_order_from_contact_page_with_a_user_per_line(
    transactional_db: None, live_server: Any, browser: Browser, rep: User
) -> None:
    parent = PersonFactory.create(actor=rep, family_name="周", given_name="芳")
    child = PersonFactory.create(actor=rep, family_name="周", given_name="小米")
    product = ProductFactory.create(name="Piano lessons", unit_price=Decimal("300"))
    base = live_server.url
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{base}/login/")
    page.fill("#id_username", "rep")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/people/{parent.pk}/")
    page.click("#orders >> text=New order")
    expect(page.locator("#id_buyer_person")).to_have_value(f"{parent.pk} · 周芳")
    page.select_option("#id_lines-0-product", str(product.pk))
    page.fill("#id_lines-0-quantity", "2")
    page.fill("#id_lines-0-user_person", f"{child.pk}")
    page.click("button[name=add_line]")
    expect(page.locator("#line-3")).to_be_visible()
    page.click("text=Create order")
    expect(page.locator(".messages")).to_contain_text("Created the order SO-000001")
    expect(page.locator("#lines")).to_contain_text("周小米")

    page.click("#payments summary")
    page.fill("#id_amount", "600")
    page.select_option("#id_method", "wechat_pay")
    page.click("text=Record payment >> nth=-1")
    expect(page.locator(".messages")).to_contain_text("Recorded the payment.")
    page.click("text=Mark as Fulfilled")
    expect(page.locator(".messages")).to_contain_text("The order is now Fulfilled.")
    order = Order.objects.get()
    assert (order.status, order.paid_amount, order.lines.get().user_person) == ("fulfilled", Decimal("600.00"), child)

    page.goto(f"{base}/people/{child.pk}/")
    expect(page.locator("#orders")).to_contain_text("Piano lessons")
    expect(page.locator("#orders")).to_contain_text("周芳")

"""An import in a real browser: upload a CSV with Chinese headers and one bad row, check the
suggested mapping, dry-run it, see the rejected row, import the good rows, find the contacts.

The live server runs the import task with the test settings' ImmediateBackend, i.e. when the
request that queued it commits; the page's progress bar then finds the job already finished.
"""

import io
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from guanxi.customers.models import Person
from guanxi.dataio.models import ImportJob
from guanxi.dataio.services import importing
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
CSV = (
    "姓名,手机,邮箱,公司\n"
    "张伟,13812345678,zhangwei@example.com,华为\n"
    "李娜,13912345678,not-an-address,腾讯\n"
    "王芳,13712345678,wangfang@example.com,\n"
)


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


def test_import_contacts_with_a_dry_run(
    transactional_db: None,
    live_server: Any,
    browser: Browser,
    rep: User,
    settings: Any,
    tmp_path: Path,
) -> None:
    settings.DATA_DIR = tmp_path
    csv_file = tmp_path / "客户名单.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    base = live_server.url
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page, base, "rep")

    # Start an import of contacts and upload the file.
    page.goto(f"{base}/data/imports/")
    page.click("text=Import contacts")
    expect(page.locator("input[name=target][value=person]")).to_be_checked()
    page.set_input_files("#id_file", str(csv_file))
    page.click("form.card button[type=submit]")

    # The mapping is suggested from the Chinese headers, with sample values beside each column.
    expect(page.locator("h1")).to_have_text("Map the columns")
    expect(page.locator("select[name=column_0]")).to_have_value("full_name")
    expect(page.locator("select[name=column_1]")).to_have_value("mobile")
    expect(page.locator("select[name=column_2]")).to_have_value("email")
    expect(page.locator("select[name=column_3]")).to_have_value("company")
    expect(page.locator("table.mapping")).to_contain_text("张伟")
    page.check("input[name=mode][value=good_rows]")
    page.click("text=Run a dry run")

    # The dry run: two to create, one rejected at line 3 for its e-mail; nothing written yet.
    expect(page.locator("h1")).to_have_text("Dry run result")
    expect(page.locator("[data-count=created] strong")).to_have_text("2")
    expect(page.locator("[data-count=rejected] strong")).to_have_text("1")
    expect(page.locator("table.problems tbody tr")).to_have_count(1)
    expect(page.locator("table.problems tbody td").first).to_have_text("3")
    expect(page.locator("table.problems tbody")).to_contain_text("邮箱")
    expect(page.locator("button[value=all_or_nothing]")).to_have_count(0)
    assert not Person.objects.exists()

    # Import the good rows; the page shows the outcome and offers the rejected rows.
    page.click("button[value=good_rows]")
    expect(page.locator("h1")).to_have_text("Import finished")
    expect(page.locator("[data-count=created] strong")).to_have_text("2")
    with page.expect_download() as download_info:
        page.click("text=Download rejected rows")
    downloaded = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    assert downloaded.splitlines()[1].startswith("李娜,13912345678,not-an-address,腾讯,3,")

    # The contacts are in the contacts list, owned by the importer.
    page.click("text=See the contacts")
    assert re.search(r"/people/$", page.url)
    expect(page.locator("table.records tbody tr")).to_have_count(2)
    expect(page.locator("table.records tbody")).to_contain_text("张伟")
    expect(page.locator("table.records tbody")).to_contain_text("王芳")
    assert set(Person.objects.values_list("owner", flat=True)) == {rep.pk}

    # The imports list shows it with its counts, after a reload as well.
    page.goto(f"{base}/data/imports/")
    expect(page.locator("table.import-list tbody tr")).to_have_count(1)
    expect(page.locator("table.import-list tbody")).to_contain_text("客户名单.csv")
    assert ImportJob.objects.get().created_count == 2
    context.close()


def test_import_pages_fit_a_phone_screen(
    transactional_db: None, live_server: Any, browser: Browser, rep: User, settings: Any, tmp_path: Path
) -> None:
    settings.DATA_DIR = tmp_path
    long_header = "A rather long column header that someone typed into Excel,邮箱\n"
    data = (long_header + "nana.ouyang.with.a.rather.long.address@example-company.com.cn,x@example.com\n").encode()
    job = importing.start_import(rep, io.BytesIO(data), "a-long-file-name-from-a-shared-drive.csv", "person")
    context = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page, live_server.url, "rep")
    for path in ("/data/imports/", "/data/imports/new/", f"/data/imports/{job.pk}/mapping/"):
        page.goto(live_server.url + path)
        fits: Any = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, path
    context.close()


ORDERS_CSV = (
    "订单号,下单时间,客户,商品编码,数量,使用人,实付金额\n"
    "SHOP-7,2026-04-03 09:00,明远科技,TEA-001,2,lina@example.com,100\n"
    "SHOP-7,2026-04-03 09:00,明远科技,TEA-001,1,,100\n"
    "SHOP-8,2026-04-04,明远科技,NOPE,1,,\n"
)


def test_import_orders_and_find_them_in_the_orders_list(
    transactional_db: None, live_server: Any, browser: Browser, rep: User, settings: Any, tmp_path: Path
) -> None:
    from decimal import Decimal

    from guanxi.commerce.models import Order
    from guanxi.commerce.tests.factories import ProductFactory
    from guanxi.customers.tests.factories import AccountFactory, PersonFactory

    settings.DATA_DIR = tmp_path
    ProductFactory.create(sku="TEA-001", name="Longjing tea", unit_price=Decimal("88.00"))
    AccountFactory.create(name="明远科技", owner=rep)
    PersonFactory.create(family_name="李", given_name="娜", owner=rep, emails=["lina@example.com"])
    csv_file = tmp_path / "店铺订单.csv"
    csv_file.write_text(ORDERS_CSV, encoding="utf-8")
    base = live_server.url
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page, base, "rep")

    page.goto(f"{base}/data/imports/")
    page.click("text=Import orders")
    expect(page.locator("input[name=target][value=order]")).to_be_checked()
    page.set_input_files("#id_file", str(csv_file))
    page.click("form.card button[type=submit]")

    # The Chinese headers are mapped onto order fields; orders are never "updated".
    expect(page.locator("h1")).to_have_text("Map the columns")
    expect(page.locator("select[name=column_0]")).to_have_value("external_id")
    expect(page.locator("select[name=column_2]")).to_have_value("buyer")
    expect(page.locator("select[name=column_5]")).to_have_value("user")
    expect(page.locator("input[name=on_duplicate][value=update]")).to_have_count(0)
    page.check("input[name=mode][value=good_rows]")
    page.click("text=Run a dry run")

    # One order to create, one row rejected for its unknown SKU; nothing written yet.
    expect(page.locator("h1")).to_have_text("Dry run result")
    expect(page.locator("[data-count=created] strong")).to_have_text("1")
    expect(page.locator("[data-count=rejected] strong")).to_have_text("1")
    expect(page.locator("table.problems tbody")).to_contain_text("No product has the SKU NOPE.")
    assert not Order.objects.exists()

    page.click("button[value=good_rows]")
    expect(page.locator("h1")).to_have_text("Import finished")
    expect(page.locator("[data-count=created] strong")).to_have_text("1")

    # The order is in the orders list, with its payment.
    page.click("text=See the orders")
    assert re.search(r"/commerce/orders/$", page.url)
    expect(page.locator("table.records tbody tr")).to_have_count(1)
    expect(page.locator("table.records tbody")).to_contain_text("明远科技")
    order = Order.objects.get()
    assert (order.external_id, order.paid_amount, order.lines.count()) == ("SHOP-7", Decimal("100.00"), 2)
    expect(page.locator("table.records tbody")).to_contain_text(order.number)
    context.close()

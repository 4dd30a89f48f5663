"""Importing orders from a file: grouping rows into orders, every problem a real shop export has,
good rows and all or nothing, idempotent re-imports, buyers and users, payments and history."""

import datetime
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from guanxi.commerce.models import Order, OrderLine, Payment
from guanxi.commerce.tests.factories import ProductFactory
from guanxi.core.models import ChangeRecord
from guanxi.customers.tests.factories import AccountFactory, PersonFactory
from guanxi.dataio.models import ImportJob, ImportStage, JobStatus
from guanxi.dataio.services import importing, importing_orders
from guanxi.staff.models import StaffRole, User
from guanxi.staff.tests.factories import UserFactory

HEADER = "订单号,下单时间,客户,买家邮箱,商品编码,商品名称,数量,单价,折扣,使用人,币种,渠道,状态,实付金额,支付方式"


@pytest.fixture(autouse=True)
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    settings.GUANXI_DEFAULT_PHONE_REGION = "CN"
    return tmp_path


@pytest.fixture
def shop(rep: User) -> dict[str, Any]:
    """Two products, an account and two contacts the rep owns (so the rep sees them)."""
    return {
        "tea": ProductFactory.create(sku="TEA-001", name="Longjing tea", unit_price=Decimal("88.00")),
        "cup": ProductFactory.create(sku="CUP-002", name="Tea cup", unit_price=Decimal("20.00")),
        "acme": AccountFactory.create(name="明远科技", owner=rep, phone="+862155551234"),
        "zhang": PersonFactory.create(family_name="张", given_name="伟", owner=rep, emails=["zhangwei@example.com"]),
        "li": PersonFactory.create(
            family_name="李", given_name="娜", owner=rep, emails=["lina@example.com"], phones=["13912345678"]
        ),
    }


def _csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _job(actor: User, data: bytes, *, mode: str = "good_rows", mapping: dict[str, str] | None = None) -> ImportJob:
    job = importing.start_import(actor, io.BytesIO(data), "orders.csv", "order")
    return importing.set_mapping(actor, job, mapping or job.mapping, mode, "skip")


def _run(actor: User, data: bytes, *, mode: str = "good_rows", dry_run: bool = False) -> ImportJob:
    return importing.run_import(_job(actor, data, mode=mode).pk, dry_run=dry_run)


def _problems(job: ImportJob) -> list[tuple[int, str, str]]:
    return [(p.line, p.column, p.reason) for p in job.problems.order_by("line", "id")]


def _counts(job: ImportJob) -> tuple[int, int, int, int]:
    return job.created_count, job.updated_count, job.skipped_count, job.rejected_count


GOOD = _csv(
    HEADER,
    "SHOP-1,2026-05-01 10:30,明远科技,,TEA-001,,2,88.00,0,,CNY,网店,已确认,100,支付宝",
    "SHOP-1,2026-05-01 10:30,明远科技,,CUP-002,,3,,5,李娜,CNY,网店,已确认,100,支付宝",
    "SHOP-2,2026/5/2 9:05,,zhangwei@example.com,,Gift wrapping,1,15,,13912345678,,direct,,,",
)


# -- mapping ------------------------------------------------------------------------------------


def test_chinese_headers_are_mapped_onto_order_fields(rep: User) -> None:
    job = importing.start_import(rep, io.BytesIO(GOOD), "orders.csv", "order")
    assert job.mapping == {
        "订单号": "external_id",
        "下单时间": "ordered_at",
        "客户": "buyer",
        "买家邮箱": "buyer_email",
        "商品编码": "sku",
        "商品名称": "description",
        "数量": "quantity",
        "单价": "unit_price",
        "折扣": "discount",
        "使用人": "user",
        "币种": "currency",
        "渠道": "channel",
        "状态": "status",
        "实付金额": "paid_amount",
        "支付方式": "payment_method",
    }


def test_english_sample_file_maps_every_column(rep: User) -> None:
    sample = importing_orders.sample_orders_csv().encode("utf-8")
    job = importing.start_import(rep, io.BytesIO(sample), "sample.csv", "order")
    assert job.total == 2
    assert "" not in job.mapping.values()
    assert set(job.mapping.values()) >= {"external_id", "buyer", "buyer_email", "sku", "user", "paid_amount"}


def test_an_orders_mapping_needs_a_reference_a_buyer_and_a_product(rep: User) -> None:
    job = importing.start_import(rep, io.BytesIO(GOOD), "orders.csv", "order")
    with pytest.raises(ValidationError) as caught:
        importing.set_mapping(rep, job, {"数量": "quantity"}, "good_rows", "skip")
    assert caught.value.message_dict == {
        "mapping": [
            "Map a column to the order reference: it groups the rows into orders.",
            "Map a column to the buyer: a name, an e-mail, a phone or an ID.",
            "Map a column to the product SKU or to the description.",
        ]
    }
    with pytest.raises(ValidationError) as caught:
        importing.set_mapping(rep, job, job.mapping, "good_rows", "update")
    assert list(caught.value.message_dict) == ["on_duplicate"]


# -- the happy path ---------------------------------------------------------------------------------


def test_rows_become_orders_with_buyers_users_payments_and_history(rep: User, shop: dict[str, Any]) -> None:
    job = _run(rep, GOOD)
    assert (job.status, job.stage, job.processed, job.total) == (JobStatus.DONE, ImportStage.IMPORTED, 3, 3)
    assert _counts(job) == (2, 0, 0, 0)
    assert _problems(job) == []

    first = Order.objects.get(external_id="SHOP-1")
    assert (first.buyer_account, first.buyer_person) == (shop["acme"], None)
    assert first.ordered_at == timezone.make_aware(datetime.datetime(2026, 5, 1, 10, 30))  # made aware
    assert (first.channel, first.status, first.currency) == ("online_shop", "confirmed", "CNY")
    lines = list(first.lines.order_by("position"))
    assert [(line.product, line.quantity, line.unit_price, line.discount_amount) for line in lines] == [
        (shop["tea"], Decimal("2.000"), Decimal("88.00"), Decimal("0.00")),
        (shop["cup"], Decimal("3.000"), Decimal("20.00"), Decimal("5.00")),  # the product's own price
    ]
    assert [line.user_person for line in lines] == [None, shop["li"]]  # the buyer is the account; 李娜 uses the cups
    assert first.total_amount == Decimal("231.00")
    assert first.paid_amount == Decimal("100.00")
    payment = Payment.objects.get(order=first)
    assert (payment.amount, payment.method, payment.paid_at, payment.reference) == (
        Decimal("100.00"),
        "alipay",
        first.ordered_at,
        f"import {job.pk}",
    )

    second = Order.objects.get(external_id="SHOP-2")
    assert (second.buyer_person, second.channel, second.status) == (shop["zhang"], "direct", "confirmed")
    line = second.lines.get()
    assert (line.product, line.description, line.unit_price, line.user_person) == (
        None,
        "Gift wrapping",
        Decimal("15.00"),
        shop["li"],  # found by her mobile number: bought by 张伟, used by 李娜
    )
    assert not second.payments.exists()

    order_type = ContentType.objects.get_for_model(Order)
    history = ChangeRecord.objects.filter(content_type=order_type, object_id=first.pk).order_by("id")
    # One history row: the order is stored already paid, the import named in its note.
    assert [(record.action, record.note) for record in history] == [("create", f"import {job.pk}")]
    assert history[0].actor == rep
    assert history[0].changes["paid_amount"] == [None, "100.00"]
    shop["acme"].refresh_from_db()
    assert shop["acme"].last_won_at is not None


def test_reimporting_the_same_file_creates_nothing_twice(rep: User, shop: dict[str, Any]) -> None:
    _run(rep, GOOD)
    again = _run(rep, GOOD)
    assert again.status == JobStatus.DONE
    assert _counts(again) == (0, 0, 2, 0)
    numbers = dict(Order.objects.values_list("external_id", "number"))
    assert _problems(again) == [
        (2, "订单号", f"Skipped: order SHOP-1 was imported already ({numbers['SHOP-1']})."),
        (4, "订单号", f"Skipped: order SHOP-2 was imported already ({numbers['SHOP-2']})."),
    ]
    assert (Order.objects.count(), OrderLine.objects.count(), Payment.objects.count()) == (2, 3, 1)


def test_dry_run_counts_exactly_and_writes_nothing(rep: User, shop: dict[str, Any]) -> None:
    job = _run(rep, GOOD, dry_run=True)
    assert (job.status, job.stage) == (JobStatus.DONE, ImportStage.CHECKED)
    assert _counts(job) == (2, 0, 0, 0)
    assert not Order.objects.exists()
    assert not Payment.objects.exists()
    assert not ChangeRecord.objects.filter(content_type=ContentType.objects.get_for_model(Order)).exists()
    job = importing.run_import(job.pk, dry_run=False)
    assert (job.status, _counts(job), Order.objects.count()) == (JobStatus.DONE, (2, 0, 0, 0), 2)


def test_rows_of_one_order_may_be_apart_and_batches_never_split_an_order(
    rep: User, shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing_orders, "BATCH_SIZE", 2)
    data = _csv(
        "Order reference,Buyer,SKU,Quantity",
        "A,明远科技,TEA-001,1",
        "B,明远科技,TEA-001,2",
        "C,明远科技,CUP-002,1",
        "A,明远科技,CUP-002,4",
        "B,明远科技,CUP-002,5",
    )
    job = _run(rep, data)
    assert (job.status, _counts(job), job.processed) == (JobStatus.DONE, (3, 0, 0, 0), 5)
    quantities = {
        order.external_id: [line.quantity for line in order.lines.order_by("position")]
        for order in Order.objects.prefetch_related("lines")
    }
    assert quantities == {
        "A": [Decimal("1.000"), Decimal("4.000")],
        "B": [Decimal("2.000"), Decimal("5.000")],
        "C": [Decimal("1.000")],
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01", (2026, 5, 1, 0, 0, 0)),
        ("2026-05-01 10:30", (2026, 5, 1, 10, 30, 0)),
        ("2026/5/1 10:30:15", (2026, 5, 1, 10, 30, 15)),
        ("2026.5.1", (2026, 5, 1, 0, 0, 0)),
        ("2026年5月1日 10:30", (2026, 5, 1, 10, 30, 0)),
        ("2026年5月1日10时30分", (2026, 5, 1, 10, 30, 0)),
        ("20260501", (2026, 5, 1, 0, 0, 0)),
        ("05/01/2026 2:30 PM", (2026, 5, 1, 14, 30, 0)),
        ("13/05/2026 12:05 am", (2026, 5, 13, 0, 5, 0)),
    ],
)
def test_order_dates_in_the_formats_people_write(text: str, expected: tuple[int, ...]) -> None:
    parsed = importing_orders.parse_ordered_at(text)
    assert timezone.localtime(parsed).timetuple()[:6] == expected


def test_an_order_date_with_its_offset_keeps_it() -> None:
    parsed = importing_orders.parse_ordered_at("2026-05-01T10:30:00+08:00")
    assert parsed == datetime.datetime(2026, 5, 1, 2, 30, tzinfo=datetime.UTC)


@pytest.mark.parametrize("text", ["2026-13-01", "yesterday", "2026-05-01 25:00", "1/2/3"])
def test_unreadable_order_dates(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  # the message is the caller's
        importing_orders.parse_ordered_at(text)


# -- problems -------------------------------------------------------------------------------------


def test_every_problem_names_its_line_and_column_and_bad_orders_are_rejected_whole(
    rep: User, shop: dict[str, Any]
) -> None:
    data = _csv(
        HEADER,
        "OK-1,2026-05-01,明远科技,,TEA-001,,1,,,,,,,,",
        "BAD-1,2026-05-01,明远科技,,NOPE-9,,1,,,,,,,,",  # unknown SKU
        "BAD-1,2026-05-01,明远科技,,TEA-001,,1,,,,,,,,",  # a good line of a bad order
        "BAD-2,someday,明远科技,,TEA-001,,-2,,,,,,,,",  # bad date, negative quantity
        "BAD-3,2026-05-01,无名公司,,TEA-001,,1,,,,,,,,",  # buyer not found
        "BAD-4,2026-05-01,明远科技,,TEA-001,,1,,,,CNY,,,,",
        "BAD-4,2026-05-01,明远科技,,TEA-001,,1,,,,USD,,,,",  # mixed currencies
        "BAD-5,2026-05-01,明远科技,,TEA-001,,1,,,,,,,,",
        "BAD-5,2026-05-01,,zhangwei@example.com,TEA-001,,1,,,,,,,,",  # mixed buyers
        ",2026-05-01,明远科技,,TEA-001,,1,,,,,,,,",  # no reference
        "BAD-6,2026-05-01,明远科技,,TEA-001,,1,,,nobody@example.com,,,,,",  # user not found
        "BAD-7,2026-05-01,明远科技,,TEA-001,,1,50,,,,,,60,",  # paid more than the total
        "BAD-8,2026-05-01,明远科技,,TEA-001,,1,50,,,,,已取消,10,",  # paid for a cancelled order
        "BAD-9,2026-05-01,明远科技,,TEA-001,,1,,,,,邮购,,,",  # unknown channel
    )
    job = _run(rep, data)
    assert job.status == JobStatus.DONE
    assert _counts(job) == (1, 0, 0, 13)
    assert _problems(job) == [
        (3, "商品编码", "No product has the SKU NOPE-9."),
        (4, "订单号", "Not imported: line 3 of the same order has a problem."),
        (
            5,
            "下单时间",
            "someday is not a date we can read; write it as 2026-05-01 10:30, 2026/5/1 or 2026年5月1日.",
        ),
        (5, "数量", "The quantity must be more than zero; a return is an order with status returned."),
        (6, "客户", "No customer you can see is called 无名公司; import the customer first."),
        (7, "订单号", "Not imported: line 8 of the same order has a problem."),
        (8, "币种", "Mixed currencies in one order: line 7 is in CNY."),
        (9, "订单号", "Not imported: line 10 of the same order has a problem."),
        (10, "买家邮箱", "Mixed buyers in one order: line 9 names 明远科技."),
        (11, "订单号", "Enter the order reference: the rows of one order share it."),
        (12, "使用人", "No contact has the e-mail nobody@example.com; import the customer first."),
        (13, "实付金额", "The paid amount 60.00 is more than the order's total 50.00."),
        (14, "实付金额", "A Cancelled order takes no payments."),
        (
            15,
            "渠道",
            "邮购 is not one of: direct, distributor, online_shop.",
        ),
    ]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["OK-1"]
    rejected = "".join(importing.rejected_rows_csv(job)).splitlines()
    assert rejected[0].lstrip("\ufeff").endswith(",line,problem")
    assert [row.split(",")[0] for row in rejected[1:]] == [
        "BAD-1", "BAD-1", "BAD-2", "BAD-3", "BAD-4", "BAD-4", "BAD-5", "BAD-5", "", "BAD-6", "BAD-7", "BAD-8", "BAD-9",
    ]  # fmt: skip


def test_all_or_nothing_writes_nothing_when_one_row_is_bad(rep: User, shop: dict[str, Any]) -> None:
    data = _csv(
        "Order reference,Buyer,SKU,Quantity",
        "A,明远科技,TEA-001,1",
        "B,明远科技,NOPE,1",
    )
    job = _run(rep, data, mode="all_or_nothing")
    assert (job.status, job.stage) == (JobStatus.FAILED, ImportStage.CHECKED)
    assert "1 rows were rejected, so nothing was imported" in job.error
    assert not Order.objects.exists()
    good = _run(rep, _csv("Order reference,Buyer,SKU,Quantity", "A,明远科技,TEA-001,1"), mode="all_or_nothing")
    assert (good.status, _counts(good), Order.objects.count()) == (JobStatus.DONE, (1, 0, 0, 0), 1)


def test_buyers_by_phone_id_and_name_and_ambiguous_names(rep: User, shop: dict[str, Any]) -> None:
    PersonFactory.create(family_name="王", given_name="芳", owner=rep)
    PersonFactory.create(family_name="王", given_name="芳", owner=rep)
    data = _csv(
        "Order reference,Buyer,Buyer contact ID,SKU",
        "P1,021 5555 1234,,TEA-001",  # the account's phone
        "P2,139-1234-5678,,TEA-001",  # the contact's mobile
        f"P3,,{shop['zhang'].pk},TEA-001",
        "P4,李娜,,TEA-001",  # a contact's name, when no account has it
        "P5,王芳,,TEA-001",  # two contacts have it
        "P6,,999999,TEA-001",
    )
    job = _run(rep, data)
    buyers = {o.external_id: (o.buyer_account_id, o.buyer_person_id) for o in Order.objects.all()}
    assert buyers == {
        "P1": (shop["acme"].pk, None),
        "P2": (None, shop["li"].pk),
        "P3": (None, shop["zhang"].pk),
        "P4": (None, shop["li"].pk),
    }
    assert _problems(job) == [
        (6, "Buyer", "2 contacts are called 王芳; use their e-mail, phone or contact ID."),
        (7, "Buyer contact ID", "No contact has the ID 999999."),
    ]


def test_a_buyer_the_importer_may_not_see_is_refused_by_the_feeds_rule(
    rep: User, outside_rep: User, shop: dict[str, Any]
) -> None:
    PersonFactory.create(family_name="赵", given_name="六", owner=outside_rep, emails=["zhao@example.com"])
    data = _csv("Order reference,Buyer e-mail,SKU", "X1,zhao@example.com,TEA-001", "X2,lina@example.com,TEA-001")
    job = _run(rep, data)
    assert _counts(job) == (1, 0, 0, 1)
    assert _problems(job) == [(2, "Buyer e-mail", "You may not see this person.")]
    assert list(Order.objects.values_list("external_id", flat=True)) == ["X2"]


# -- permission -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [StaffRole.MARKETER, StaffRole.ANALYST])
def test_only_staff_who_take_orders_may_import_them(role: str, db: None) -> None:
    user = UserFactory.create(role=role)
    with pytest.raises(PermissionDenied):
        importing.start_import(user, io.BytesIO(GOOD), "orders.csv", "order")
    assert not ImportJob.objects.exists()


def test_a_job_whose_creator_lost_the_right_fails_without_writing(rep: User, shop: dict[str, Any]) -> None:
    job = _job(rep, GOOD)
    User.objects.filter(pk=rep.pk).update(role=StaffRole.MARKETER)
    job = importing.run_import(job.pk, dry_run=False)
    assert job.status == JobStatus.FAILED
    assert job.error == "You may not import orders: only staff who take orders may."
    assert not Order.objects.exists()


def test_orders_never_reach_exports_or_duplicate_searches(admin_user: User) -> None:
    from guanxi.dataio import duplicates
    from guanxi.dataio.forms.exporting import ExportForm
    from guanxi.dataio.forms.merging import PairForm
    from guanxi.dataio.services import exporting

    assert not ExportForm({"target": "order", "format": "csv"}).is_valid()
    assert not PairForm({"target": "order", "first": 1, "second": 2}).is_valid()
    with pytest.raises(ValidationError):
        exporting.start_export(admin_user, exporting.ExportSpec.from_json("order", {}), "csv")
    with pytest.raises(ValueError, match="unknown target"):
        duplicates.find_and_store("order")


def test_the_orders_own_fields_may_be_filled_on_its_first_row_only(rep: User, shop: dict[str, Any]) -> None:
    data = _csv(
        "Order reference,Ordered at,Buyer,Status,SKU,Quantity",
        "F1,2026-03-02,明远科技,fulfilled,TEA-001,1",
        "F1,,,,CUP-002,2",
        "F2,2026-03-02,,,TEA-001,1",  # no buyer on any row
        "F2,,,,TEA-001,1",
    )
    job = _run(rep, data)
    assert _counts(job) == (1, 0, 0, 2)
    assert _problems(job) == [
        (4, "Buyer", "Enter the buyer: an account's name, or a contact's e-mail or phone."),
        (5, "Order reference", "Not imported: line 4 of the same order has a problem."),
    ]
    order = Order.objects.get()
    assert (order.external_id, order.status, order.buyer_account, order.lines.count()) == (
        "F1",
        "fulfilled",
        shop["acme"],
        2,
    )


def test_the_command_line_imports_orders(rep: User, shop: dict[str, Any], tmp_path: Path) -> None:
    from django.core.management import call_command

    path = tmp_path / "orders.csv"
    path.write_bytes(GOOD)
    out = io.StringIO()
    call_command("import_records", str(path), target="orders", user="rep", mode="good_rows", stdout=out)
    assert "Done: 2 were created" in out.getvalue()
    assert list(Order.objects.order_by("external_id").values_list("external_id", flat=True)) == ["SHOP-1", "SHOP-2"]


def test_a_payment_the_feed_refuses_rejects_its_order_only(rep: User, shop: dict[str, Any]) -> None:
    """Without a unit price the total is the product's price, known only to the feed: 88.00 < 90."""
    data = _csv(
        HEADER,
        "PAY-1,2026-05-01,明远科技,,TEA-001,,1,,,,,,,90,",
        "PAY-2,2026-05-01,明远科技,,TEA-001,,1,,,,,,,88,现金",
    )
    job = _run(rep, data)
    assert _counts(job) == (1, 0, 0, 1)
    assert _problems(job) == [(2, "实付金额", "Only 88.00 CNY is outstanding.")]
    order = Order.objects.get()
    assert (order.external_id, order.paid_amount) == ("PAY-2", Decimal("88.00"))
    assert list(Payment.objects.values_list("order__external_id", "amount", "method", "reference")) == [
        ("PAY-2", Decimal("88.00"), "cash", f"import {job.pk}")
    ]

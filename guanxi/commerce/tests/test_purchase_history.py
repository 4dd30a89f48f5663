"""Customer keys: their parts, and ordering them by integers as the strings sort."""

import numpy as np
import pytest
from django.db import connection

from guanxi.commerce import purchase_history
from guanxi.core.db import table_columns


def _order_of(keys: list[str]) -> list[str] | None:
    kinds, ids = purchase_history.key_parts(keys)
    order = purchase_history.key_order(kinds, ids)
    return None if order is None else [keys[i] for i in order.tolist()]


def test_keys_are_ordered_as_their_strings_sort() -> None:
    rng = np.random.default_rng(11)
    ids = [*rng.integers(1, 10**15, 300).tolist(), 1, 10, 100, 2, 20, 19, 9, 99, 101, 1000, 1001, 11, 110]
    keys = [f"{rng.choice(['a', 'p'])}{pk}" for pk in ids]
    keys = list(dict.fromkeys(keys))
    assert _order_of(keys) == sorted(keys)


def test_a_prefix_sorts_before_the_keys_it_starts() -> None:
    assert _order_of(["p10", "p9", "p1", "a7", "p100", "a70", "p2"]) == ["a7", "a70", "p1", "p10", "p100", "p2", "p9"]


@pytest.mark.parametrize("keys", [["p0", "p1"], ["x1", "p1"], [f"p{10**16}", "p1"]], ids=["zero", "kind", "long"])
def test_keys_the_arithmetic_cannot_order_exactly_are_left_to_string_sorting(keys: list[str]) -> None:
    assert _order_of(keys) is None


def test_no_keys_have_an_empty_order() -> None:
    order = purchase_history.key_order(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert order is not None
    assert order.tolist() == []


@pytest.mark.django_db
def test_the_database_splits_keys_as_python_does() -> None:
    keys = ["a12", "p7", "p1234567890123"]
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE guanxi_test_keys (customer varchar(24))")
        for key in keys:
            cursor.execute("INSERT INTO guanxi_test_keys (customer) VALUES (%s)", [key])
    parts = purchase_history.key_parts_sql("customer")
    customer, kinds, ids = table_columns(
        "guanxi_test_keys", [("customer", "text"), ("key_kind", "int64"), ("key_id", "int64")], expressions=parts
    )
    expected_kinds, expected_ids = purchase_history.key_parts(customer)
    assert kinds.tolist() == expected_kinds.tolist()
    assert ids.tolist() == expected_ids.tolist()
    assert sorted(zip(kinds.tolist(), ids.tolist(), strict=True)) == [
        (ord("a"), 12),
        (ord("p"), 7),
        (ord("p"), 1234567890123),
    ]

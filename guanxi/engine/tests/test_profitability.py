"""Profitability arithmetic: exact cents, no discount counted twice, CAC and CLV:CAC edge cases."""

import datetime as dt
from decimal import Decimal

from guanxi.engine import profitability as p

D = Decimal


def test_activity_cost_multiplies_counts_by_kind_cost_and_ignores_unpriced_kinds() -> None:
    assert p.activity_cost({"call": 3, "visit": 2, "note": 5}, {"call": D("12.50"), "visit": D("80")}) == D("197.50")


def test_cost_to_serve_adds_tickets() -> None:
    assert p.cost_to_serve(D("197.50"), 2, D("30.00")) == D("257.50")


def test_profit_subtracts_discounts_once_and_rounds_half_up() -> None:
    assert p.profit(D("1000.00"), D("100.00"), D("257.50")) == D("642.50")
    assert p.profit(D("0.005"), D("0"), D("0")) == D("0.01")
    assert p.profit(D("10"), D("0"), D("25")) == D("-15.00")


def test_cac_and_ratio() -> None:
    assert p.cac(D("1000"), 3) == D("333.33")
    assert p.cac(D("1000"), 0) is None
    assert p.clv_to_cac(D("1000"), D("250")) == 4.0
    assert p.clv_to_cac(None, D("250")) is None
    assert p.clv_to_cac(D("1000"), None) is None
    assert p.clv_to_cac(D("1000"), D("0")) is None


def test_acquisition_table_by_cohort_and_source_totals() -> None:
    jan, feb, mar = dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)
    spending = {("web_form", jan): D("900"), ("web_form", feb): D("300"), ("referral", mar): D("0")}
    customers = [
        p.Acquired("web_form", dt.date(2026, 1, 5), D("1200")),
        p.Acquired("web_form", dt.date(2026, 1, 28), None),
        p.Acquired("web_form", dt.date(2026, 1, 31), D("600")),
        p.Acquired("referral", dt.date(2026, 3, 2), D("50")),
        p.Acquired("cold_call", dt.date(2026, 2, 14), None),
    ]
    rows, totals = p.acquisition_table(spending, customers)
    assert [(r.source, r.cohort, r.spent, r.customers, r.cac, r.average_clv, r.clv_to_cac) for r in rows] == [
        ("cold_call", feb, D("0.00"), 1, D("0.00"), None, None),
        ("referral", mar, D("0.00"), 1, D("0.00"), D("50.00"), None),
        ("web_form", jan, D("900.00"), 3, D("300.00"), D("900.00"), 3.0),
        ("web_form", feb, D("300.00"), 0, None, None, None),
    ]
    web = next(t for t in totals if t.source == "web_form")
    assert (web.cohort, web.spent, web.customers, web.cac, web.average_clv, web.clv_to_cac) == (
        None,
        D("1200.00"),
        3,
        D("400.00"),
        D("900.00"),
        2.25,
    )
    assert [t.source for t in totals] == ["cold_call", "referral", "web_form"]


def test_histogram_keeps_zero_as_an_edge() -> None:
    values = [D("-300"), D("-100"), D("-0.01"), D("0"), D("50"), D("600"), D("900")]
    bins = p.histogram(values, bins=4)
    assert sum(b.customers for b in bins) == len(values)
    assert any(b.high == 0 for b in bins)
    assert any(b.low == 0 for b in bins)
    negative = sum(b.customers for b in bins if b.high <= 0)
    assert negative == 3
    assert bins[-1].high == D("900.00")
    assert bins[-1].customers >= 1


def test_histogram_degenerate_cases() -> None:
    assert p.histogram([]) == []
    assert p.histogram([D("5"), D("5")]) == [p.Bin(D("5.00"), D("5.00"), 2)]
    positive = p.histogram([D("1"), D("2"), D("3")], bins=2)
    assert [(b.low, b.high, b.customers) for b in positive] == [
        (D("1.00"), D("2.00"), 1),
        (D("2.00"), D("3.00"), 2),
    ]


def test_totals() -> None:
    t = p.totals([(D("100"), D("10"), D("20"), D("70")), (D("0"), D("0"), D("40"), D("-40"))])
    assert t == p.Totals(2, D("100.00"), D("10.00"), D("60.00"), D("30.00"), 1, D("-40.00"))

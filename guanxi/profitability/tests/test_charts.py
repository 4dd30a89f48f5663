"""Chart geometry: loss bars red, profit bars green, ticks short, ratios coloured by threshold."""

from decimal import Decimal

from guanxi.profitability import charts


def test_profit_distribution_colours_and_ticks() -> None:
    bars = charts.profit_distribution(
        [
            {"low": "-1500.00", "high": "0.00", "customers": 4},
            {"low": "0.00", "high": "2500000.00", "customers": 8},
        ]
    )
    assert [(b.colour, b.tick, b.value) for b in bars] == [(charts.LOSS, "-1.5k", "4"), (charts.PROFIT, "0", "8")]
    assert bars[1].height == 160.0
    assert bars[0].height == 80.0
    assert bars[0].label == "-1,500.00 … 0.00"


def test_short_number_and_ratio_colour() -> None:
    assert [charts.short_number(Decimal(v)) for v in ("999", "1000", "-25300", "1500000")] == [
        "999",
        "1k",
        "-25.3k",
        "1.5M",
    ]
    assert [charts.ratio_colour(r) for r in (None, 0.5, 2.0, 3.0)] == [
        charts.LOSS,
        charts.LOSS,
        charts.WARN,
        charts.PROFIT,
    ]
    assert charts.bars([]) == []

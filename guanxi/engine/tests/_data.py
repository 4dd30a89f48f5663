"""Load the golden data sets shipped in tests/data (see data/README.md for their sources)."""

from pathlib import Path

import numpy as np

from guanxi.engine._arrays import FloatArray

DATA = Path(__file__).resolve().parent / "data"


def cdnow() -> dict[str, FloatArray]:
    """The CDNOW sample summary: x, t_x, T (weeks) and zbar (mean repeat-purchase value)."""
    table = np.genfromtxt(DATA / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True)
    return {name: np.asarray(table[name], dtype=np.float64) for name in ("x", "t_x", "T", "zbar")}


def groceries() -> list[list[str]]:
    with (DATA / "groceries.csv").open(encoding="ascii") as handle:
        return [line.rstrip("\n").split(",") for line in handle]

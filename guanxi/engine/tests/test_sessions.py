from datetime import datetime, timedelta

import numpy as np
import pytest

from guanxi.engine.sessions import SESSION_GAP, session_numbers

START = datetime(2026, 11, 30, 23, 40)


def test_a_pause_longer_than_the_gap_starts_a_new_session() -> None:
    times = [
        START,
        START + timedelta(minutes=10),
        START + timedelta(minutes=40),  # 30 minutes after the last: same session
        START + timedelta(minutes=70, seconds=1),  # 30 min 1 s after: new session
        START + timedelta(hours=5),
    ]
    assert session_numbers(times).tolist() == [0, 0, 0, 1, 2]


def test_midnight_does_not_cut_a_session() -> None:
    assert session_numbers([START, START + timedelta(minutes=25)]).tolist() == [0, 0]


def test_the_gap_can_be_chosen() -> None:
    times = [START, START + timedelta(minutes=10)]
    assert session_numbers(times, gap=timedelta(minutes=5)).tolist() == [0, 1]
    assert SESSION_GAP.total_seconds() == 1800


def test_empty_and_unsorted_input() -> None:
    assert session_numbers(np.array([], dtype="datetime64[us]")).tolist() == []
    with pytest.raises(ValueError, match="ascending"):
        session_numbers([START, START - timedelta(seconds=1)])

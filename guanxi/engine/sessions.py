"""Sessions: a visitor's events cut where they paused for longer than the gap.

Thirty minutes of inactivity ends a session, as in the web-analytics tools people compare us
with (Google Analytics, Segment's warehouses); a session also ends at midnight there, but a
customer shopping across midnight is one visit to us, so only the gap counts. Stored sessions
(the processing job) and sessions drawn on a timeline use this one rule.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from guanxi.engine._arrays import IntArray

SESSION_GAP = timedelta(minutes=30)


def session_numbers(
    timestamps: Sequence[datetime] | npt.NDArray[np.datetime64], gap: timedelta = SESSION_GAP
) -> IntArray:
    """Number each event's session (0, 1, 2…) for one visitor's timestamps in ascending order."""
    times = np.asarray(timestamps, dtype="datetime64[us]")
    if times.ndim != 1:
        raise ValueError("timestamps must be one-dimensional")
    if len(times) == 0:
        return np.zeros(0, dtype=np.int64)
    steps = np.diff(times)
    if np.any(steps < np.timedelta64(0, "us")):
        raise ValueError("timestamps must be in ascending order")
    breaks = steps > np.timedelta64(gap)
    return np.concatenate(([0], np.cumsum(breaks))).astype(np.int64)

"""Small past-only building blocks shared by detectors: ring buffers, tail calibration, time."""

from __future__ import annotations

import bisect
import datetime as _dt
import math
from collections import deque
from typing import Any

import numpy as np


class RingBuffer:
    """Fixed-capacity float buffer with O(1) append and a numpy view of the filled part."""

    def __init__(self, capacity: int):
        self.capacity = int(capacity)
        self._buf = np.empty(self.capacity)
        self._n = 0
        self._head = 0

    def append(self, x: float) -> None:
        self._buf[self._head] = x
        self._head = (self._head + 1) % self.capacity
        self._n = min(self._n + 1, self.capacity)

    def __len__(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        """Contents, unordered (enough for order-free statistics like medians)."""
        return self._buf[: self._n] if self._n < self.capacity else self._buf

    def ordered(self) -> np.ndarray:
        """Contents oldest first."""
        if self._n < self.capacity:
            return self._buf[: self._n].copy()
        return np.roll(self._buf, -self._head)


def median_mad(values: np.ndarray) -> tuple[float, float]:
    """Median and median absolute deviation (unscaled)."""
    med = float(np.median(values))
    return med, float(np.median(np.abs(values - med)))


# 1.4826 * MAD estimates the standard deviation of normally distributed data.
MAD_TO_SIGMA = 1.4826


class TailCalibrator:
    """Turns a raw score into its empirical tail probability among this stream's past raw scores.

    ``p = (1 + #{past >= raw}) / (1 + n)`` over the last ``window`` raw scores, so scores of
    different detectors and different series become comparable: a ``p`` of 0.001 means "as
    extreme as one point in a thousand seen so far here", whatever the units.
    """

    def __init__(self, window: int = 4000):
        self.window = int(window)
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._fifo)

    def p_value(self, raw: float) -> float:
        n = len(self._sorted)
        at_least = n - bisect.bisect_left(self._sorted, raw)
        return (1.0 + at_least) / (1.0 + n)

    def learn(self, raw: float) -> None:
        self._fifo.append(raw)
        bisect.insort(self._sorted, raw)
        if len(self._fifo) > self.window:
            old = self._fifo.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]


def to_seconds(timestamp: Any) -> float | None:
    """Seconds since the epoch for the timestamp types a notebook is likely to pass."""
    if timestamp is None:
        return None
    if isinstance(timestamp, (int, float, np.integer, np.floating)):
        return float(timestamp)
    if isinstance(timestamp, np.datetime64):
        return float(timestamp.astype("datetime64[ns]").astype(np.int64)) / 1e9
    if isinstance(timestamp, _dt.datetime):  # includes pandas.Timestamp
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=_dt.UTC)
        return timestamp.timestamp()
    if isinstance(timestamp, str):
        return to_seconds(np.datetime64(timestamp.replace(" ", "T")))
    raise TypeError(f"unsupported timestamp type {type(timestamp).__name__}")


def squash(z: float, half: float) -> float:
    """Map a non-negative statistic to ``[0, 1)``: ``half`` maps to 0.5."""
    if not math.isfinite(z) or z <= 0:
        return 0.0
    return z / (z + half)

"""The ``Detector`` base class: streaming, past-only anomaly scores in ``[0, 1]``."""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections import deque
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

# Keep at most this many skipped points in memory; ``skipped_count`` keeps the true total.
MAX_SKIPPED_KEPT = 1000


class DetectorParams(BaseModel):
    """Base of every detector's ``Params``: typed, documented, immutable, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Detector(ABC):
    """A streaming detector.

    Subclasses define a nested ``Params`` model and implement ``_score(timestamp, value)``,
    which sees only finite values, in order.  ``update`` handles the rest: missing or
    non-finite values and out-of-order timestamps score ``0.0`` and are recorded in
    ``skipped`` (``(timestamp, reason)``) and ``skipped_count`` instead of reaching the model.

    ``get_state()`` returns a picklable snapshot and ``set_state()`` restores it, so a
    restarted job continues exactly where the previous one stopped.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[DetectorParams]] = DetectorParams

    def __init__(self, params: DetectorParams | dict | None = None, **overrides: Any):
        if params is None:
            params = self.Params(**overrides)
        elif isinstance(params, dict):
            params = self.Params(**{**params, **overrides})
        elif overrides:
            params = params.model_copy(update=overrides)
        self.params = params
        self.n_seen = 0
        self.skipped_count = 0
        self.skipped: deque[tuple[Any, str]] = deque(maxlen=MAX_SKIPPED_KEPT)
        self._last_ts: Any = None
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """(Re)initialise the model state; called by ``__init__``."""

    @abstractmethod
    def _score(self, timestamp: Any, value: float) -> float:
        """Score a finite value given everything seen before, then learn from it."""

    def update(self, timestamp: Any, value: Any) -> float:
        """Score one point using only the past, then learn from it.  Always in ``[0, 1]``."""
        reason = None
        try:
            x = float(value)
        except (TypeError, ValueError):
            x, reason = math.nan, "not a number"
        if reason is None and not math.isfinite(x):
            reason = "missing" if math.isnan(x) else "infinite"
        if reason is None and timestamp is not None and self._last_ts is not None:
            try:
                if timestamp < self._last_ts:
                    reason = "out of order"
            except TypeError:
                reason = "incomparable timestamp"
        if reason is not None:
            self.skipped_count += 1
            self.skipped.append((timestamp, reason))
            return 0.0
        if timestamp is not None:
            self._last_ts = timestamp
        score = self._score(timestamp, x)
        self.n_seen += 1
        if not math.isfinite(score):
            return 0.0
        return min(1.0, max(0.0, float(score)))

    def _score_batch(self, timestamps: list | None, values: np.ndarray) -> np.ndarray | None:
        """Optional fast path: score clean (finite, in-order) values in one go.

        Must return exactly what calling ``_score`` on each point in turn would, and leave
        the same state behind.  Returning ``None`` (the default) means "not implemented".
        """
        return None

    def score_series(self, values, timestamps=None) -> np.ndarray:
        """Score a whole series; NaN-safe, one score in ``[0, 1]`` per input point.

        Same scores and end state as calling ``update`` point by point, but detectors with a
        ``_score_batch`` get to vectorise the clean points.
        """
        try:
            vals = np.asarray(values, dtype=float)
        except (TypeError, ValueError):
            vals = None
        n = len(values)
        if timestamps is not None and len(timestamps) != n:
            raise ValueError(f"{n} values but {len(timestamps)} timestamps")
        keep = _clean_mask(vals, timestamps, self._last_ts) if vals is not None else None
        if keep is None:  # odd inputs: the per-point rules sort them out
            return np.array([self.update(None if timestamps is None else timestamps[i], values[i]) for i in range(n)])
        out = np.zeros(n)
        for i in np.flatnonzero(~keep):
            ts = None if timestamps is None else timestamps[i]
            self.skipped_count += 1
            self.skipped.append((ts, "missing" if np.isnan(vals[i]) else "infinite" if not np.isfinite(vals[i]) else "out of order"))
        idx = np.flatnonzero(keep)
        if idx.size == 0:
            return out
        ts_kept = None if timestamps is None else [timestamps[i] for i in idx]
        clean = vals[idx]
        scores = self._score_batch(ts_kept, clean)
        if scores is None:
            score = self._score
            scores = np.empty(idx.size)
            for j in range(idx.size):
                scores[j] = score(None if ts_kept is None else ts_kept[j], float(clean[j]))
                self.n_seen += 1
        else:
            self.n_seen += idx.size
        if ts_kept is not None:
            self._last_ts = ts_kept[-1]
        out[idx] = np.clip(np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0), 0.0, 1.0)
        return out

    # --- persistence -------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """A picklable snapshot of everything needed to resume: parameters and model state."""
        state = {k: v for k, v in self.__dict__.items() if k != "params"}
        return {
            "detector": self.name,
            "params": self.params.model_dump(),
            "state": copy.deepcopy(state),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("detector") != self.name:
            raise ValueError(f"state is for {state.get('detector')!r}, not {self.name!r}")
        self.params = self.Params(**state["params"])
        self.__dict__.update(copy.deepcopy(state["state"]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r})"


def _clean_mask(vals: np.ndarray, timestamps, last_ts) -> np.ndarray | None:
    """Which points ``update`` would pass to the model; ``None`` if that needs per-point rules."""
    keep = np.isfinite(vals)
    if timestamps is None:
        return keep
    try:
        ts = np.asarray(timestamps)
        if ts.dtype.kind not in "iufM":
            return None
        if ts.dtype.kind == "M":
            ts = ts.astype("datetime64[ns]").astype(np.int64).astype(float)
            last = None if last_ts is None else float(np.datetime64(last_ts, "ns").astype(np.int64))
        else:
            ts = ts.astype(float)
            last = None if last_ts is None else float(last_ts)
    except (TypeError, ValueError):
        return None
    # A kept point must not precede the latest kept point before it; the running max over
    # finite points equals the running max over kept ones, as rejected points sit below it.
    running = np.r_[-np.inf if last is None else last, np.where(keep, ts, -np.inf)]
    prev_max = np.maximum.accumulate(running)[:-1]
    return keep & (ts >= prev_max)

"""The ``Detector`` base class: streaming, past-only anomaly scores in ``[0, 1]``."""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections import deque
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

# Keep only this many of the most recent skipped points (a sample for reports, saved with the
# state); ``skipped_count`` and ``skipped_by_reason`` keep the true totals.  Small on purpose: a
# sparse series (a product that sells a few hours a week) skips most of its buckets, and a job
# saves one detector state per slice every run.
MAX_SKIPPED_KEPT = 20
SKIP_REASONS = ("missing", "infinite", "out of order")


class DetectorParams(BaseModel):
    """Base of every detector's ``Params``: typed, documented, immutable, no unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Detector(ABC):
    """A streaming detector.

    Subclasses define a nested ``Params`` model and implement ``_score(timestamp, value)``,
    which sees only finite values, in order.  ``update`` handles the rest: missing or
    non-finite values and out-of-order timestamps score ``0.0`` instead of reaching the model
    and are counted: ``skipped_count`` (all), ``skipped_by_reason`` (per reason) and
    ``skipped``, the ``(timestamp, reason)`` of the last ``MAX_SKIPPED_KEPT`` of them.

    ``get_state()`` returns a picklable snapshot and ``set_state()`` restores it, so a
    restarted job continues exactly where the previous one stopped.
    """

    name: ClassVar[str] = ""
    Params: ClassVar[type[DetectorParams]] = DetectorParams
    # Each subclass re-declares ``params: Params`` (its own model) so its fields type-check.
    params: DetectorParams
    # A small grid of parameter overrides for out-of-sample tuning (``benchmarks/nab.py --cv``,
    # ``workbench.anomaly.tuning``); the defaults (``{}``) come first so a tie keeps them.
    tuning_grid: ClassVar[tuple[dict[str, Any], ...]] = ({},)

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
        self.skipped_by_reason: dict[str, int] = {}
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
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1
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
        if vals is None or keep is None:  # odd inputs: the per-point rules sort them out
            return np.array(
                [
                    self.update(None if timestamps is None else timestamps[i], values[i])
                    for i in range(n)
                ]
            )
        out = np.zeros(n)
        bad = np.flatnonzero(~keep)
        if bad.size:
            self._record_skips(bad, vals[bad], timestamps)
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

    def _record_skips(self, idx: np.ndarray, vals: np.ndarray, timestamps) -> None:
        """Count the points at ``idx`` (values ``vals``) as skipped, in bulk: totals per reason,
        and only the last ``MAX_SKIPPED_KEPT`` go into the ``skipped`` sample."""
        code = np.where(np.isnan(vals), 0, np.where(~np.isfinite(vals), 1, 2))
        counts = np.bincount(code, minlength=3)
        for reason, c in zip(SKIP_REASONS, counts.tolist(), strict=True):
            if c:
                self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + c
        self.skipped_count += int(idx.size)
        k = self.skipped.maxlen or idx.size
        recent, recent_code = idx[-k:], code[-k:]
        self.skipped.extend(
            ((None if timestamps is None else timestamps[i]), SKIP_REASONS[c])
            for i, c in zip(recent.tolist(), recent_code.tolist(), strict=True)
        )

    def skipped_since(self, count: int) -> list[tuple[Any, str]]:
        """The kept sample of the points skipped after the first ``count`` skips, oldest first
        (only the most recent ``MAX_SKIPPED_KEPT`` are kept)."""
        n = min(self.skipped_count - count, len(self.skipped))
        return list(self.skipped)[-n:] if n > 0 else []

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
        # States saved before the per-reason totals existed kept up to 1000 skipped points.
        if len(self.skipped) > MAX_SKIPPED_KEPT or self.skipped.maxlen != MAX_SKIPPED_KEPT:
            self.skipped = deque(self.skipped, maxlen=MAX_SKIPPED_KEPT)
        if "skipped_by_reason" not in state["state"]:
            by: dict[str, int] = {}
            for _, r in state["state"].get("skipped", ()):
                by[r] = by.get(r, 0) + 1
            rest = self.skipped_count - sum(by.values())
            if rest > 0:
                by["earlier (reason not kept)"] = rest
            self.skipped_by_reason = by

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

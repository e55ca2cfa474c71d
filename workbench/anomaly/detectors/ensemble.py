"""Ensemble of detectors with calibrated scores, plus NAB-style alarm post-processing.

Each member's raw score is replaced by its empirical tail probability ``p`` among that
member's own recent raw scores on this stream (``TailCalibrator``), so members with
different units and different series become comparable.  The calibrated member score is
``-log(p) / log(calibration_window + 1)`` in ``[0, 1]``; members are combined by weighted
max or mean.  Then, optionally:

* ``probation``: the first points score 0 while the members warm up;
* ``alarm_level`` / ``suppress``: once the score reaches ``alarm_level``, the next
  ``suppress`` points are damped by ``suppress_factor`` -- one alarm per incident rather
  than a burst, which is what an operator (and NAB's FP cost) wants.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from workbench.anomaly.detectors.base import Detector, DetectorParams
from workbench.anomaly.detectors.registry import create
from workbench.anomaly.detectors.rolling_stats import TailCalibrator


class MemberSpec(BaseModel):
    """One ensemble member: a registered detector name, its parameters and a weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str = Field(description="Registered detector name, e.g. 'robust_zscore'.")
    params: dict[str, Any] = Field(default_factory=dict, description="That detector's Params.")
    weight: float = Field(1.0, gt=0, description="Multiplier on the calibrated score.")


def _default_members() -> list[MemberSpec]:
    return [
        MemberSpec(detector="robust_zscore", params={"window": 288}),
        MemberSpec(detector="robust_zscore", params={"window": 288, "use_diff": True}),
        MemberSpec(detector="seasonal"),
        MemberSpec(detector="level_shift"),
    ]


class Ensemble(Detector):
    """Calibrated combination of other detectors (see module docstring)."""

    name = "ensemble"

    class Params(DetectorParams):
        members: list[MemberSpec] = Field(
            default_factory=_default_members, description="Detectors to combine."
        )
        combine: Literal["max", "mean"] = Field(
            "max", description="How calibrated member scores are combined."
        )
        calibration_window: int = Field(
            4000, ge=10, description="Past raw scores per member used to calibrate the newest one."
        )
        normalise_by: Literal["window", "history"] = Field(
            "window",
            description="Divide -log(p) by log(calibration_window + 1) ('window') or by log of the "
            "member's history length so far ('history': the most extreme point yet scores 1).",
        )
        min_calibration: int = Field(
            100, ge=1, description="Raw scores a member needs before it contributes (else 0)."
        )
        probation: int = Field(0, ge=0, description="Leading points that always score 0.")
        alarm_level: float | None = Field(
            None,
            ge=0,
            le=1,
            description="Score that counts as an alarm for suppression; None disables it.",
        )
        suppress: int = Field(0, ge=0, description="Points damped after each alarm.")
        suppress_factor: float = Field(
            0.0, ge=0, le=1, description="Multiplier on scores while damped."
        )

    params: Params

    def reset(self) -> None:
        p = self.params
        self._members = [create(m.detector, **m.params) for m in p.members]
        self._calibrators = [TailCalibrator(p.calibration_window) for _ in p.members]
        self._norm = math.log(p.calibration_window + 1.0)
        self._quiet_until = -1
        self._count = 0
        self.alarms = 0
        self.last_member_scores: list[float] = [0.0] * len(p.members)

    def _calibrate(self, k: int, raw: float) -> float:
        cal = self._calibrators[k]
        c = 0.0
        if len(cal) >= self.params.min_calibration:
            norm = self._norm if self.params.normalise_by == "window" else math.log(len(cal) + 1.0)
            c = min(1.0, -math.log(cal.p_value(raw)) / norm) * self.params.members[k].weight
        cal.learn(raw)
        return c

    def _score(self, timestamp, value: float) -> float:
        raws = [det.update(timestamp, value) for det in self._members]
        return self._combine(raws)

    def _score_batch(self, timestamps, values: np.ndarray) -> np.ndarray:
        # Members see the same clean points, so each can use its own fast path; the
        # calibration and alarm logic that follows is sequential by nature.
        raws = np.column_stack([det.score_series(values, timestamps) for det in self._members])
        return np.array([self._combine(row) for row in raws.tolist()])

    def _combine(self, raws) -> float:
        p = self.params
        calibrated = [self._calibrate(k, raw) for k, raw in enumerate(raws)]
        self.last_member_scores = calibrated
        score = max(calibrated) if p.combine == "max" else sum(calibrated) / len(calibrated)
        i = self._count
        self._count += 1
        if i < p.probation:
            return 0.0
        if i <= self._quiet_until:
            return score * p.suppress_factor
        if p.alarm_level is not None and score >= p.alarm_level:
            self.alarms += 1
            self._quiet_until = i + p.suppress
        return score

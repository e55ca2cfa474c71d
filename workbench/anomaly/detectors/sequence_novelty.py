"""``sequence_novelty``: novel values and transitions, scored by their anomaly likelihood.

The detector behind the NAB benchmark figure (see docs/anomaly.md).  Per point, using only the
past:

1. **Raw novelty.**  After ``probation`` points (at least 50) the value range seen so far is cut
   into ``bins`` equal bins, on ``grids`` grids shifted by a fraction of a bin (so a value sitting on a
   bin edge does not flip between bins; the same idea as overlapping encoder buckets).  On each
   grid the raw score counts what has *never* been seen before: the current bin, and the
   sequence of the last ``order + 1`` bins.  The raw score is the fraction of those that are new,
   in ``[0, 1]``.  The warm-up values are learnt once the grid exists; values outside the
   calibrated range simply open new bins.
2. **Anomaly likelihood** of the raw score (``AnomalyLikelihood``: recent mean vs. long-run
   distribution), mapped to ``[0, 1]`` with NuPIC's log scale (0.5 is a 1-in-100 000 tail).
3. **Spatial anomaly**: a value beyond the range seen so far by more than
   ``spatial_tolerance`` of that range scores 1.
4. **One alarm per incident**: after a point scores ``alarm_level`` or more (past probation),
   the likelihood part of the next ``suppress`` points is zeroed; spatial anomalies still pass.

It is the same recipe as Numenta's HTM detector on NAB (raw score -> likelihood -> spatial
check) with the HTM replaced by counting quantised values and transitions, which is far
cheaper and, with the shifted grids, about as discriminating on NAB.
"""

from __future__ import annotations

import math
from collections import deque

from pydantic import Field

from workbench.anomaly.detectors.anomaly_likelihood import AnomalyLikelihood, log_likelihood
from workbench.anomaly.detectors.base import Detector, DetectorParams

MIN_CALIBRATION = 50


class SequenceNovelty(Detector):
    """Likelihood of never-seen values and transitions, plus new extremes (module docstring)."""

    name = "sequence_novelty"

    # Resolution of the value grid x length of the quiet spell after an alarm: the two knobs
    # whose best value plausibly depends on the kind of series (noise level, incident length).
    tuning_grid = (
        {},
        {"bins": 8},
        {"bins": 12},
        {"suppress": 300},
        {"bins": 8, "suppress": 300},
        {"bins": 12, "suppress": 300},
    )

    class Params(DetectorParams):
        probation: int = Field(
            300,
            ge=0,
            description="Warm-up points: the value grid is calibrated on the first max(probation, 50) "
            "points, the likelihood learns on them, and alarms only suppress after them. The NAB "
            "runner passes NAB's probationary length (15% of the series, at most 750).",
        )
        bins: int = Field(
            10, ge=2, description="Bins across the value range seen during calibration."
        )
        grids: int = Field(
            5,
            ge=1,
            description="Grids, each shifted by 1/grids of a bin; novelty is averaged over them.",
        )
        order: int = Field(
            1,
            ge=0,
            description="Transitions of up to order+1 consecutive bins are tracked (0: values only).",
        )
        averaging_window: int = Field(
            7, ge=1, description="Recent raw scores averaged by the likelihood."
        )
        historic_window: int = Field(
            8640, ge=10, description="Raw scores in the likelihood's long-run distribution."
        )
        reestimation_period: int = Field(
            100, ge=1, description="Points between refits of that distribution."
        )
        spatial_tolerance: float | None = Field(
            0.05,
            ge=0,
            description="A value beyond the past range by this fraction of the range scores 1; None disables.",
        )
        alarm_level: float = Field(
            0.5, ge=0, le=1, description="Score that counts as an alarm for suppression."
        )
        suppress: int = Field(
            150, ge=0, description="Points after an alarm whose likelihood score is zeroed."
        )

    params: Params

    def reset(self) -> None:
        p = self.params
        self._calibration = max(p.probation, MIN_CALIBRATION)
        learning = p.probation // 2
        self._likelihood = AnomalyLikelihood(
            learning_period=learning,
            estimation_samples=p.probation - learning,
            historic_window=p.historic_window,
            reestimation_period=p.reestimation_period,
            averaging_window=p.averaging_window,
        )
        self._warmup: list[float] = []  # values until the grid is calibrated
        self._base: float | None = None
        self._width: float | None = None
        self._offsets: list[float] = []
        self._counts: list[dict] = []
        self._contexts: list[deque] = []
        self._low: float | None = None
        self._high: float | None = None
        self._quiet_until = -1
        self._i = 0
        self.alarms = 0
        self.last_raw = 0.0
        self.last_likelihood = 0.5
        self.last_spatial = False

    def _calibrate(self) -> None:
        p = self.params
        lo, hi = min(self._warmup), max(self._warmup)
        span = hi - lo
        mean = sum(self._warmup) / len(self._warmup)
        # A constant warm-up has no range: fall back to 1% of its level (or a tiny width).
        self._width = span / p.bins if span > 0 else max(abs(mean) * 0.01, 1e-9)
        self._base = lo
        self._offsets = [g * self._width / p.grids for g in range(p.grids)]
        self._counts = [{} for _ in range(p.grids)]
        self._contexts = [deque(maxlen=p.order + 1) for _ in range(p.grids)]
        self._warmup = []

    def _novelty(self, value: float) -> float:
        """Fraction of (bin, transition) keys never seen before, over all grids; then learn them."""
        base, width = self._base, self._width
        if base is None or width is None:  # no grid before calibration (never called then)
            return 0.0
        new = total = 0
        for offset, counts, context in zip(
            self._offsets, self._counts, self._contexts, strict=True
        ):
            context.append(math.floor((value - base + offset) / width))
            seq = tuple(context)
            for k in range(1, len(seq) + 1):
                key = seq[-k:]
                c = counts.get(key, 0)
                if c == 0:
                    new += 1
                counts[key] = c + 1
                total += 1
        return new / total

    def _score(self, timestamp, value: float) -> float:
        p = self.params
        i = self._i
        self._i += 1
        raw = 0.0
        if self._width is None:
            self._warmup.append(value)
            if len(self._warmup) >= self._calibration:
                warmup = self._warmup
                self._calibrate()
                # Learn the warm-up values too (not scored: they shaped the grid), so the first
                # scored points are compared with everything seen, not with nothing.
                for v in warmup:
                    self._novelty(v)
        else:
            raw = self._novelty(value)
        likelihood = self._likelihood.update(raw)
        score = log_likelihood(likelihood)

        spatial = False
        low, high = self._low, self._high
        if p.spatial_tolerance is not None and low is not None and high is not None and high > low:
            tol = (high - low) * p.spatial_tolerance
            spatial = value > high + tol or value < low - tol
        self._low = value if self._low is None else min(self._low, value)
        self._high = value if self._high is None else max(self._high, value)

        if i <= self._quiet_until:
            score = 0.0
        if spatial:
            score = 1.0
        if p.suppress and i >= p.probation and score >= p.alarm_level and i > self._quiet_until:
            self._quiet_until = i + p.suppress
            self.alarms += 1
        self.last_raw, self.last_likelihood, self.last_spatial = raw, likelihood, spatial
        return score

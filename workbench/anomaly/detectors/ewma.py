"""Exponentially weighted mean and variance z-score."""

from __future__ import annotations

import math

from pydantic import Field

from workbench.anomaly.detectors.base import Detector, DetectorParams
from workbench.anomaly.detectors.rolling_stats import squash


class EWMA(Detector):
    """z-score against an exponentially weighted mean and variance (cheap, adapts to drift)."""

    name = "ewma"

    class Params(DetectorParams):
        alpha: float = Field(
            0.02, gt=0, le=1, description="Weight of the newest point in the mean and variance."
        )
        min_history: int = Field(
            30, ge=2, description="Points needed before scoring; earlier points score 0."
        )
        z_half: float = Field(
            4.0, gt=0, description="z-score that maps to an anomaly score of 0.5."
        )

    params: Params

    def reset(self) -> None:
        self._mean: float | None = None
        self._var = 0.0
        self._count = 0
        self.last_z = 0.0

    def _score(self, timestamp, value: float) -> float:
        p = self.params
        if self._mean is None:
            self._mean, self._count = value, 1
            return 0.0
        diff = value - self._mean
        z = 0.0
        if self._count >= p.min_history:
            sd = math.sqrt(self._var)
            z = abs(diff) / sd if sd > 0 else (0.0 if diff == 0 else 1e6)
        # West's incremental EW variance: update after scoring so the point never scores itself.
        incr = p.alpha * diff
        self._mean += incr
        self._var = (1 - p.alpha) * (self._var + diff * incr)
        self._count += 1
        self.last_z = z
        return squash(z, p.z_half)

"""Online additive seasonal decomposition with one or more seasonalities."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from workbench.anomaly.detectors.base import Detector, DetectorParams
from workbench.anomaly.detectors.rolling_stats import squash, to_seconds


class SeasonalResidual(Detector):
    """Level plus one seasonal profile per period (Holt-Winters style, no trend); scores residuals.

    Each period is cut into ``bins`` phase bins.  The prediction for a point is the level plus
    the current bin of every seasonal profile; the score is the residual in units of an
    exponentially weighted mean absolute residual.
    """

    name = "seasonal"

    class Params(DetectorParams):
        periods: list[float] = Field(
            default_factory=lambda: [86400.0],
            description="Seasonal periods, in seconds (or points when period_unit='points').",
        )
        period_unit: Literal["seconds", "points"] = Field(
            "seconds", description="Unit of `periods`; 'points' ignores timestamps."
        )
        bins: int = Field(48, ge=2, description="Phase bins per period.")
        alpha_level: float = Field(0.05, gt=0, le=1, description="Learning rate of the level.")
        alpha_season: float = Field(
            0.1, gt=0, le=1, description="Learning rate of each seasonal bin."
        )
        alpha_scale: float = Field(
            0.02, gt=0, le=1, description="Learning rate of the residual scale."
        )
        min_history: int = Field(
            100, ge=2, description="Points needed before scoring; earlier points score 0."
        )
        z_half: float = Field(
            4.0, gt=0, description="Residual z that maps to an anomaly score of 0.5."
        )
        run_points: int = Field(
            1,
            ge=1,
            le=48,
            description="Also score the evidence of the last `run_points` residuals together (Stouffer's "
            "sum of signed z over sqrt(k), for k up to this many consecutive same-sign "
            "points); 1 scores each point alone. A few hours each moderately below their "
            "hour's norm (an outage in a low-volume slice) add up; one noisy point does not.",
        )

    params: Params

    def reset(self) -> None:
        self._level: float | None = None
        self._season = [[0.0] * self.params.bins for _ in self.params.periods]
        self._abs_resid = 0.0
        self._count = 0
        self.last_z = 0.0
        self._run_z: list[float] = []

    def _phases(self, timestamp) -> list[int]:
        p = self.params
        t = to_seconds(timestamp) if p.period_unit == "seconds" and timestamp is not None else None
        if t is None:
            t = float(self.n_seen)
        return [int((t % period) / period * p.bins) % p.bins for period in p.periods]

    def _score(self, timestamp, value: float) -> float:
        p = self.params
        phases = self._phases(timestamp)
        if self._level is None:
            self._level = value
            self._count = 1
            return 0.0
        seasonal = [s[ph] for s, ph in zip(self._season, phases, strict=True)]
        resid = value - self._level - sum(seasonal)
        z = 0.0
        if self._count >= p.min_history:
            scale = 1.2533 * self._abs_resid
            z = abs(resid) / scale if scale > 0 else (0.0 if resid == 0 else 1e6)
            if p.run_points > 1 and math.isfinite(z):
                z = self._with_run(math.copysign(z, resid), p.run_points)
        self._abs_resid += p.alpha_scale * (abs(resid) - self._abs_resid)
        self._level += p.alpha_level * (value - sum(seasonal) - self._level)
        for k, (s, ph) in enumerate(zip(self._season, phases, strict=True)):
            others = sum(seasonal) - seasonal[k]
            s[ph] += p.alpha_season * (value - self._level - others - s[ph])
        self._count += 1
        self.last_z = z
        return squash(z, p.z_half) if math.isfinite(z) else 0.0

    def _with_run(self, signed_z: float, k_max: int) -> float:
        """The point's |z|, or the strongest combined z of the run of same-sign residuals ending here.

        Under the model the residual z's are roughly independent standard normals, so the sum of k
        of them over sqrt(k) is one too (Stouffer): k points at z = 3.5 each weigh 3.5 * sqrt(k).
        Only a run of one sign counts, so alternating noise never adds up.
        """
        run = (
            [z for z in getattr(self, "_run_z", []) if (z > 0) == (signed_z > 0)]
            if signed_z
            else []
        )
        if len(run) != len(getattr(self, "_run_z", [])):
            run = []  # the sign changed: the run starts again here
        run = (run + [signed_z])[-k_max:]
        self._run_z = run
        best, total = abs(signed_z), 0.0
        for k, z in enumerate(reversed(run), start=1):
            total += abs(z)
            best = max(best, total / math.sqrt(k))
        return best

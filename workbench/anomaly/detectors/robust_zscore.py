"""Rolling median / MAD z-score: robust to the outliers it is looking for."""

from __future__ import annotations

import math

import numpy as np
from pydantic import Field

from workbench.anomaly.detectors.base import Detector, DetectorParams
from workbench.anomaly.detectors.rolling_stats import MAD_TO_SIGMA, RingBuffer, median_mad, squash

# Caps the z-score of a change in an otherwise perfectly constant signal (MAD and mean
# absolute deviation both zero), which is as anomalous as it gets.
Z_CAP = 1e6


def robust_z(values, x: float) -> float:
    """``|x - median| / sigma`` with sigma from the MAD, falling back to the mean deviation."""
    med, mad = median_mad(values)
    scale = MAD_TO_SIGMA * mad
    if scale <= 0:
        # More than half the window is one value: use the mean absolute deviation instead
        # (1.2533 * mean |dev| estimates sigma for normal data).
        scale = 1.2533 * float(abs(values - med).mean())
    dev = abs(x - med)
    if scale <= 0:
        return 0.0 if dev == 0 else Z_CAP
    return min(dev / scale, Z_CAP)


class RobustZScore(Detector):
    """Distance of each point from the rolling median of the past ``window`` points, in MADs."""

    name = "robust_zscore"

    class Params(DetectorParams):
        window: int = Field(288, ge=5, description="Past points in the rolling median/MAD.")
        min_history: int = Field(
            30, ge=3, description="Points needed before scoring; earlier points score 0."
        )
        z_half: float = Field(
            4.0, gt=0, description="Robust z-score that maps to an anomaly score of 0.5."
        )
        use_diff: bool = Field(
            False, description="Score first differences instead of levels (spikes on a trend)."
        )

    params: Params

    def reset(self) -> None:
        self._buf = RingBuffer(self.params.window)
        self._prev: float | None = None
        self.last_z = 0.0

    def _score(self, timestamp, value: float) -> float:
        p = self.params
        if p.use_diff:
            prev, self._prev = self._prev, value
            if prev is None:
                return 0.0
            value = value - prev
        z = robust_z(self._buf.values(), value) if len(self._buf) >= p.min_history else 0.0
        self._buf.append(value)
        self.last_z = z
        return squash(z, p.z_half) if math.isfinite(z) else 0.0

    def _score_batch(self, timestamps, values: np.ndarray) -> np.ndarray:
        p = self.params
        out = np.zeros(len(values))
        if p.use_diff:
            prev = self._prev
            series = np.diff(np.r_[values[:1] if prev is None else prev, values])
            self._prev = float(values[-1])
            start = 1 if prev is None else 0  # the very first value has no difference
        else:
            series, start = values, 0
        z = past_robust_z(self._buf.ordered(), series[start:], p.window, p.min_history)
        for v in series[start:][-p.window :]:
            self._buf.append(float(v))
        if z.size:
            self.last_z = float(z[-1])
        out[start:] = z / (z + p.z_half)
        return out


def past_robust_z(
    history: np.ndarray, values: np.ndarray, window: int, min_history: int
) -> np.ndarray:
    """``robust_z`` of each value against the (up to) ``window`` points before it.

    ``history`` holds the points before ``values`` (oldest first).  Vectorised over full
    windows; only the warm-up points with a partial window go one by one.
    """
    ext = np.concatenate([history[-window:], values])
    b = len(ext) - len(values)
    z = np.zeros(len(values))
    for j in range(min(len(values), max(0, window - b))):  # partial windows
        if b + j >= min_history:
            z[j] = robust_z(ext[: b + j], values[j])
    first_full = max(0, window - b)
    if first_full < len(values):
        # windows[k] = ext[k : k + window] is the past of ext[k + window] = values[k + window - b]
        windows = np.lib.stride_tricks.sliding_window_view(ext[:-1], window)[
            first_full + b - window :
        ]
        x = values[first_full:]
        med = np.median(windows, axis=1)
        dev = np.abs(windows - med[:, None])
        scale = MAD_TO_SIGMA * np.median(dev, axis=1)
        fallback = 1.2533 * dev.mean(axis=1)
        scale = np.where(scale > 0, scale, fallback)
        d = np.abs(x - med)
        with np.errstate(divide="ignore", invalid="ignore"):
            zz = np.where(scale > 0, d / scale, np.where(d == 0, 0.0, Z_CAP))
        z[first_full:] = np.minimum(zz, Z_CAP)
    return z

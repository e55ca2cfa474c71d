"""Change-point detectors: two-sided CUSUM and a two-window level-shift test."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from workbench.anomaly.detectors.base import Detector, DetectorParams
from workbench.anomaly.detectors.robust_zscore import Z_CAP
from workbench.anomaly.detectors.rolling_stats import MAD_TO_SIGMA, RingBuffer, median_mad, squash


class CUSUM(Detector):
    """Two-sided CUSUM of values standardised by a rolling median/MAD reference.

    Accumulates standardised deviations beyond ``drift`` in each direction; the score grows
    with the larger sum relative to ``h``.  Crossing ``h`` counts as a change point: the sums
    restart and the reference re-learns the new level from scratch.
    """

    name = "cusum"

    class Params(DetectorParams):
        reference_window: int = Field(
            200, ge=10, description="Past points defining the in-control median and MAD."
        )
        min_history: int = Field(30, ge=5, description="Reference points needed before scoring.")
        drift: float = Field(
            0.5, ge=0, description="Allowed standardised drift per point (the CUSUM k)."
        )
        h: float = Field(
            8.0, gt=0, description="Decision interval: a sum above h is a change point."
        )
        z_clip: float = Field(
            6.0, gt=0, description="Clip per-point z so one spike cannot trip a change alone."
        )

    params: Params

    def reset(self) -> None:
        self._ref = RingBuffer(self.params.reference_window)
        self._pos = 0.0
        self._neg = 0.0
        self.change_points = 0

    def _score(self, timestamp, value: float) -> float:
        p = self.params
        score = 0.0
        if len(self._ref) >= p.min_history:
            med, mad = median_mad(self._ref.values())
            scale = MAD_TO_SIGMA * mad or 1.2533 * float(abs(self._ref.values() - med).mean())
            dev = value - med
            z = dev / scale if scale > 0 else (0.0 if dev == 0 else Z_CAP)
            z = max(-p.z_clip, min(p.z_clip, z))
            self._pos = max(0.0, self._pos + z - p.drift)
            self._neg = max(0.0, self._neg - z - p.drift)
            stat = max(self._pos, self._neg)
            score = squash(stat, p.h)
            if stat > p.h:
                self.change_points += 1
                self._pos = self._neg = 0.0
                self._ref = RingBuffer(p.reference_window)
        self._ref.append(value)
        return score


class LevelShift(Detector):
    """Median of the last ``short`` points against the median/MAD of the ``long`` points before."""

    name = "level_shift"

    class Params(DetectorParams):
        short: int = Field(6, ge=1, description="Recent points whose median is tested.")
        long: int = Field(288, ge=10, description="Reference points before the recent ones.")
        min_history: int = Field(50, ge=5, description="Reference points needed before scoring.")
        z_half: float = Field(
            4.0, gt=0, description="Shift (in reference sigmas) that maps to 0.5."
        )

    params: Params

    def reset(self) -> None:
        self._recent = RingBuffer(self.params.short)
        self._ref = RingBuffer(self.params.long)

    def _score(self, timestamp, value: float) -> float:
        p = self.params
        # Points leave the recent window into the reference window in arrival order.
        if len(self._recent) == p.short:
            self._ref.append(self._recent.ordered()[0])
        self._recent.append(value)
        if len(self._ref) < p.min_history or len(self._recent) < p.short:
            return 0.0
        return self._shift_score(self._ref.values(), self._recent.values())

    def _score_batch(self, timestamps, values: np.ndarray) -> np.ndarray:
        p = self.params
        # The reference ring followed by the recent ring is the tail of everything seen.
        seen = np.concatenate([self._ref.ordered(), self._recent.ordered(), values])
        offset = len(seen) - len(values)
        out = np.zeros(len(values))
        for j in range(len(values)):
            g = offset + j
            ref_end = g - p.short + 1  # reference: the `long` points before the recent ones
            if ref_end < 0 or min(ref_end, p.long) < p.min_history:
                continue
            if ref_end >= p.long:
                break  # from here on every window is full: vectorised below
            out[j] = self._shift_score(seen[:ref_end], seen[ref_end : g + 1])
        else:
            j = len(values)
        if j < len(values):
            g0 = offset + j
            windows = np.lib.stride_tricks.sliding_window_view
            refs = windows(seen, p.long)[
                g0 - p.short + 1 - p.long : len(seen) - p.short + 1 - p.long
            ]
            recents = windows(seen, p.short)[g0 - p.short + 1 :]
            med = np.median(refs, axis=1)
            dev = np.abs(refs - med[:, None])
            scale = MAD_TO_SIGMA * np.median(dev, axis=1)
            scale = np.where(scale > 0, scale, 1.2533 * dev.mean(axis=1))
            shift = np.abs(np.sort(recents, axis=1)[:, p.short // 2] - med)
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(scale > 0, shift / scale, np.where(shift == 0, 0.0, Z_CAP))
            out[j:] = z / (z + p.z_half)
        self._recent = RingBuffer(p.short)
        self._ref = RingBuffer(p.long)
        tail_recent = seen[max(0, len(seen) - p.short) :]
        for v in seen[max(0, len(seen) - len(tail_recent) - p.long) : len(seen) - len(tail_recent)]:
            self._ref.append(float(v))
        for v in tail_recent:
            self._recent.append(float(v))
        return out

    def _shift_score(self, ref: np.ndarray, recent: np.ndarray) -> float:
        p = self.params
        ref = ref[-p.long :]
        med, mad = median_mad(ref)
        scale = MAD_TO_SIGMA * mad or 1.2533 * float(abs(ref - med).mean())
        shift = abs(float(np.sort(recent)[p.short // 2]) - med)
        z = shift / scale if scale > 0 else (0.0 if shift == 0 else Z_CAP)
        return squash(z, p.z_half)

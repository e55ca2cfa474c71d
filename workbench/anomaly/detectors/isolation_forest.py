"""Learned detector: scikit-learn IsolationForest on sliding windows ("shingles") of past values."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from pydantic import Field

from workbench.anomaly.detectors.base import Detector, DetectorParams


class IsolationForestDetector(Detector):
    """Scores the window of the last ``shingle`` values with an IsolationForest.

    Because a forest cannot extrapolate, the score is the larger of the forest's and a
    measure of how far the shingle lies outside the training data's range.

    The forest is fitted on the shingles of the previous ``train_size`` points and refitted
    every ``refit_every`` points, so it only ever learns from the past.  Shingles are
    standardised by the training set's median and MAD, which makes the model scale-free.

    ``score_series`` scores each block between two refits in one call (the model is fixed
    inside a block): the same scores as ``update`` point by point, much faster.
    """

    name = "isolation_forest"

    class Params(DetectorParams):
        shingle: int = Field(8, ge=1, description="Consecutive values forming one sample.")
        train_size: int = Field(512, ge=32, description="Past samples the forest is fitted on.")
        refit_every: int = Field(256, ge=1, description="Points between refits.")
        n_estimators: int = Field(50, ge=1, description="Trees in the forest.")
        max_samples: int = Field(256, ge=8, description="Samples drawn to build each tree.")
        random_state: int = Field(0, description="Seed, for reproducible scores.")

    params: Params

    def reset(self) -> None:
        p = self.params
        self._history: deque[float] = deque(maxlen=p.train_size + p.shingle)
        # A fitted sklearn IsolationForest (sklearn ships no types), None before the first fit.
        self._model: Any = None
        self._center = 0.0
        self._scale = 1.0
        self._since_fit = 0
        self._lo = self._hi = 0.0
        self._span = 1.0

    def _needs_fit(self) -> bool:
        p = self.params
        enough = len(self._history) >= min(p.train_size, 64) + p.shingle
        return enough and (self._model is None or self._since_fit >= p.refit_every)

    def _fit(self) -> None:
        from sklearn.ensemble import IsolationForest  # heavy import, only when used

        p = self.params
        hist = np.asarray(self._history)
        windows = np.lib.stride_tricks.sliding_window_view(hist, p.shingle)
        self._center = float(np.median(hist))
        mad = float(np.median(np.abs(hist - self._center)))
        self._scale = 1.4826 * mad or float(np.std(hist)) or 1.0
        z = (windows - self._center) / self._scale
        self._lo, self._hi = float(z.min()), float(z.max())
        self._span = max(self._hi - self._lo, 1e-12)
        self._model = IsolationForest(
            n_estimators=p.n_estimators,
            max_samples=min(p.max_samples, len(windows)),
            random_state=p.random_state,
        ).fit((windows - self._center) / self._scale)
        self._since_fit = 0

    def _score_shingles(self, shingles: np.ndarray) -> np.ndarray:
        x = (shingles - self._center) / self._scale
        raw = -self._model.score_samples(x)
        # score_samples gives ~0.5 for ordinary points and -> 1 for isolated ones.
        forest = np.clip((raw - 0.5) * 2.0, 0.0, 1.0)
        # Trees only split inside the training range, so a value far beyond it scores no
        # higher than the most extreme training sample.  Add how far (in training ranges)
        # the shingle lies outside the box the forest was fitted on.
        excess = np.maximum(x - self._hi, 0.0) + np.maximum(self._lo - x, 0.0)
        beyond = excess.max(axis=1) / self._span
        return np.maximum(forest, beyond / (beyond + 1.0))

    def _score(self, timestamp, value: float) -> float:
        if self._needs_fit():
            self._fit()
        self._history.append(value)
        self._since_fit += 1
        if self._model is None or len(self._history) < self.params.shingle:
            return 0.0
        shingle = np.asarray(list(self._history)[-self.params.shingle :])[None, :]
        return float(self._score_shingles(shingle)[0])

    def _score_batch(self, timestamps, values: np.ndarray) -> np.ndarray:
        p = self.params
        out = np.zeros(len(values))
        i = 0
        while i < len(values):
            if self._needs_fit():
                self._fit()
            if self._model is None:  # still warming up: one point at a time
                out[i] = self._score(None, float(values[i]))
                i += 1
                continue
            # Points until the next refit share one model, so score them in one call.
            block = min(len(values) - i, p.refit_every - self._since_fit)
            hist = np.asarray(self._history)[len(self._history) - (p.shingle - 1) :]
            joined = np.concatenate([hist, values[i : i + block]])
            shingles = np.lib.stride_tricks.sliding_window_view(joined, p.shingle)
            out[i : i + block] = self._score_shingles(shingles)[-block:]
            self._history.extend(values[i : i + block].tolist())
            self._since_fit += block
            i += block
        return out

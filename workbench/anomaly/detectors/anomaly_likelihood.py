"""Numenta-style anomaly likelihood: how unusual is the recent mean of a raw anomaly score?

A raw score (prediction error, novelty, ...) is noisy and its typical level differs from one
series to the next.  The anomaly likelihood (Ahmad et al., "Unsupervised real-time anomaly
detection for streaming data", Neurocomputing 2017, the post-processing behind Numenta HTM's NAB
result) compares the *short-term* mean of the raw score (the last ``averaging_window`` points)
with a Gaussian fitted to the *long-term* distribution of that moving mean (the last
``historic_window`` points, refitted every ``reestimation_period`` points).  The likelihood is
``1 - Q(z)`` of that comparison, so a series that is always somewhat surprising is not always
alarming, and a sudden run of surprise in a quiet series is.

Hand-written because no maintained library ships it: NuPIC is Python-2 only and ``htm.core``
is a large C++ build for this one function.  The behaviour follows NuPIC's
``anomaly_likelihood.py``: likelihood 0.5 while learning, a floor on the fitted mean and
variance, two-sided tail, and a repeated "red" likelihood downgraded to "yellow".
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

# NuPIC's lower bounds on the fitted distribution: a series whose raw score is almost always
# zero must not turn every small blip into a certainty.
MIN_MEAN = 0.03
MIN_VARIANCE = 0.0003
# Tail probabilities at or below RED are alarms; an alarm right after an alarm is downgraded
# to YELLOW so a long anomaly raises one alarm, not one per point (NuPIC's filter).
RED_TAIL = 1e-5
YELLOW_TAIL = 1e-3
# log(1 - likelihood) is mapped onto [0, 1] with this floor (NuPIC's computeLogLikelihood).
_LOG_FLOOR = math.log(1.0 - 0.9999999999)


def log_likelihood(likelihood: float) -> float:
    """Spread likelihoods near 1 over [0, 1]: ``0.5 -> 0.03``, ``1 - 1e-5 -> 0.5``, ``1 -> 1``."""
    return math.log(1.0000000001 - likelihood) / _LOG_FLOOR


class AnomalyLikelihood:
    """Streaming anomaly likelihood of a raw score in ``[0, 1]`` (see module docstring).

    ``learning_period`` raw scores are ignored when fitting (the model behind the raw score is
    still learning); the likelihood is 0.5 until ``learning_period + estimation_samples`` raw
    scores have been seen.  State is plain Python/numpy, so it pickles with its detector.
    """

    def __init__(
        self,
        learning_period: int = 288,
        estimation_samples: int = 100,
        historic_window: int = 8640,
        reestimation_period: int = 100,
        averaging_window: int = 10,
    ):
        self.learning_period = int(learning_period)
        self.probation = int(learning_period) + int(estimation_samples)
        self.historic_window = int(historic_window)
        self.reestimation_period = max(1, int(reestimation_period))
        self.averaging_window = max(1, int(averaging_window))
        self.history: deque[float] = deque(maxlen=self.historic_window)
        self.recent: deque[float] = deque(maxlen=self.averaging_window)
        self.iteration = 0
        self.mean: float | None = None
        self.stdev: float | None = None
        self._previous_tail = 1.0

    def _refit(self) -> tuple[float, float]:
        shifted_out = max(0, self.iteration - self.historic_window)
        skip = min(self.iteration, max(0, self.learning_period - shifted_out))
        h = np.fromiter(self.history, dtype=float)
        w = self.averaging_window
        moving = np.convolve(h, np.full(w, 1.0 / w))[: len(h)]  # trailing mean, as NuPIC's
        sample = moving[skip:]
        mean = float(sample.mean()) if sample.size else 0.0
        var = float(sample.var()) if sample.size else 0.0
        self.mean = max(mean, MIN_MEAN)
        self.stdev = math.sqrt(max(var, MIN_VARIANCE))
        return self.mean, self.stdev

    def update(self, raw: float) -> float:
        """Likelihood (in ``[0, 1]``) that the current point is anomalous, then learn ``raw``."""
        self.recent.append(float(raw))
        if self.iteration < self.probation:
            likelihood = 0.5
        else:
            mean, stdev = self.mean, self.stdev
            if mean is None or stdev is None or self.iteration % self.reestimation_period == 0:
                mean, stdev = self._refit()
            avg = sum(self.recent) / self.averaging_window
            # Two-sided: an unusually *quiet* stretch is as unlikely as a noisy one.
            x = avg if avg >= mean else 2.0 * mean - avg
            tail = 0.5 * math.erfc((x - mean) / (stdev * math.sqrt(2.0)))
            filtered = (
                YELLOW_TAIL if (tail <= RED_TAIL and self._previous_tail <= RED_TAIL) else tail
            )
            self._previous_tail = tail
            likelihood = 1.0 - filtered
        self.history.append(float(raw))
        self.iteration += 1
        return likelihood

"""``sequence_novelty`` and its anomaly-likelihood post-processing, on synthetic series.

The generic detector contract (unit interval, NaN/gap reporting, batch == streaming, restart
from saved state) is covered for every built-in in test_detectors.py; these tests cover what is
specific to this detector.  The likelihood oracle is scipy's normal tail, not our own formula.
"""

import math
import pickle

import numpy as np
import pytest
from scipy.stats import norm

from workbench.anomaly.detectors import create
from workbench.anomaly.detectors.anomaly_likelihood import (
    MIN_MEAN,
    MIN_VARIANCE,
    AnomalyLikelihood,
    log_likelihood,
)

STEP = 300.0


def daily(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * STEP
    return t, 10 + 3 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.3, n)


def with_anomalies(seed):
    t, v = daily(seed=seed)
    v[1500:1520:2], v[1501:1520:2] = 7.5, 12.5  # inside the usual range, but jumps never seen
    v[1600:1620:2], v[1601:1620:2] = 12.9, 8.7  # a second, different in-range pattern
    v[1640] = 25.0  # beyond the range: a spatial anomaly
    return t, v


@pytest.mark.parametrize("seed", range(4))
def test_novel_patterns_and_new_extremes_are_found_with_few_false_alarms(seed):
    t, v = with_anomalies(seed)
    scores = create("sequence_novelty", probation=450, suppress=0).score_series(v, t)
    alarms = np.flatnonzero(scores >= 0.5)
    assert scores[1500:1505].max() >= 0.5  # within a few points of the onset
    assert scores[1600:1605].max() >= 0.5
    assert scores[1640] == 1.0
    normal = [
        i for i in alarms if i >= 450 and not (1500 <= i < 1520 or 1600 <= i < 1620 or i == 1640)
    ]
    assert len(normal) <= 1, normal  # 2100 ordinary points after probation


def test_one_alarm_per_incident_but_new_extremes_always_pass():
    t, v = with_anomalies(0)
    plain = create("sequence_novelty", probation=450, suppress=0).score_series(v, t)
    det = create("sequence_novelty", probation=450, suppress=300)
    quiet = det.score_series(v, t)
    first = int(np.flatnonzero(quiet[450:] >= 0.5)[0]) + 450
    assert 1500 <= first < 1505 and quiet[first] == plain[first]
    assert plain[1600:1620].max() >= 0.5  # would alarm again ...
    assert quiet[first + 1 : 1640].max() == 0.0  # ... but is inside the quiet period
    assert quiet[1640] == 1.0  # a spatial anomaly is never suppressed
    assert det.alarms == 1


def test_probation_is_learnt_not_scored():
    t, v = daily(1000)
    v[100] = 40.0  # a wild value during warm-up: reported as a new extreme, then learnt
    det = create("sequence_novelty", probation=300)
    scores = det.score_series(v, t)
    assert scores[100] == 1.0
    # After calibration the warm-up values are known: ordinary values are not novel.
    assert det.last_raw < 0.5
    assert (scores[300:] >= 0.5).sum() == 0


@pytest.mark.parametrize("split", [120, 300, 301, 777])  # mid-warm-up, at and after calibration
def test_state_round_trip_at_any_point(split):
    t, v = with_anomalies(1)
    v = v[:1700]
    t = t[:1700]
    whole = create("sequence_novelty", probation=300).score_series(v, t)
    first = create("sequence_novelty", probation=300)
    head = first.score_series(v[:split], t[:split])
    second = create("sequence_novelty", probation=300)
    second.set_state(pickle.loads(pickle.dumps(first.get_state())))
    tail = np.array([second.update(a, b) for a, b in zip(t[split:], v[split:], strict=True)])
    np.testing.assert_array_equal(np.r_[head, tail], whole)
    reference = create("sequence_novelty", probation=300)
    reference.score_series(v, t)
    assert second.alarms == reference.alarms >= 1


def test_nans_in_warm_up_and_later_are_skipped_and_reported():
    t, v = with_anomalies(2)
    v[[10, 11, 299, 1200]] = np.nan
    v[1300] = -np.inf
    det = create("sequence_novelty", probation=300)
    scores = det.score_series(v, t)
    assert np.all(np.isfinite(scores)) and np.all((scores >= 0) & (scores <= 1))
    assert scores[[10, 11, 299, 1200, 1300]].tolist() == [0.0] * 5
    assert det.skipped_count == 5
    assert [r for _, r in det.skipped] == ["missing"] * 4 + ["infinite"]
    assert det.n_seen == len(v) - 5
    assert scores[1500:1505].max() >= 0.5  # still finds the anomaly afterwards


def test_constant_series_does_not_crash_and_flags_a_change():
    values = np.r_[np.full(400, 5.0), [5.0] * 50, [9.0], [5.0] * 50]
    scores = create("sequence_novelty", probation=300).score_series(values)
    # A zero-width range has no spatial check; the fallback bin width makes 9.0 a new bin.
    assert scores[450] >= 0.5
    assert scores[300:450].max() < 0.5


# --------------------------------------------------------------------------- likelihood


def test_likelihood_is_neutral_while_learning():
    lik = AnomalyLikelihood(learning_period=20, estimation_samples=30, averaging_window=5)
    assert [lik.update(1.0 if i % 7 == 0 else 0.0) for i in range(50)] == [0.5] * 50


def test_likelihood_matches_gaussian_tail_with_nupic_floors():
    # Raw scores of 0 throughout learning: the fitted mean and variance sit on their floors.
    lik = AnomalyLikelihood(learning_period=10, estimation_samples=40, averaging_window=10)
    for _ in range(50):
        lik.update(0.0)
    value = lik.update(1.0)  # moving mean of the last 10 raw scores = 0.1
    expected = 1.0 - norm.sf(0.1, loc=MIN_MEAN, scale=math.sqrt(MIN_VARIANCE))
    assert value == pytest.approx(expected, rel=1e-9)
    assert lik.mean == MIN_MEAN and lik.stdev == pytest.approx(math.sqrt(MIN_VARIANCE))


def test_likelihood_fits_the_recent_distribution_and_downgrades_repeated_red():
    rng = np.random.default_rng(5)
    raw = rng.uniform(0.0, 0.2, 400)
    lik = AnomalyLikelihood(
        learning_period=50, estimation_samples=50, averaging_window=4, reestimation_period=1000
    )
    for r in raw[:300]:
        lik.update(r)
    window = raw[296:300]
    # One fit, at iteration 100 (refits are 1000 apart here), of the trailing 4-point means of
    # the history then available, minus the 50 learning-period points.
    fit = np.convolve(raw[:100], np.full(4, 0.25))[:100][50:]
    assert lik.mean == pytest.approx(fit.mean()) and lik.stdev == pytest.approx(fit.std())
    out = [lik.update(1.0) for _ in range(6)]
    tails = [
        norm.sf(np.r_[window[i + 1 :], [1.0] * (i + 1)][-4:].mean(), fit.mean(), fit.std())
        for i in range(4)
    ]
    assert out[0] == pytest.approx(1.0 - tails[0], abs=1e-12)
    assert tails[0] <= 1e-5 and tails[1] <= 1e-5
    assert out[1] == pytest.approx(1.0 - 1e-3)  # red right after red: yellow


def test_log_likelihood_scale():
    assert log_likelihood(0.5) == pytest.approx(math.log(0.5) / math.log(1e-10), rel=1e-6)
    assert log_likelihood(1.0 - 1e-5) == pytest.approx(0.5, abs=1e-6)
    assert log_likelihood(1.0) == pytest.approx(1.0, abs=1e-6)

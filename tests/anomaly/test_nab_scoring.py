"""NAB scoring against values worked out by hand (never by calling the code under test).

Synthetic series used throughout: n = 100 points, so the probationary length is
min(floor(0.15 * 100), 0.15 * 5000) = min(15, 750) = 15 points.  One window covers indices
40..49 inclusive (width W = 10).  Standard profile: TP 1, FN 1, FP 0.11.

Useful constants (sigma(x) = 1 / (1 + e^-x), scaled_sigmoid(y) = 2 sigma(-5 y) - 1):
  max_tp = scaled_sigmoid(-1) = 2 / (1 + e^-5) - 1 = 2 / 1.0067379 - 1 = 0.9866143
"""

import math

import numpy as np
import pytest

from workbench.anomaly.nab_scoring import (
    DEFAULT_PROFILES,
    Profile,
    load_profiles,
    normalise,
    optimise_threshold,
    prepare_series,
    probationary_length,
    score_corpus,
    score_series_at,
    windows_to_indices,
)

STD = DEFAULT_PROFILES["standard"]
N = 100
WINDOW = (40, 49)
MAX_TP = 0.9866143


def prep(windows=(WINDOW,), n=N, name="cat/series.csv"):
    return prepare_series(name, n, list(windows))


def detections(*indices, n=N):
    s = np.zeros(n)
    s[list(indices)] = 1.0
    return s


def raw(scores, profile=STD, **kw):
    return score_series_at(prep(**kw), scores, profile, threshold=0.5).raw


def test_probationary_length():
    # min(floor(0.15 * 100), 750) = 15;  min(floor(0.15 * 4033), 750) = min(604, 750) = 604;
    # min(floor(0.15 * 15903), 750) = min(2385, 750) = 750
    assert probationary_length(100) == 15
    assert probationary_length(4033) == 604
    assert probationary_length(15903) == 750


def test_perfect_detector_scores_tp_weight_per_window():
    # Detection at the left edge: y = -(49 - 40 + 1) / 10 = -1 -> reward max_tp / max_tp = 1.
    assert raw(detections(40)) == pytest.approx(1.0)


def test_null_detector_costs_fn_weight_per_window():
    assert raw(np.zeros(N)) == pytest.approx(-1.0)
    assert raw(np.zeros(N), profile=DEFAULT_PROFILES["reward_low_FN_rate"]) == pytest.approx(-2.0)


def test_early_hit():
    # Index 42: y = -(49 - 42 + 1) / 10 = -0.8; 2 / (1 + e^-4) - 1 = 2 / 1.0183156 - 1 = 0.9640276
    # reward = 0.9640276 / 0.9866143 = 0.9771072
    assert raw(detections(42)) == pytest.approx(0.9771072, abs=1e-6)


def test_late_hit():
    # Index 49 (right edge): y = -(49 - 49 + 1) / 10 = -0.1; 2 / (1 + e^-0.5) - 1
    # = 2 / 1.6065307 - 1 = 0.2449187; reward = 0.2449187 / 0.9866143 = 0.2482416
    assert raw(detections(49)) == pytest.approx(0.2482416, abs=1e-6)


def test_only_earliest_detection_in_window_counts():
    # Detections at 42 and 49: only 42 counts (0.9771072), no FP for the second one.
    result = score_series_at(prep(), detections(42, 49), STD, 0.5)
    assert result.raw == pytest.approx(0.9771072, abs=1e-6)
    assert (result.tp, result.fp, result.fn) == (1, 0, 0)


def test_false_positive_right_after_window():
    # Detect at 40 (+1) and at 50, one past the right edge 49: y = |49 - 50| / (10 - 1) = 0.1111;
    # 2 / (1 + e^0.5556) - 1 = 2 / 2.7428910 - 1 = -0.2708444; cost 0.11 * -0.2708444 = -0.0297929
    # total = 1 - 0.0297929 = 0.9702071
    assert raw(detections(40, 50)) == pytest.approx(0.9702071, abs=1e-6)


def test_false_positive_far_after_window():
    # Index 90: y = 41 / 9 = 4.56 > 3 -> -1; cost -0.11; window missed -1; total -1.11
    assert raw(detections(90)) == pytest.approx(-1.11)


def test_false_positive_before_any_window():
    # Index 20 (after probation, before the first window): cost -1 * 0.11; total -1.11.
    # Under reward_low_FP_rate: -1 * 0.22 - 1 = -1.22.
    assert raw(detections(20)) == pytest.approx(-1.11)
    assert raw(detections(20), profile=DEFAULT_PROFILES["reward_low_FP_rate"]) == pytest.approx(
        -1.22
    )


def test_probationary_detections_are_ignored():
    # Index 10 < 15: not scored at all, so only the missed window counts: -1.
    assert raw(detections(10)) == pytest.approx(-1.0)


def test_window_inside_probation_is_not_counted():
    p = prep(windows=[(2, 8), WINDOW])
    assert p.n_windows == 1
    assert score_series_at(p, np.zeros(N), STD, 0.5).raw == pytest.approx(-1.0)


def test_scaled_sigmoid_values_directly():
    from workbench.anomaly.nab_scoring import scaled_sigmoid

    # 2 / (1 + e^0) - 1 = 0;  y = 3.5 > 3 -> -1;  y = -1 -> 0.9866143
    assert scaled_sigmoid(0.0) == pytest.approx(0.0)
    assert scaled_sigmoid(3.5) == -1.0
    assert scaled_sigmoid(-1.0) == pytest.approx(MAX_TP, abs=1e-7)


def test_threshold_optimisation_picks_best_cut():
    # Series A: score 0.9 at 42 (early hit, +0.9771072), 0.6 at 90 (far FP, -0.11),
    #           0.3 at 20 (FP before window, -0.11).
    # Series B (no windows): 0.7 at 30 (FP, -0.11).
    # Cuts: none             -> -1 (missed window)
    #       t=0.9 {42}       -> 0.9771072
    #       t=0.7 {+B30}     -> 0.8671072
    #       t=0.6 {+A90}     -> 0.7571072
    #       t=0.3 {+A20}     -> 0.6471072
    #       t=0   (all)      -> everything after probation is a detection: worse still.
    a = np.zeros(N)
    a[[42, 90, 20]] = [0.9, 0.6, 0.3]
    b = np.zeros(N)
    b[30] = 0.7
    preps = [prep(), prep(windows=(), name="cat/b.csv")]
    threshold, best = optimise_threshold(preps, [a, b], STD)
    assert threshold == pytest.approx(0.9)
    assert best == pytest.approx(0.9771072, abs=1e-6)


def test_threshold_optimisation_prefers_cheap_fps_for_a_window():
    # A: 0.8 at 30 (FP before the window, -0.11), 0.5 at 45 (y = -(49-45+1)/10 = -0.5;
    # 2/(1+e^-2.5) - 1 = 2/1.0820850 - 1 = 0.8482836; / 0.9866143 = 0.8597922).
    # Cut at 0.8: -0.11 - 1 = -1.11.  Cut at 0.5: -0.11 + 0.8597922 = 0.7497922.  None: -1.
    a = np.zeros(N)
    a[[30, 45]] = [0.8, 0.5]
    threshold, best = optimise_threshold([prep()], [a], STD)
    assert threshold == pytest.approx(0.5)
    assert best == pytest.approx(0.7497922, abs=1e-6)


def test_threshold_optimisation_with_nothing_worth_firing():
    # Only FPs: the best cut is no detection at all, raw = -1 (missed window).
    a = np.zeros(N)
    a[[20, 90]] = 1.0
    threshold, best = optimise_threshold([prep()], [a], STD)
    assert math.isinf(threshold)
    assert best == pytest.approx(-1.0)


def test_optimiser_agrees_with_fixed_threshold_scoring_on_random_scores():
    rng = np.random.default_rng(1)
    preps = [prep(windows=[(30, 39), (60, 74)]), prep(), prep(windows=(), name="x/y.csv")]
    scores = [rng.random(N).round(2) for _ in preps]
    threshold, best = optimise_threshold(preps, scores, STD)
    brute = max(
        [
            sum(score_series_at(p, s, STD, t).raw for p, s in zip(preps, scores, strict=True))
            for t in np.unique(np.concatenate(scores))
        ]
        + [-3.0]
    )
    assert best == pytest.approx(brute)
    at_threshold = sum(
        score_series_at(p, s, STD, threshold).raw for p, s in zip(preps, scores, strict=True)
    )
    assert at_threshold == pytest.approx(best)


def test_normalised_corpus_scores():
    # Perfect detector: 100.  Null detector: 0.  One late hit out of two windows:
    # raw = 0.2482416 - 1 = -0.7517584; null = -2, perfect = 2;
    # 100 * (-0.7517584 + 2) / 4 = 31.20604
    preps = [prep(), prep(name="cat/two.csv")]
    perfect = score_corpus(preps, [detections(40), detections(40)])
    null = score_corpus(preps, [np.zeros(N), np.zeros(N)])
    late = score_corpus(preps, [detections(49), np.zeros(N)])
    assert perfect["standard"].normalised == pytest.approx(100.0)
    assert null["standard"].normalised == pytest.approx(0.0)
    assert late["standard"].normalised == pytest.approx(31.20604, abs=1e-4)
    assert late["standard"].per_category["cat"] == pytest.approx(31.20604, abs=1e-4)
    assert normalise(0.0, -2.0, 2.0) == 50.0


def test_windows_to_indices_and_profiles_file(tmp_path):
    ts = np.arange(
        "2020-01-01T00:00", "2020-01-01T10:00", np.timedelta64(1, "h"), dtype="datetime64[ns]"
    )
    idx = windows_to_indices(ts, [["2020-01-01 02:00:00.000000", "2020-01-01 04:00:00.000000"]])
    assert idx == [(2, 4)]
    f = tmp_path / "profiles.json"
    f.write_text(
        '{"p": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 3.0, "fpWeight": 0.5, "tnWeight": 1.0}}}'
    )
    assert load_profiles(f) == {"p": Profile("p", 1.0, 3.0, 0.5)}


def test_score_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        score_series_at(prep(), np.zeros(N - 1), STD, 0.5)

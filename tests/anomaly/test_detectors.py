"""Detector behaviour on synthetic series: detection, NaN handling, state, registry.

The behaviour tests run over every detector the registry holds (built-ins and any installed
plugin), so a new detector is tested by being registered; the built-ins are checked against
what pyproject.toml declares, not against a list kept here."""

import pickle
import tomllib
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from workbench.anomaly.detectors import Detector, available, create, get_detector_class, registry

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
DECLARED = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"][
    registry.ENTRY_POINT_GROUP
]
DETECTORS = available()  # every registered detector, read from the registry at collection
FAST_PARAMS = {"isolation_forest": {"train_size": 256, "refit_every": 256, "n_estimators": 25}}
STEP = 300.0  # five-minute points, in seconds


def make(name):
    return create(name, **FAST_PARAMS.get(name, {}))


def daily_series(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) * STEP
    values = 10 + 3 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.3, n)
    return t, values


def test_builtins_are_registered_with_documented_params():
    assert DECLARED, f"{PYPROJECT} declares no detectors"
    assert set(DECLARED) <= set(DETECTORS)
    for name in DETECTORS:
        cls = get_detector_class(name)
        assert cls.name == name
        if name in DECLARED:  # a built-in is the class its entry point names
            assert f"{cls.__module__}:{cls.__qualname__}" == DECLARED[name]
        for field_name, field in cls.Params.model_fields.items():
            assert field.description, f"{name}.{field_name} has no description"


def test_params_are_validated():
    with pytest.raises(ValidationError):
        create("robust_zscore", window=1)
    with pytest.raises(ValidationError):
        create("ewma", no_such_knob=3)
    assert create("ewma", alpha=0.5).params.alpha == 0.5
    with pytest.raises(KeyError, match="unknown detector"):
        create("nope")


# CUSUM and level_shift look for sustained changes: one spike is clipped or median-filtered
# away by design (covered by their own test below).
@pytest.mark.parametrize("name", [n for n in DETECTORS if n not in ("cusum", "level_shift")])
def test_scores_are_in_unit_interval_and_spike_stands_out(name):
    t, values = daily_series()
    values[1200] += 15  # ~50 sigma above the seasonal curve
    scores = make(name).score_series(values, t)
    assert scores.shape == values.shape
    assert np.all((scores >= 0) & (scores <= 1))
    assert scores[1200] > np.quantile(scores[600:1190], 0.99), name


@pytest.mark.parametrize("name", DETECTORS)
def test_nan_and_gaps_are_skipped_and_reported(name):
    t, values = daily_series(800)
    values[[100, 101, 500]] = np.nan
    values[600] = np.inf
    t = np.r_[t[:300], t[300:] + 86400 * 3]  # a three-day gap
    det = make(name)
    scores = det.score_series(values, t)
    assert np.all(np.isfinite(scores))
    assert scores[[100, 101, 500, 600]].tolist() == [0.0] * 4
    assert det.skipped_count == 4
    assert [reason for _, reason in det.skipped] == ["missing", "missing", "missing", "infinite"]
    assert det.n_seen == 796


def test_update_rejects_bad_points_without_crashing():
    det = create("robust_zscore")
    assert det.update(0.0, None) == 0.0
    assert det.update(1.0, "abc") == 0.0
    assert det.update(5.0, 1.0) == 0.0
    assert det.update(4.0, 1.0) == 0.0  # earlier than the last accepted point
    assert [r for _, r in det.skipped] == ["not a number", "not a number", "out of order"]
    assert det.n_seen == 1


@pytest.mark.parametrize("name", DETECTORS)
def test_batch_scoring_matches_point_by_point(name):
    t, values = daily_series(600, seed=3)
    values[[50, 400]] = np.nan
    values[450:] += 4
    batch = make(name).score_series(values, t)
    det = make(name)
    stream = np.array([det.update(a, b) for a, b in zip(t, values, strict=True)])
    np.testing.assert_allclose(batch, stream, atol=1e-12)


@pytest.mark.parametrize("name", DETECTORS)
def test_restart_from_saved_state_continues_identically(name):
    t, values = daily_series(900, seed=4)
    values[800] += 10
    whole = make(name).score_series(values, t)

    first = make(name)
    head = first.score_series(values[:450], t[:450])
    saved = pickle.loads(pickle.dumps(first.get_state()))  # as if written to disk
    second = make(name)
    second.set_state(saved)
    tail = second.score_series(values[450:], t[450:])
    np.testing.assert_allclose(np.r_[head, tail], whole, atol=1e-12)
    assert second.n_seen == 900


def test_state_of_another_detector_is_refused():
    with pytest.raises(ValueError):
        create("ewma").set_state(create("seasonal").get_state())


def test_seasonal_knows_the_daily_shape():
    # A value that is normal for noon but not for midnight: a level detector with a day-long
    # window misses it, the seasonal model does not.
    t, values = daily_series(2016)
    i = 1800 + int(np.argmin(values[1800:2016]))  # near the daily low
    values[i] = 13.0  # the daily high: ordinary in level, wrong for this time of day
    seasonal = create("seasonal").score_series(values, t)
    level = create("robust_zscore", window=288).score_series(values, t)
    rank = lambda s: (s[1500:2016] >= s[i]).sum()  # noqa: E731
    assert rank(seasonal) == 1
    assert rank(level) > 5


def test_cusum_and_level_shift_catch_a_small_sustained_shift():
    rng = np.random.default_rng(7)
    values = rng.normal(0, 1, 1000)
    values[600:] += 1.5  # small: no single point is extreme
    for name in ("cusum", "level_shift"):
        scores = create(name).score_series(values)
        assert scores[600:630].max() > scores[300:590].max(), name
    det = create("cusum")
    det.score_series(values)
    assert det.change_points >= 1


def test_ensemble_suppresses_repeated_alarms():
    t, values = daily_series(1500)
    values[1000:1010] += 20
    base = dict(probation=300)
    plain = create("ensemble", **base).score_series(values, t)
    quiet = create("ensemble", alarm_level=0.5, suppress=100, **base).score_series(values, t)
    assert plain[1000] >= 0.5 and quiet[1000] == plain[1000]
    assert (plain[1001:1010] >= 0.5).sum() > 3
    assert quiet[1001:1100].max() == 0.0
    assert np.all(quiet[:300] == 0)


def test_entry_point_detectors_are_loaded(monkeypatch, clean_registries):
    class Plugin(Detector):
        from workbench.anomaly.detectors import DetectorParams as Params

        def reset(self):
            pass

        def _score(self, timestamp, value):
            return 1.0 if value > 100 else 0.0

    class FakeEntryPoint:
        name, value = "plugin_threshold", "pkg:Plugin"

        def load(self):
            return Plugin

    import workbench.registry as plugin_registry

    real = plugin_registry.entry_points

    def with_plugin(group):
        extra = [FakeEntryPoint()] if group == registry.ENTRY_POINT_GROUP else []
        return [*real(group=group), *extra]

    monkeypatch.setattr(plugin_registry, "entry_points", with_plugin)
    registry.load_entry_points(force=True)
    det = create("plugin_threshold")
    assert det.score_series([1, 200, 3]).tolist() == [0.0, 1.0, 0.0]
    assert "plugin_threshold" in available()


def test_registering_a_taken_name_fails():
    with pytest.raises(ValueError):
        registry.register("ewma")(get_detector_class("seasonal"))


def test_many_skips_are_counted_in_bulk_with_a_bounded_sample():
    """A sparse series (a product selling a few hours a week): thousands of NaNs. The batch path
    counts them all, per reason, exactly as point-by-point updates do, keeps the same sample of
    the most recent ones, and the saved state stays small however many were skipped."""
    from collections import deque

    from workbench.anomaly.detectors.base import MAX_SKIPPED_KEPT

    n = 20_000
    t = np.arange(n, dtype=float) * 3600
    values = np.full(n, np.nan)
    values[::50] = 10.0 + (np.arange(n // 50) % 3) * 0.01  # a sale every 50 hours
    values[[7, 8, 19_999]] = [np.inf, -np.inf, np.inf]
    batch = create("robust_zscore", window=48, min_history=12)
    batch.score_series(values, t)
    stream = create("robust_zscore", window=48, min_history=12)
    for a, b in zip(t, values, strict=True):
        stream.update(a, b)
    expected = {"missing": n - n // 50 - 3, "infinite": 3}
    assert batch.skipped_by_reason == stream.skipped_by_reason == expected
    assert batch.skipped_count == stream.skipped_count == sum(expected.values())
    assert len(batch.skipped) == MAX_SKIPPED_KEPT
    assert [(float(ts), r) for ts, r in batch.skipped] == [
        (float(ts), r) for ts, r in stream.skipped
    ]
    assert batch.skipped[-1] == (t[-1], "infinite")
    # the kept sample of the skips after a given count (what a job reports as examples)
    assert batch.skipped_since(batch.skipped_count - 2) == list(batch.skipped)[-2:]
    assert batch.skipped_since(batch.skipped_count) == []
    assert len(pickle.dumps(batch.get_state())) < 20_000
    # restore keeps the totals
    again = create("robust_zscore", window=48, min_history=12)
    again.set_state(pickle.loads(pickle.dumps(batch.get_state())))
    assert again.skipped_by_reason == expected and again.skipped_count == batch.skipped_count
    # a state saved before the per-reason totals existed (up to 1000 skipped points kept)
    old = batch.get_state()
    del old["state"]["skipped_by_reason"]
    old["state"]["skipped"] = deque([(float(i), "missing") for i in range(1000)], maxlen=1000)
    old["state"]["skipped_count"] = 5000
    legacy = create("robust_zscore", window=48, min_history=12)
    legacy.set_state(old)
    assert len(legacy.skipped) == MAX_SKIPPED_KEPT and legacy.skipped[-1] == (999.0, "missing")
    assert legacy.skipped_by_reason == {"missing": 1000, "earlier (reason not kept)": 4000}


def test_seasonal_run_points_add_up_a_run_of_moderate_residuals():
    # A flat series with unit noise, then three points each ~3 scale units low: alone each one
    # scores about 0.4-0.55 (z / (z + 4)), below the 0.55 the channel rule uses.
    rng = np.random.default_rng(5)
    values = 100 + rng.normal(0, 1, 600)
    values[500:503] -= 3.5
    kw = dict(
        periods=[10],
        period_unit="points",
        bins=10,
        alpha_season=0.01,
        alpha_level=0.01,
        min_history=100,
    )
    alone = create("seasonal", **kw).score_series(values)
    runs = create("seasonal", run_points=3, **kw).score_series(values)
    # run_points changes the output only, not what the model learns: the run score is Stouffer's
    # combination of the single-point z's (z = 4 s / (1 - s) undoes the squash), hand-applied here.
    z = 4 * alone / (1 - alone)
    for i in (500, 501, 502):
        best = max(z[j : i + 1].sum() / np.sqrt(i + 1 - j) for j in range(max(500, i - 2), i + 1))
        assert runs[i] == pytest.approx(best / (best + 4), rel=1e-6)
    assert max(alone[500:503]) < 0.55 < runs[502]
    # the rest of the series: noise never adds up to an alarm (sign changes reset the run)
    assert np.r_[runs[100:500], runs[510:]].max() < 0.55


def test_seasonal_run_points_hand_computed_and_resumable():
    det = create("seasonal", periods=[4], period_unit="points", bins=4, min_history=2, run_points=3)
    # _with_run is the combination rule; check it on hand-computed runs.
    assert det._with_run(3.0, 3) == pytest.approx(3.0)
    assert det._with_run(3.0, 3) == pytest.approx(6 / np.sqrt(2))
    assert det._with_run(3.0, 3) == pytest.approx(9 / np.sqrt(3))
    assert det._with_run(5.0, 3) == pytest.approx(11 / np.sqrt(3))  # window keeps the last 3 only
    assert det._with_run(-2.0, 3) == pytest.approx(2.0)  # sign change: a new run
    # a saved state mid-run resumes with the same scores as an uninterrupted run
    values = np.r_[
        np.tile([1.0, 2.0, 3.0, 2.0], 30) + np.linspace(0, 0.1, 120), [0.0, 0.2, 0.1, 2.0]
    ]
    whole = create(
        "seasonal", periods=[4], period_unit="points", bins=4, min_history=20, run_points=3
    ).score_series(values)
    first = create(
        "seasonal", periods=[4], period_unit="points", bins=4, min_history=20, run_points=3
    )
    a = first.score_series(values[:121])
    second = create(
        "seasonal", periods=[4], period_unit="points", bins=4, min_history=20, run_points=3
    )
    second.set_state(first.get_state())
    b = second.score_series(values[121:])
    assert np.allclose(np.r_[a, b], whole)

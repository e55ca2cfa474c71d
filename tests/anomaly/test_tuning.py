"""Rolling-origin tuning on synthetic series whose right answer is known by construction."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from pydantic import Field

import workbench
from tests.support.shop import make_shop
from workbench.anomaly.alert_rules import load_rule
from workbench.anomaly.detectors import Detector, DetectorParams, registry
from workbench.anomaly.nab_scoring import DEFAULT_PROFILES, MAX_TP, prepare_series, scaled_sigmoid
from workbench.anomaly.tuning import (
    Split,
    choose_threshold,
    incident_windows,
    metric_series,
    plot_in_vs_out,
    rolling_origin_splits,
    save_alert_rule,
    search,
)

N = 2000
SPIKES = [400, 600, 800, 950, 1150, 1400, 1550, 1850]
DIP = 700


class StaticLevel(Detector):
    """The naive alert: a fixed line on the value (score = value / full_scale)."""

    class Params(DetectorParams):
        full_scale: float = Field(200.0, gt=0, description="Value that scores 1.")

    def reset(self):
        pass

    def _score(self, timestamp, value):
        return value / self.params.full_scale


@pytest.fixture
def static_level(clean_registries):
    registry.register("static_level")(StaticLevel)
    return "static_level"


def growing_series(seed: int):
    """Hourly orders that grow 40 -> 132 with 2 % noise; eight labelled bursts to about 150 (a
    capacity cap, so the same in absolute terms all along); one unlabelled negative booking (a
    reversal) at DIP.  A fixed line just under 150 separates every burst from every normal hour
    -- but only someone who has seen the late, high normal hours can draw it there."""
    rng = np.random.default_rng(seed)
    level = np.linspace(40, 132, N)
    values = level * (1 + 0.02 * rng.standard_normal(N))
    for s in SPIKES:
        values[s] = 150 + 3 * rng.standard_normal()
    values[DIP] = -50
    ts = pd.date_range("2024-01-01", periods=N, freq="h")
    return values, ts, [(s - 5, s + 5) for s in SPIKES]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_overfit_setting_wins_in_sample_and_loses_out_of_sample(static_level, seed):
    values, ts, windows = growing_series(seed)
    result = search(
        values, ts, windows, "robust_zscore", grid=[{"window": 48}, {"detector": static_level}]
    )
    zscore, line = result.settings
    # In-sample both find every burst at its peak, the middle of an 11-point window; the z-score
    # also fires on the reversal, an FP after a window (farther than 3 widths: cost 0.11).
    reward = scaled_sigmoid(-6 / 11) / MAX_TP
    assert line.in_sample == pytest.approx(100 * (8 * reward + 8) / 16)
    assert zscore.in_sample == pytest.approx(line.in_sample - 100 * 0.11 / 16)
    assert line.in_sample > zscore.in_sample
    # Out of sample the line, drawn from the past, sits below the later normal hours: false alarms.
    assert line.out_figures.false_alarms > 0 and zscore.out_figures.false_alarms == 0
    assert line.out_of_sample < zscore.out_of_sample - 5
    assert result.chosen == 0 and result.chosen_detector == "robust_zscore"
    # Choosing on each fold's past picks the line (the reversal is in every past), and the nested
    # estimate says honestly what that procedure is worth.
    assert result.nested_choices == [1, 1, 1]
    assert result.nested_out_of_sample == pytest.approx(line.out_of_sample)
    table = result.table()
    assert list(table["gap"]) == [round(s.in_sample - s.out_of_sample, 2) for s in result.settings]
    assert table.loc[table["chosen"], "setting"].tolist() == [0]


def test_the_midpoint_threshold_keeps_the_detections_and_widens_the_margin():
    prep = prepare_series("s", 100, [(50, 59)])
    scores = np.zeros(100)
    scores[50], scores[30], scores[70] = 0.9, 0.3, 0.5
    nab_t, nab_raw = choose_threshold(prep, scores, DEFAULT_PROFILES["standard"], "nab")
    mid_t, mid_raw = choose_threshold(prep, scores, DEFAULT_PROFILES["standard"], "midpoint")
    assert nab_t == 0.9 and mid_t == pytest.approx(
        0.7
    )  # halfway to 0.5, the highest it must not catch
    assert mid_raw == nab_raw == pytest.approx(1.0)
    with pytest.raises(ValueError, match="threshold rule"):
        choose_threshold(prep, scores, DEFAULT_PROFILES["standard"], "median")


def test_rolling_origin_splits_never_cut_a_window():
    assert rolling_origin_splits(1000, folds=2) == [Split(500, 750), Split(750, 1000)]
    # 750 falls inside (740, 760): that origin moves to the window's left edge.
    assert rolling_origin_splits(1000, [(740, 760)], folds=2) == [Split(500, 740), Split(740, 1000)]
    with pytest.raises(ValueError, match="folds"):
        rolling_origin_splits(1000, folds=0)
    with pytest.raises(ValueError, match="initial"):
        rolling_origin_splits(1000, initial=1.0)


def test_incident_windows_from_a_truth_table():
    ts = pd.date_range("2024-01-01", periods=48, freq="h")
    truth = pd.DataFrame(
        {
            "start_ts": pd.to_datetime(
                ["2024-01-01 10:00", "2024-01-01 12:00", "2024-01-02 20:00"]
            ),
            "end_ts": pd.to_datetime(["2024-01-01 11:00", "2024-01-01 13:00", "2024-01-02 21:00"]),
        }
    )
    assert incident_windows(ts, truth) == [(10, 11), (12, 13), (44, 45)]
    # One hour of margin makes the first two touch: they merge into one window.
    assert incident_windows(ts, truth, margin="1h") == [(9, 14), (43, 46)]
    with pytest.raises(ValueError, match="end_ts"):
        incident_windows(ts, truth[["start_ts"]])


def test_save_as_alert_rule_round_trips(static_level, tmp_path):
    values, ts, windows = growing_series(0)
    result = search(
        values, ts, windows, "robust_zscore", grid=[{"window": 48}, {"detector": static_level}]
    )
    source = {"namespace": "shop", "metric": "orders", "grain": "hour"}
    rule = result.to_alert_rule("shop_orders", source, description="tuned by rolling origin")
    path = save_alert_rule(rule, tmp_path / "alerts")
    loaded = load_rule(path)
    assert loaded.detector.name == "robust_zscore" and loaded.detector.params == {"window": 48}
    assert loaded.threshold == pytest.approx(result.threshold) and 0 < loaded.threshold < 1
    assert loaded.source.metric == "orders" and loaded.description == "tuned by rolling origin"


def test_a_setting_that_never_fires_usefully_is_not_saved():
    values = np.random.default_rng(0).normal(10, 1, 500)
    result = search(values, None, [], "robust_zscore", grid=[{}], folds=2)  # no labels at all
    assert result.threshold == np.inf
    with pytest.raises(ValueError, match="never firing"):
        result.to_alert_rule("x", {"metric": "orders"})


def test_plot_in_vs_out_marks_each_setting(static_level):
    import matplotlib

    matplotlib.use("Agg")
    values, ts, windows = growing_series(0)
    result = search(
        values, ts, windows, "robust_zscore", grid=[{"window": 48}, {"detector": static_level}]
    )
    ax = plot_in_vs_out(result)
    offsets = ax.collections[0].get_offsets()
    np.testing.assert_allclose(
        np.asarray(offsets), [(s.in_sample, s.out_of_sample) for s in result.settings]
    )
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["{'window': 48}", "{'detector': 'static_level'}"]
    # A frame of per-setting figures (e.g. from leave-one-category-out) plots the same way; rows
    # without an out-of-sample score are left out rather than drawn at 0.
    frame = pd.DataFrame(
        {
            "params": [{}, {"bins": 8}, {"bins": 12}],
            "in_sample": [80.0, 85.0, 70.0],
            "out_of_sample": [75.0, 60.0, None],
        }
    )
    ax = plot_in_vs_out(frame)
    np.testing.assert_allclose(np.asarray(ax.collections[0].get_offsets()), [(80, 75), (85, 60)])
    assert [t.get_text() for t in ax.texts] == ["defaults", "{'bins': 8}"]


def test_metric_series_is_what_the_job_scores(tmp_path):
    wh, models = make_shop(
        tmp_path, hours=72, drop=("South", "2026-01-02 18:00", "2026-01-02 21:00")
    )
    wb = workbench.connect(warehouse=wh, models_dir=models, cache="none", read_only=True)
    wide = metric_series(
        wb, {"namespace": "shop", "metric": "orders", "grain": "hour", "slice_by": "region"}
    )
    wb.close()
    # Oracle: plain SQL on the same file, the dropped hours zero-filled as the job does.
    con = duckdb.connect(str(wh), read_only=True)
    truth = con.execute(
        "select date_trunc('hour', ts) h, region, sum(n) v from sales group by 1, 2"
    ).df()
    con.close()
    expected = (
        truth.pivot(index="h", columns="region", values="v")
        .reindex(pd.date_range("2026-01-01", periods=72, freq="h"))
        .fillna(0.0)
    )
    assert list(wide.columns) == ["North", "South"] and len(wide) == 72
    np.testing.assert_allclose(
        wide.to_numpy(dtype=float), expected[["North", "South"]].to_numpy(dtype=float)
    )
    assert (wide.loc["2026-01-02 18:00":"2026-01-02 20:00", "South"] == 0).all()
    sqrt = metric_series(
        workbench.connect(warehouse=wh, models_dir=models, cache="none", read_only=True),
        {"namespace": "shop", "metric": "orders", "grain": "hour", "transform": "sqrt"},
    )
    np.testing.assert_allclose(sqrt.iloc[:, 0].to_numpy(), np.sqrt(expected.sum(axis=1).to_numpy()))

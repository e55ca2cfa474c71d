"""Leave-one-category-out and the mission's rates, on hand-built series whose answers are worked out by hand.

Each series has 100 points and one window [50, 59]; the probation is floor(0.15 * 100) = 15
points.  A detection at the window's left edge earns exactly 1 (NAB's scaled sigmoid divided by
its left-edge value), a missed window costs 1, and a detection before the window costs 0.11
(standard profile).  One series' null is -1 and its perfect score +1, so a category of one
series normalises ``raw`` to ``50 * (raw + 1)``.
"""

import json

import numpy as np
import pytest

from workbench.anomaly.nab_cv import (
    DetectionFigures,
    detection_figures,
    leave_one_category_out,
    loco_summary,
)
from workbench.anomaly.nab_scoring import DEFAULT_PROFILES, prepare_series

STD = DEFAULT_PROFILES["standard"]
N, LEFT, RIGHT = 100, 50, 59


def series(cat):
    return prepare_series(f"{cat}/s.csv", N, [(LEFT, RIGHT)])


def fires(*at, level=0.9):
    s = np.zeros(N)
    s[list(at)] = level
    return s


def test_setting_and_threshold_come_from_the_other_categories():
    prepared = [series("a"), series("b"), series("c")]
    # Setting 0 finds the window at its left edge in a and b but only fires early (a false
    # positive) in c; setting 1 is the other way round, and is worse on a and b together.
    grid = [{"k": 0}, {"k": 1}]
    scores = [
        [fires(LEFT), fires(LEFT), fires(20)],
        [fires(20), fires(20), fires(LEFT)],
    ]
    folds = {f.category: f for f in leave_one_category_out(prepared, scores, grid, STD)}
    # Holding out c: a and b prefer setting 0, which misses c's window and pays the early FP.
    assert folds["c"].setting == 0 and folds["c"].params == {"k": 0}
    assert folds["c"].raw == pytest.approx(-1 - 0.11)
    assert folds["c"].normalised == pytest.approx(50 * (-0.11))
    assert folds["c"].train_normalised == pytest.approx(100.0)
    # Holding out a: b votes for 0 and c for 1, a tie; the earlier grid point wins and finds a.
    assert folds["a"].setting == 0 and folds["a"].normalised == pytest.approx(100.0)
    summary = loco_summary(list(folds.values()), prepared, STD)
    assert summary["mean"] == pytest.approx(round((100 + 100 - 5.5) / 3, 2))
    # Pooled: raw 1 + 1 - 1.11 over three windows (null -3, perfect 3).
    assert summary["pooled"] == pytest.approx(round(100 * (0.89 + 3) / 6, 2))
    assert summary["figures"]["windows"] == 3 and summary["figures"]["detected"] == 2


def test_threshold_is_not_tuned_on_the_held_out_category():
    prepared = [series("a"), series("b"), series("c")]
    # a and b: window hits score 0.9, a false positive scores 0.5, so their best threshold is
    # above 0.5.  c's window hit only scores 0.45: in-sample a threshold could catch it, out of
    # sample the threshold chosen on a and b misses it.
    a = fires(LEFT)
    a[30] = 0.5
    scores = [[a, a.copy(), fires(LEFT, level=0.45)]]
    folds = {f.category: f for f in leave_one_category_out(prepared, scores, [{}], STD)}
    assert folds["c"].threshold > 0.5
    assert folds["c"].normalised == pytest.approx(0.0)  # the window is missed: the null score
    assert folds["c"].figures.detected == 0 and folds["c"].figures.windows == 1


def test_a_held_out_category_without_windows_reports_its_false_alarms():
    no_window = prepare_series("quiet/s.csv", N, [])
    prepared = [series("a"), no_window]
    quiet = fires(40, 80)
    scores = [[fires(LEFT), quiet]]
    folds = {f.category: f for f in leave_one_category_out(prepared, scores, [{}], STD)}
    assert folds["quiet"].normalised is None
    assert folds["quiet"].raw == pytest.approx(-0.22)
    assert folds["quiet"].figures.false_alarms == 2
    assert loco_summary(list(folds.values()), prepared, STD)["per_category"]["quiet"] is None


def test_one_category_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="at least two categories"):
        leave_one_category_out([series("a")], [[fires(LEFT)]], [{}], STD)


def test_detection_accuracy_and_false_alarm_rates():
    prepared = [series("a"), series("b")]
    # a: found, plus two false alarms after probation and one inside probation (ignored).
    # b: missed.  Hourly points: 85 scored points each span 85 hours.
    scores = [fires(10, 30, LEFT, 80), fires(30)]
    seconds = [np.arange(N) * 3600.0, np.arange(N) * 3600.0]
    fig = detection_figures(prepared, scores, STD, 0.5, seconds)
    assert (fig.windows, fig.detected, fig.false_alarms, fig.points) == (2, 1, 3, 170)
    assert fig.detection_accuracy == 0.5
    assert fig.false_alarms_per_1000_points == pytest.approx(1000 * 3 / 170)
    assert fig.series_days == pytest.approx(170 / 24)
    assert fig.false_alarms_per_series_day == pytest.approx(3 / (170 / 24))
    # Without timestamps there is no per-day rate, and it says so rather than guessing.
    assert detection_figures(prepared, scores, STD, 0.5).false_alarms_per_series_day is None
    assert DetectionFigures(0, 0, 0, 0, None).as_dict()["detection_accuracy"] is None


# --------------------------------------------------------------------------- the runner


def test_runner_cv_loco_on_categories_it_has_never_seen(tmp_path, capsys):
    from tests.support.nab_corpus import REPO, load_module, make_corpus

    make_corpus(tmp_path)  # categories catA and catB: names no code knows
    nab = load_module("nab_benchmark_cv", REPO / "benchmarks" / "nab.py")
    grid = [{"window": 50}, {"window": 200}]
    figures = nab.main(
        [
            "--data",
            str(tmp_path),
            "--detector",
            "robust_zscore",
            "--no-baseline",
            "--workers",
            "1",
            "--no-write",
            "--cv",
            "loco",
            "--grid",
            json.dumps(grid),
        ]
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(json.dumps(figures))
    assert set(figures["loco_per_category"]) == {"catA", "catB"}
    assert figures["in_sample_standard"] == figures["standard"]
    per_cat = [v for v in figures["loco_per_category"].values() if v is not None]
    assert figures["loco_standard_mean"] == pytest.approx(np.mean(per_cat), abs=0.01)
    for fold in figures["loco"]["standard"]["folds"]:
        assert fold["params"] in grid
    assert 0 <= figures["loco_detection"]["detection_accuracy"] <= 1
    assert figures["detection_accuracy"] == pytest.approx(
        figures["counts"]["standard"]["tp"] / figures["windows"]
    )


def test_runner_cv_errors_name_the_problem(tmp_path, capsys):
    from tests.support.nab_corpus import REPO, load_module, make_corpus

    make_corpus(tmp_path)
    nab = load_module("nab_benchmark_cv_errors", REPO / "benchmarks" / "nab.py")
    base = [
        "--data",
        str(tmp_path),
        "--detector",
        "robust_zscore",
        "--no-baseline",
        "--workers",
        "1",
        "--no-write",
    ]
    for extra, message in [
        (["--grid", "[{}]"], "--grid needs --cv"),
        (["--cv", "loco", "--grid", "[{"], "--grid: not valid JSON"),
        (["--cv", "loco", "--grid", "{}"], "--grid: expected a JSON list"),
        (["--params", "[1]"], "--params: expected a JSON object"),
        (["--cv", "loco", "--grid", '[{"windw": 5}]'], "windw: Extra inputs are not permitted"),
        (["--params", '{"window": 1}'], "window: Input should be greater than or equal to 5"),
        (["--detector", "no_such_detector"], "--detector:"),
    ]:
        with pytest.raises(SystemExit):
            nab.main(base + extra)
        assert message in capsys.readouterr().err
    one_cat = tmp_path / "one"
    (one_cat / "data" / "only").mkdir(parents=True)
    (one_cat / "labels").mkdir()
    (tmp_path / "data" / "catB" / "three.csv").rename(one_cat / "data" / "only" / "three.csv")
    windows = json.loads((tmp_path / "labels" / "combined_windows.json").read_text())
    (one_cat / "labels" / "combined_windows.json").write_text(
        json.dumps({"only/three.csv": windows["catB/three.csv"]})
    )
    with pytest.raises(SystemExit):
        nab.main(["--data", str(one_cat), *base[2:], "--cv", "loco"])
    assert "at least two categories" in capsys.readouterr().err


def test_every_detectors_tuning_grid_is_valid_and_starts_with_the_defaults():
    from workbench.anomaly.detectors import available, create, get_detector_class

    for name in available():
        grid = get_detector_class(name).tuning_grid
        assert grid and grid[0] == {}, name
        assert len({json.dumps(g, sort_keys=True) for g in grid}) == len(grid), (
            f"{name}: duplicate grid points"
        )
        for overrides in grid:
            create(name, **overrides)  # raises a ValidationError on an unknown or bad knob


def test_no_detector_names_a_nab_file_category_or_date():
    # The out-of-sample figures mean something only if the detectors cannot recognise the
    # corpus: no NAB category, file name or calendar date in their code or defaults.
    import re
    from pathlib import Path

    import workbench.anomaly.detectors as pkg

    pattern = re.compile(
        r"real(Tweets|Traffic|AdExchange|AWSCloudwatch|KnownCause)|artificial(No|With)Anomaly|"
        r"Twitter_volume|ec2_|exchange-\d|TravelTime|occupancy_|speed_\d|art_daily|"
        r"\b(19|20)\d\d-[01]\d-[0-3]\d\b"
    )
    for path in Path(pkg.__file__).parent.glob("*.py"):
        hits = [m.group(0) for m in pattern.finditer(path.read_text())]
        assert not hits, f"{path.name} names {hits}"

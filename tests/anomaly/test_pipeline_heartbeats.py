"""Which minutes a pipeline watched end to end, from beats of its status, by hand-made timelines
(the real pipeline and loop: tests/streaming/test_live_drop_detection.py). Oracle: the timelines
below, read by eye (a beat every 5 s; the margin 2 s, the gap limit 12 s)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from workbench.anomaly.pipeline_heartbeats import Heartbeats

T0 = dt.datetime(2026, 1, 1, 10, 0)
RUNNING = {"state": "running", "error": None, "lag_s": 0.0}
STOPPED = {"state": "stopped", "error": None, "lag_s": 0.0}
MINUTES = pd.date_range(T0, periods=6, freq="min")  # 10:00 .. 10:05
STEP = pd.Timedelta(minutes=1)


def beats(timeline) -> Heartbeats:
    """timeline: (from second, to second, status, run) pieces, a beat every 5 s."""
    h = Heartbeats(max_gap=dt.timedelta(seconds=12), margin=dt.timedelta(seconds=2))
    for lo, hi, status, run in timeline:
        for s in range(lo, hi, 5):
            h.beat("p", status, T0 + dt.timedelta(seconds=s), run=run, feeds=["live_sales_minute"])
    return h


def covered(h) -> list[int]:
    return [t.minute for t, ok in zip(MINUTES, h.covered(["p"], MINUTES, STEP), strict=True) if ok]


def test_running_throughout_covers_every_minute_confirmed_so_far():
    h = beats([(-10, 330, RUNNING, 1)])  # to 10:05:25
    assert covered(h) == [0, 1, 2, 3, 4]  # 10:05 is not over yet
    assert h.confirmed_to(["p"]) == pd.Timestamp(T0) + pd.Timedelta(seconds=325 - 2)
    assert h.feeders(["live_sales_minute", "other"]) == ["p"] and h.feeders(["other"]) == []


def test_a_stop_uncovers_the_minutes_it_touches_and_a_restart_is_a_new_run():
    # stopped from 10:01:30 to 10:03:20, then a new run
    h = beats([(-10, 90, RUNNING, 1), (90, 200, STOPPED, 1), (200, 400, RUNNING, 2)])
    assert covered(h) == [0, 4, 5]  # 10:03 saw the restart


def test_a_restart_between_two_beats_is_seen_by_its_run():
    h = beats([(-10, 150, RUNNING, 1), (150, 400, RUNNING, 2)])  # restarted in 10:02
    assert covered(h) == [0, 1, 3, 4, 5]


def test_beats_further_apart_than_the_gap_watch_nothing_between():
    h = beats([(-10, 70, RUNNING, 1), (100, 400, RUNNING, 1)])  # no beat 10:01:10..10:01:40
    assert covered(h) == [0, 2, 3, 4, 5]


def test_a_lagging_pipeline_confirms_only_what_it_has_applied():
    lagging = {"state": "running", "error": None, "lag_s": 90.0}
    h = beats([(-10, 200, RUNNING, 1), (200, 400, lagging, 1)])
    # at 10:06:35 it has applied up to 10:05:05; before the lag, up to 10:03:15
    assert h.confirmed_to(["p"]) == pd.Timestamp(T0) + pd.Timedelta(seconds=395 - 90 - 2)
    assert covered(h) == [0, 1, 2, 3, 4]  # 10:05 is not confirmed yet


def test_a_source_error_being_retried_is_not_running():
    failing = {"state": "running", "error": "source: OperationalError: locked", "lag_s": 0.0}
    h = beats([(-10, 130, RUNNING, 1), (130, 170, failing, 1), (170, 400, RUNNING, 1)])
    assert covered(h) == [0, 1, 3, 4, 5]


def test_no_pipeline_or_no_beats_covers_nothing():
    h = Heartbeats()
    assert not h.covered([], MINUTES, STEP).any()
    assert not h.covered(["p"], MINUTES, STEP).any()
    assert h.confirmed_to(["p"]) is None


# -- a detection job with pipeline_heartbeat, on a tiny warehouse (tests/anomaly/test_jobs.py's) --
RULE = """
name: shop_drop
source: {namespace: shop, metric: orders, grain: hour, slice_by: region, transform: sqrt}
detector:
  name: seasonal
  params: {periods: [86400], bins: 24, min_history: 96, alpha_season: 0.2}
threshold: 0.6
direction: down
pipeline_heartbeat: true
"""
STOP = (pd.Timestamp("2026-01-15 18:00"), pd.Timestamp("2026-01-15 21:00"))


def _shop_job(tmp_path, heartbeat: bool, coverage):
    import workbench
    from tests.support.shop import make_shop
    from workbench.anomaly.alert_rules import parse_rule
    from workbench.anomaly.jobs import DetectionJob

    # South's rows are missing while the pipeline was stopped (North's too would be, in life;
    # one region is enough to show the minutes are skipped, not scored as 0)
    wh, models = make_shop(tmp_path, drop=("South", str(STOP[0]), str(STOP[1])))
    rule = parse_rule(
        RULE.replace("pipeline_heartbeat: true", f"pipeline_heartbeat: {str(heartbeat).lower()}"),
        "shop_drop.yml",
    )
    wb = workbench.connect(warehouse=wh, models_dir=models, cache="none", read_only=True)
    return DetectionJob(rule, wb, state_dir=None, coverage=coverage)


def _half_hourly_beats() -> Heartbeats:
    h = Heartbeats(
        max_gap=dt.timedelta(minutes=40), margin=dt.timedelta(0), keep=dt.timedelta(days=30)
    )
    run = 1
    for t in pd.date_range("2026-01-01", "2026-01-22", freq="30min"):
        stopped = STOP[0] < t < STOP[1]
        run = 2 if t >= STOP[1] else run
        h.beat(
            "shop_pipeline",
            STOPPED if stopped else RUNNING,
            t.to_pydatetime(),
            run=run,
            feeds=["sales"],
        )
    return h


def _in_stop(anomalies):
    return [a for a in anomalies if STOP[0] <= pd.Timestamp(a.ts) < STOP[1]]


def test_a_heartbeat_rule_skips_the_stopped_hours_instead_of_calling_them_an_outage(tmp_path):
    from workbench.anomaly.pipeline_heartbeats import RuleCoverage

    cov = RuleCoverage(_half_hourly_beats(), lambda rule: {"sales"})
    res = _shop_job(tmp_path, True, cov).run(now=dt.datetime(2026, 1, 22))
    assert not _in_stop(res.anomalies), _in_stop(res.anomalies)
    assert res.slices["South"].not_watched == 3 and res.slices["North"].not_watched == 3
    assert res.slices["South"].filled_zero == 0  # skipped, not filled with 0
    assert "(6 while the pipeline was not running)" in res.summary()
    # The same rule without the heartbeat calls the empty hours a drop.
    (tmp_path / "blind").mkdir()
    blind = _shop_job(tmp_path / "blind", False, None).run(now=dt.datetime(2026, 1, 22))
    assert _in_stop(blind.anomalies) and blind.slices["South"].filled_zero == 3


def test_a_heartbeat_rule_without_heartbeats_waits_and_says_why(tmp_path):
    job = _shop_job(tmp_path, True, None)
    res = job.run(now=dt.datetime(2026, 1, 22))
    assert res.anomalies == [] and job.state["watermark"] is None
    assert "waiting for its pipeline's heartbeat" in res.summary()

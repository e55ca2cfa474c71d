"""Detection jobs on a tiny semantic namespace: densify gaps, NaN reporting, incremental runs,
restart from saved state, and the latency from a new data point to a raised anomaly."""
from __future__ import annotations

import datetime as dt
import time

import pandas as pd

import workbench
from workbench.anomaly.alert_rules import parse_rule
from workbench.anomaly.jobs import DetectionJob

from .test_jobs_helpers import append_rows, make_shop

RULE = """
name: shop_orders
source:
  namespace: shop
  metric: {metric}
  grain: hour
  slice_by: region
  transform: {transform}
detector:
  name: seasonal
  params: {{periods: [86400], bins: 24, min_history: 96, alpha_season: 0.2}}
threshold: 0.6
"""


def rule(metric="orders", transform="sqrt"):
    return parse_rule(RULE.format(metric=metric, transform=transform), "shop_orders.yml")


def connect(wh, models):
    return workbench.connect(warehouse=wh, models_dir=models, cache="none", read_only=True)


def test_missing_rows_are_an_outage_not_a_gap(tmp_path):
    # South has no rows at all from 18:00 to 21:00 on day 15: the query returns nothing there.
    wh, models = make_shop(tmp_path, drop=("South", "2026-01-15 18:00", "2026-01-15 21:00"))
    job = DetectionJob(rule(), connect(wh, models), state_dir=None)
    res = job.run(now=dt.datetime(2026, 1, 22))
    hits = [a for a in res.anomalies if a.slice_value == "South"]
    assert any(pd.Timestamp("2026-01-15 18:00") <= pd.Timestamp(a.ts) < pd.Timestamp("2026-01-15 21:00")
               and a.direction == "down" and a.value == 0 for a in hits), res.anomalies
    assert res.slices["South"].filled_zero == 3     # exactly the three empty hours were zero-filled
    assert res.slices["North"].filled_zero == 0
    assert not [a for a in res.anomalies if a.slice_value == "North"]


def test_ratio_metric_gaps_are_skipped_and_reported(tmp_path):
    wh, models = make_shop(tmp_path, drop=("South", "2026-01-15 18:00", "2026-01-15 21:00"))
    job = DetectionJob(rule("aov", "none"), connect(wh, models), state_dir=None)
    res = job.run(now=dt.datetime(2026, 1, 22))       # must not crash on the NaN buckets
    rep = res.slices["South"]
    assert rep.filled_zero == 0
    assert rep.skipped == {"missing": 3}
    assert [t for t, _ in rep.skipped_examples] == ["2026-01-15 18:00:00", "2026-01-15 19:00:00",
                                                    "2026-01-15 20:00:00"]
    assert "3 missing" in res.summary()


def test_incremental_runs_and_restart_match_one_backfill(tmp_path):
    wh, models = make_shop(tmp_path, drop=("South", "2026-01-15 18:00", "2026-01-15 21:00"))
    wb = connect(wh, models)
    full = DetectionJob(rule(), wb, state_dir=None).run(now=dt.datetime(2026, 1, 22))
    state_dir = tmp_path / "state"
    parts = []
    for day in (10, 15, 16, 22):
        # a new job object each time: it must resume from the state file, not from memory
        job = DetectionJob(rule(), wb, state_dir=state_dir)
        parts += job.run(now=dt.datetime(2026, 1, day)).anomalies
    again = DetectionJob(rule(), wb, state_dir=state_dir).run(now=dt.datetime(2026, 1, 22))
    assert again.anomalies == [] and again.slices == {}          # nothing new to score
    key = lambda a: (a.fingerprint, round(a.score, 9), a.expected)
    assert sorted(map(key, parts)) == sorted(map(key, full.anomalies))


def test_changed_rule_starts_afresh(tmp_path):
    wh, models = make_shop(tmp_path, hours=24 * 8)
    wb = connect(wh, models)
    DetectionJob(rule(), wb, state_dir=tmp_path / "s").run(now=dt.datetime(2026, 1, 8))
    assert DetectionJob(rule(), wb, state_dir=tmp_path / "s").state["watermark"] is not None
    assert DetectionJob(rule(transform="none"), wb, state_dir=tmp_path / "s").state["watermark"] is None


def test_anomaly_raised_within_a_minute_of_its_data_point(tmp_path):
    """Minute grain, as on the live gold views: a job polling every second sees a spike the
    moment its minute is complete; we measure wall time from the rows landing to the anomaly."""
    wh, models = make_shop(tmp_path, hours=24 * 3)
    # Minute-level history: 4-6 orders per minute per region for the last 3 hours.
    start = pd.Timestamp("2026-01-04 00:00")
    rows = [(start + pd.Timedelta(minutes=i), r, 4 + i % 3, 100.0) for i in range(180) for r in ("North", "South")]
    append_rows(wh, rows)
    r = parse_rule("""
name: shop_live
source: {namespace: shop, metric: orders, grain: minute, slice_by: region, lookback: 2}
detector: {name: robust_zscore, params: {window: 60, min_history: 30}}
threshold: 0.8
""", "shop_live.yml")
    clock = {"now": start + pd.Timedelta(minutes=180)}
    wb = workbench.connect(warehouse=wh, models_dir=models, cache="none")
    job = DetectionJob(r, wb, state_dir=tmp_path / "s", clock=lambda: clock["now"].to_pydatetime())
    assert job.run(since=start).anomalies == []       # warm: history up to 03:00 scored, no alarm
    # 03:00: North gets 60 orders in a minute; the minute completes at 03:01.
    wb.engine.close()
    t_data = time.perf_counter()
    append_rows(wh, [(start + pd.Timedelta(minutes=180), "North", 60, 1200.0),
                     (start + pd.Timedelta(minutes=180), "South", 5, 100.0)])
    clock["now"] = start + pd.Timedelta(minutes=181)
    wb = workbench.connect(warehouse=wh, models_dir=models, cache="none")
    job.wb = wb
    raised = None
    while raised is None and time.perf_counter() - t_data < 60:
        got = job.run().anomalies
        raised = next((a for a in got if a.slice_value == "North"), None)
        if raised is None:
            time.sleep(1.0)
    latency = time.perf_counter() - t_data
    assert raised is not None and raised.value == 60 and raised.direction == "up"
    assert latency < 60, latency

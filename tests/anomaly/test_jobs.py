"""Detection jobs on a tiny semantic namespace: densify gaps, NaN reporting, incremental runs,
restart from saved state, and the latency from a new data point to a raised anomaly."""

from __future__ import annotations

import datetime as dt
import time

import duckdb
import numpy as np
import pandas as pd
import pytest

import workbench
from tests.support.shop import append_rows, make_shop
from workbench.anomaly.alert_rules import parse_rule
from workbench.anomaly.detectors.base import MAX_SKIPPED_KEPT
from workbench.anomaly.jobs import DetectionJob, direction_of, direction_passes, last_known_before

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
    assert any(
        pd.Timestamp("2026-01-15 18:00") <= pd.Timestamp(a.ts) < pd.Timestamp("2026-01-15 21:00")
        and a.direction == "down"
        and a.value == 0
        for a in hits
    ), res.anomalies
    assert res.slices["South"].filled_zero == 3  # exactly the three empty hours were zero-filled
    assert res.slices["North"].filled_zero == 0
    assert not [a for a in res.anomalies if a.slice_value == "North"]


def test_ratio_metric_gaps_are_skipped_and_reported(tmp_path):
    wh, models = make_shop(tmp_path, drop=("South", "2026-01-15 18:00", "2026-01-15 21:00"))
    job = DetectionJob(rule("aov", "none"), connect(wh, models), state_dir=None)
    res = job.run(now=dt.datetime(2026, 1, 22))  # must not crash on the NaN buckets
    rep = res.slices["South"]
    assert rep.filled_zero == 0
    assert rep.skipped == {"missing": 3}
    assert [t for t, _ in rep.skipped_examples] == [
        "2026-01-15 18:00:00",
        "2026-01-15 19:00:00",
        "2026-01-15 20:00:00",
    ]
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
    assert again.anomalies == [] and again.slices == {}  # nothing new to score

    def key(a):
        return (a.fingerprint, round(a.score, 9), a.expected)

    assert sorted(map(key, parts)) == sorted(map(key, full.anomalies))


def test_changed_rule_starts_afresh(tmp_path):
    wh, models = make_shop(tmp_path, hours=24 * 8)
    wb = connect(wh, models)
    DetectionJob(rule(), wb, state_dir=tmp_path / "s").run(now=dt.datetime(2026, 1, 8))
    assert DetectionJob(rule(), wb, state_dir=tmp_path / "s").state["watermark"] is not None
    assert (
        DetectionJob(rule(transform="none"), wb, state_dir=tmp_path / "s").state["watermark"]
        is None
    )


def test_anomaly_raised_within_a_minute_of_its_data_point(tmp_path):
    """Minute grain, as on the live gold views: a job polling every second sees a spike the
    moment its minute is complete; we measure wall time from the rows landing to the anomaly."""
    wh, models = make_shop(tmp_path, hours=24 * 3)
    # Minute-level history: 4-6 orders per minute per region for the last 3 hours.
    start = pd.Timestamp("2026-01-04 00:00")
    rows = [
        (start + pd.Timedelta(minutes=i), r, 4 + i % 3, 100.0)
        for i in range(180)
        for r in ("North", "South")
    ]
    append_rows(wh, rows)
    r = parse_rule(
        """
name: shop_live
source: {namespace: shop, metric: orders, grain: minute, slice_by: region, lookback: 2}
detector: {name: robust_zscore, params: {window: 60, min_history: 30}}
threshold: 0.8
""",
        "shop_live.yml",
    )
    clock = {"now": start + pd.Timedelta(minutes=180)}
    wb = workbench.connect(warehouse=wh, models_dir=models, cache="none")
    job = DetectionJob(r, wb, state_dir=tmp_path / "s", clock=lambda: clock["now"].to_pydatetime())
    assert job.run(since=start).anomalies == []  # warm: history up to 03:00 scored, no alarm
    # 03:00: North gets 60 orders in a minute; the minute completes at 03:01.
    wb.engine.close()
    t_data = time.perf_counter()
    append_rows(
        wh,
        [
            (start + pd.Timedelta(minutes=180), "North", 60, 1200.0),
            (start + pd.Timedelta(minutes=180), "South", 5, 100.0),
        ],
    )
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


def test_hour_with_empty_ratio_stays_missing_not_zero(tmp_path):
    """An hour whose rows exist but whose ratio is 0/0 (NULL), like an hour of cancelled orders
    only: the query returns a row with a NULL value, and that bucket must stay missing (skipped
    by the detector) rather than be summed to 0, which would look like a collapse of the AOV."""
    wh, models = make_shop(tmp_path)
    hours = ["2026-01-15 18:00", "2026-01-15 19:00"]
    con = duckdb.connect(str(wh))
    con.execute("update sales set n = 0, amount = 0 where region = 'South' and ts in (?, ?)", hours)
    con.close()
    wb = connect(wh, models)
    job = DetectionJob(rule("aov", "none"), wb, state_dir=None)
    end = pd.Timestamp("2026-01-22")
    long = job.fetch(None, end)
    at = long[(long.slice == "South") & long.ts.isin(pd.to_datetime(hours))]
    assert len(at) == 2 and at["value"].isna().all()  # rows are there, their ratio is NULL
    wide, missing = job.densify(long, None, end)
    assert wide.loc[pd.to_datetime(hours), "South"].isna().all()
    assert missing.loc[pd.to_datetime(hours), "South"].all()
    assert wide["South"].notna().sum() == 24 * 21 - 2  # every other hour keeps its value
    assert wide.loc[pd.Timestamp("2026-01-15 17:00"), "South"] == 20.0  # amount = 20 * n
    res = job.run(now=end.to_pydatetime())
    assert res.slices["South"].skipped == {"missing": 2} and res.slices["South"].filled_zero == 0
    assert not [a for a in res.anomalies if a.value == 0]


def test_summary_reports_true_skip_counts_beyond_the_kept_sample(tmp_path):
    """A sparse slice skips far more buckets than the detector keeps examples of; the report
    counts all of them (not the sample), in the first run and in later incremental runs."""
    wh, models = make_shop(tmp_path, drop=("South", "2026-01-02 00:00", "2026-01-12 00:00"))
    wb = connect(wh, models)
    job = DetectionJob(rule("aov", "none"), wb, state_dir=tmp_path / "s")
    res = job.run(now=dt.datetime(2026, 1, 15))
    assert MAX_SKIPPED_KEPT < 240
    assert res.slices["South"].skipped == {"missing": 240}  # 10 days of hours
    assert res.slices["South"].skipped_examples[-1] == ("2026-01-11 23:00:00", "missing")
    assert "240 missing" in res.summary()
    wb.close()
    con = duckdb.connect(str(wh))
    con.execute(
        "delete from sales where region = 'South' and ts >= ? and ts < ?",
        ["2026-01-16 00:00", "2026-01-16 05:00"],
    )
    con.close()
    wb = connect(wh, models)
    later = DetectionJob(rule("aov", "none"), wb, state_dir=tmp_path / "s").run(
        now=dt.datetime(2026, 1, 17)
    )
    assert later.slices["South"].skipped == {"missing": 5}
    assert later.slices["North"].skipped == {}
    det = DetectionJob(rule("aov", "none"), wb, state_dir=tmp_path / "s")._detector("South")[0]
    assert det.skipped_count == 245 and det.skipped_by_reason == {"missing": 245}
    assert len(det.skipped) == MAX_SKIPPED_KEPT


SPARSE_RULE = """
name: rare_price
source: {namespace: shop, metric: aov, grain: hour, slice_by: region}
detector: {name: robust_zscore, params: {window: 48, min_history: 5}}
threshold: 0.9
direction: down
"""


def test_sparse_slice_drop_is_down_from_the_last_known_value(tmp_path):
    """A slice that sells every 30 hours has no value in the 24 hours before its next sale and
    fewer than two in the same hour of past weeks: no seasonal or recent expectation. The drop
    from 20 to 5 is judged against the last value it had (20), so a down-only rule raises it;
    before, a missing expectation counted as 'up' and the rule dropped it."""
    wh, models = make_shop(tmp_path, hours=24 * 3)
    start = pd.Timestamp("2026-01-01 03:00")
    times = [start + pd.Timedelta(hours=30 * k) for k in range(10)]
    append_rows(
        wh, [(t.to_pydatetime(), "Rare", 2, 40.0 + (k % 3) * 0.2) for k, t in enumerate(times)]
    )
    drop = start + pd.Timedelta(hours=300)
    append_rows(wh, [(drop.to_pydatetime(), "Rare", 2, 10.0)])
    job = DetectionJob(parse_rule(SPARSE_RULE, "rare.yml"), connect(wh, models), state_dir=None)
    res = job.run(now=dt.datetime(2026, 1, 14))
    hits = [a for a in res.anomalies if a.slice_value == "Rare"]
    assert [(pd.Timestamp(a.ts), a.value, a.direction) for a in hits] == [(drop, 5.0, "down")]
    # the last value before the drop: sale k=9 at 40 + 0 * 0.2 over 2 units
    assert hits[0].expected == pytest.approx(20.0)


def test_direction_helpers():
    assert direction_of(5.0, 20.0) == "down" and direction_of(20.0, 20.0) == "up"
    assert direction_of(5.0, None) == "unknown"
    assert direction_passes("down", "down") and not direction_passes("down", "up")
    assert direction_passes("down", "unknown") and direction_passes("up", "unknown")
    assert direction_passes("both", "up")
    h = np.array([1.0, np.nan, 3.0, np.nan, np.nan])
    assert last_known_before(h, 4) == 3.0 and last_known_before(h, 2) == 1.0
    assert last_known_before(h, 0) is None and last_known_before(h, 0, 7.0) == 7.0

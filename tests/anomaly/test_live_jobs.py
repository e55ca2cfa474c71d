"""The live alert rule (pipelines/alerts/live_orders_by_region.yml) on live gold data built by the
real embedded pipeline: a burst is raised once, a gap is skipped (not an alert), and a restarted
runner goes on from its saved state without raising it again. The server loop that runs this is
tested in tests/server/test_incidents_api.py."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
RULE_FILE = REPO / "pipelines" / "alerts" / "live_orders_by_region.yml"
T0 = dt.datetime(2026, 1, 5, 10, 0)
HISTORY = 14  # normal minutes 0..13
GAP = (14, 15, 16)  # no orders at all (a stopped pipeline)
NORMAL_AFTER = 17
BURST = 18  # region 2: 150 orders
BURST_ORDERS = 150


def count(minute: int, region: int) -> int:
    if minute in GAP:
        return 0
    if minute == BURST and region == 2:
        return BURST_ORDERS
    return 20 + (minute * 7 + region * 3) % 9 - 4  # 16..24


def _ops(oid: int, region: int, at: dt.datetime) -> list[tuple]:
    net = Decimal("30.00")
    return [
        (
            "orders",
            "c",
            None,
            {
                "order_id": oid,
                "customer_id": 1,
                "store_id": 1 + oid % 44,
                "channel_id": 1 + oid % 4,
                "region_id": region,
                "ordered_at": at,
                "status": "completed",
                "is_promo": False,
                "line_count": 1,
                "gross_amount": net,
                "discount_amount": Decimal("0.00"),
                "net_amount": net,
            },
        ),
        (
            "order_lines",
            "c",
            None,
            {
                "order_id": oid,
                "line_no": 1,
                "product_id": 1 + oid % 600,
                "quantity": 1,
                "unit_price": net,
                "discount": Decimal("0.00"),
                "line_amount": net,
            },
        ),
    ]


@pytest.fixture(scope="module")
def live_wb(tmp_path_factory):
    """A warehouse whose live gold views the real embedded pipeline built from written orders."""
    import workbench
    from workbench.streaming import load_pipeline
    from workbench.streaming.sources.embedded import OperationalStore

    root = tmp_path_factory.mktemp("live-project")
    (root / "pipelines").mkdir()
    spec = (REPO / "pipelines" / "demo_orders.yml").read_text()
    spec = spec.replace("path: .workbench/operational.sqlite", f"path: {root / 'op.sqlite'}")
    spec = spec.replace("simulate: {orders_per_s: 20, seed: 7}", "prune: true")
    (root / "pipelines" / "live_test.yml").write_text(spec)
    wh = root / "warehouse.duckdb"
    p = load_pipeline("live_test", warehouse=wh, root=root)
    store = OperationalStore(root / "op.sqlite", p.spec.tables)
    oid, txs = 1, []
    for minute in range(BURST + 1):
        for region in range(1, 6):
            for k in range(count(minute, region)):
                txs.append(_ops(oid, region, T0 + dt.timedelta(minutes=minute, seconds=k % 60)))
                oid += 1
    store.write(txs)
    store.close()
    p.run(max_events=2 * (oid - 1))
    p.close()
    wb = workbench.connect(
        warehouse=wh,
        models_dir=REPO / "semantic",
        principals_file=REPO / "principals.yml",
        cache="none",
    )
    yield wb
    wb.close()


def _rule(tmp_path):
    from workbench.anomaly.alert_rules import parse_rule

    text = RULE_FILE.read_text().replace(
        "  - notifier: inbox\n", f"  - notifier: inbox\n    path: {tmp_path / 'inbox.sqlite'}\n"
    )
    return parse_rule(text, str(RULE_FILE))


def test_the_live_rule_watches_a_live_metric_by_region_and_routes_to_the_inbox(live_wb):
    from workbench.anomaly.alert_rules import load_rule

    rule = load_rule(RULE_FILE)
    assert rule.enabled and rule.source.namespace == "live" and rule.source.grain == "minute"
    assert [r.notifier for r in rule.routing] == ["inbox"]
    # Metric and slice exist in the live namespace, and the gold data answers at minute grain.
    df = live_wb.query(
        "live", [rule.source.metric], ["minute", rule.source.slice_by], grain="minute"
    ).df
    assert int(df[rule.source.metric].sum()) == sum(
        count(m, r) for m in range(BURST + 1) for r in range(1, 6)
    )


def test_a_burst_is_raised_once_and_a_gap_is_skipped(live_wb, tmp_path):
    from workbench.anomaly.incidents import IncidentStore
    from workbench.anomaly.jobs_runner import JobRunner

    rule = _rule(tmp_path)
    store = IncidentStore(tmp_path / "incidents.sqlite")
    clock = lambda: T0 + dt.timedelta(minutes=BURST + 1, seconds=3)  # noqa: E731  the burst minute is complete
    runner = JobRunner(
        live_wb, [rule], store=store, state_dir=tmp_path / "jobs", clock=clock, insights=False
    )
    out = runner.cycle(invalidate=False)
    assert out["rules"][rule.name]["ok"], out
    [a] = store.anomalies()
    region2 = (
        live_wb.engine.native_connection()
        .execute("SELECT region FROM regions WHERE region_id = 2")
        .fetchone()[0]
    )
    assert (a["slice_value"], a["value"], a["direction"]) == (region2, BURST_ORDERS, "up")
    assert a["ts"] == (T0 + dt.timedelta(minutes=BURST)).isoformat()
    # Expected: the median of region 2's previous 24 minutes that had data (the gap is missing).
    prev = [count(m, 2) for m in range(max(0, BURST - 24), BURST) if m not in GAP]
    assert a["expected"] == pytest.approx(float(np.median(prev)))
    assert a["severity"] == "critical"
    # The gap is not an alert: its minutes are skipped and said so (3 per region).
    summary = out["rules"][rule.name]["summary"]
    assert "0 empty bucket(s) filled with 0, skipped: 15 missing" in summary, summary
    from workbench.anomaly.notifiers.inbox import Inbox

    assert [m["incident_id"] for m in Inbox(tmp_path / "inbox.sqlite").messages()] == [
        a["incident_id"]
    ]

    # A restart (new runner, same state and store) goes on where it stopped: nothing new.
    again = JobRunner(
        live_wb, [rule], store=store, state_dir=tmp_path / "jobs", clock=clock, insights=False
    ).cycle(invalidate=False)
    assert again["rules"][rule.name]["anomalies"] == 0 and len(store.list()) == 1
    assert len(Inbox(tmp_path / "inbox.sqlite").messages()) == 1


def test_the_server_runner_leaves_other_rules_held_notifications_alone(live_wb, tmp_path):
    """The server's live loop shares the incident store with `workbench detect run`: a retail
    rule's notification held in quiet hours is the CLI's to release, not the live loop's to drop."""
    from workbench.anomaly.incidents import IncidentStore
    from workbench.anomaly.jobs import Anomaly
    from workbench.anomaly.jobs_runner import JobRunner

    store = IncidentStore(tmp_path / "incidents.sqlite")
    a = Anomaly(
        rule="retail_orders_by_channel",
        namespace="retail",
        metric="orders",
        grain="hour",
        slice_by="channel",
        slice_value="online",
        ts=dt.datetime(2025, 1, 1, 3),
        value=0.0,
        expected=40.0,
        score=0.6,
        severity="warning",
        direction="down",
        group="retail",
    )
    inc = store.add(a, 240).incident_id
    store.record_notification(inc, a.rule, 1, "webhook", "opened", "warning", "held", "quiet hours")
    clock = lambda: T0 + dt.timedelta(minutes=BURST + 1, seconds=3)  # noqa: E731
    rule = _rule(tmp_path)

    JobRunner(
        live_wb,
        [rule],
        store=store,
        state_dir=tmp_path / "a",
        clock=clock,
        insights=False,
        owns_all_held=False,
    ).cycle(invalidate=False)
    assert [n["status"] for n in store.notifications(inc)] == ["held"]
    # A runner that owns every rule (the CLI's) drops it: its rule is not among the ones it runs.
    JobRunner(
        live_wb, [rule], store=store, state_dir=tmp_path / "b", clock=clock, insights=False
    ).cycle(invalidate=False)
    assert [n["status"] for n in store.notifications(inc)] == ["dropped"]


def test_a_fresh_start_scores_the_first_minutes_and_reports_the_warm_up(live_wb, tmp_path):
    """`make up` from nothing: the first cycle runs before the pipeline applied any minute. It
    must not move the watermark past the minutes the first batches bring; those are then scored
    per region with the warm-up said, and cycles between two minute closes keep saying so."""
    from workbench.anomaly.incidents import IncidentStore
    from workbench.anomaly.jobs_runner import JobRunner

    rule = _rule(tmp_path)
    now = [T0 - dt.timedelta(seconds=30)]  # before the first order
    runner = JobRunner(
        live_wb,
        [rule],
        store=IncidentStore(tmp_path / "incidents.sqlite"),
        state_dir=tmp_path / "jobs",
        clock=lambda: now[0],
        insights=False,
    )
    first = runner.cycle(invalidate=False)["rules"][rule.name]
    assert first["ok"] and first["buckets"] == 0 and "no data" in first["summary"], first
    assert runner.jobs[0].state["watermark"] is None

    now[0] = T0 + dt.timedelta(minutes=3, seconds=2)  # minutes 0, 1, 2 are complete
    r = runner.cycle(invalidate=False)["rules"][rule.name]
    assert (r["buckets"], r["slices"], r["idle"]) == (15, 5, False), r
    assert "scored 15 buckets in 5 slice(s)" in r["summary"] and "skipped: none" in r["summary"]
    assert r["warming_up"] == "warming up: 3 of 10 minutes" and r["warming_up"] in r["summary"]
    # Five seconds later: nothing new is complete, the status still shows the last scoring.
    now[0] += dt.timedelta(seconds=5)
    idle = runner.cycle(invalidate=False)["rules"][rule.name]
    assert idle["idle"] and (idle["buckets"], idle["slices"]) == (15, 5), idle
    assert "scored 15 buckets in 5 slice(s)" in idle["summary"] and "up to date" in idle["summary"]
    # After min_history (10) minutes the warm-up is over.
    now[0] = T0 + dt.timedelta(minutes=11, seconds=2)
    done = runner.cycle(invalidate=False)["rules"][rule.name]
    assert done["buckets"] == 8 * 5 and done["warming_up"] is None, done
    assert "warming up" not in done["summary"]

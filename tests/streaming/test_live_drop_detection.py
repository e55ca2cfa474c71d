"""Live drop detection on the REAL demo pipeline: a regional outage raises one incident within a
minute of the minute closing; stopping the pipeline for three minutes and restarting it raises
none.

Everything is the product's own: the embedded pipeline of pipelines/demo_orders.yml (operational
SQLite store -> CDC outbox -> silver -> gold ``live_sales_minute``) run by the server's
``WarehouseHost``, the server's ``DetectionLoop`` (its heartbeats of the pipeline, its job runner)
and the repository's rule pipelines/alerts/live_orders_drop_by_region.yml, unchanged (per minute,
its production thresholds and warm-up). Only time runs faster: the order writer (the operational
system, standing in for the demo simulator) dates its orders by a clock running SPEED times the
wall clock, and the loop reads the same clock for data and heartbeats (``DetectionLoop(now=)``),
so a data minute takes 60 / SPEED seconds. The loop's settle time (15 data seconds) covers the
pipeline's commit latency at that speed: the pipeline reports its lag in wall seconds, which the
heartbeat takes as data seconds here (under a second of wall time, i.e. a few data seconds, too
little: the settle margin absorbs it; in production both clocks are the wall clock).

Oracles: the orders the writer wrote per region and minute, and direct SQL on the gold table; and
the same rule without ``pipeline_heartbeat``, which does call the stopped minutes an outage.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
RULE = "live_orders_drop_by_region"
SPEED = 6.0  # data seconds per wall second: a data minute is 10 s
ORDERS_PER_MIN = 60  # per region (the demo simulator makes ~240)
SETTLE, INTERVAL = 15.0, 6.0  # data seconds (the loop's heartbeat gap is 3 x interval + settle)
START = dt.datetime(2026, 3, 2, 9, 0, 0)


class FastClock:
    def __init__(self, start: dt.datetime):
        self.start, self.t0 = start, time.monotonic()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.monotonic() - self.t0) * SPEED)


def order_ops(oid: int, region_id: int, at: dt.datetime) -> list[tuple]:
    net = Decimal("40.00")
    order = {
        "order_id": oid,
        "customer_id": 1 + oid % 500,
        "store_id": 1 + oid % 44,
        "channel_id": 1 + oid % 4,
        "region_id": region_id,
        "ordered_at": at,
        "status": "completed",
        "is_promo": False,
        "line_count": 1,
        "gross_amount": net,
        "discount_amount": Decimal("0.00"),
        "net_amount": net,
    }
    line = {
        "order_id": oid,
        "line_no": 1,
        "product_id": 1 + oid % 600,
        "quantity": 1,
        "unit_price": net,
        "discount": Decimal("0.00"),
        "line_amount": net,
    }
    return [("orders", "c", None, order), ("order_lines", "c", None, line)]


class Writer(threading.Thread):
    """Orders at random moments, Poisson per region, dated by the fast clock; ``down`` regions
    get none (the outage), ``paused`` writes nothing (the simulator stops with its pipeline)."""

    def __init__(self, path: Path, tables, clock: FastClock):
        super().__init__(daemon=True, name="test-order-writer")
        from workbench.streaming.sources.embedded import OperationalStore

        self.store = OperationalStore(path, tables)
        self.clock, self.rng = clock, np.random.default_rng(11)
        self.down: set[int] = set()
        self.paused = threading.Event()
        self.halt = threading.Event()
        self.oid = 1
        self.written: dict[tuple[dt.datetime, int], int] = {}

    def run(self) -> None:
        last = self.clock()
        while not self.halt.wait(0.2):
            now = self.clock()
            span, last = (now - last).total_seconds(), now
            if self.paused.is_set():
                continue
            txs = []
            for region in range(1, 6):
                if region in self.down:
                    continue
                for _ in range(self.rng.poisson(ORDERS_PER_MIN * span / 60)):
                    at = now - dt.timedelta(seconds=float(self.rng.uniform(0, span)))
                    at = at.replace(microsecond=0)
                    txs.append(order_ops(self.oid, region, at))
                    key = (at.replace(second=0), region)
                    self.written[key] = self.written.get(key, 0) + 1
                    self.oid += 1
            if txs:
                self.store.write(txs)

    def close(self) -> None:
        self.halt.set()
        self.join(5)
        self.store.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """The running pipeline, its writer and the server's loop, ticked until the rule is warm."""
    from workbench.anomaly.detection_loop import DetectionLoop
    from workbench.server.host import WarehouseHost

    root = tmp_path_factory.mktemp("live-drop")
    (root / "pipelines" / "alerts").mkdir(parents=True)
    spec = (REPO / "pipelines" / "demo_orders.yml").read_text()
    spec = spec.replace(
        "path: .workbench/operational.sqlite", f"path: {root / 'operational.sqlite'}"
    )
    spec = spec.replace("simulate: {orders_per_s: 20, seed: 7}", "prune: true")  # the writer writes
    assert "simulate" not in spec.split("reference_tables")[0]
    (root / "pipelines" / "live_test.yml").write_text(spec)
    rule = (REPO / "pipelines" / "alerts" / f"{RULE}.yml").read_text()
    rule = rule.replace(
        "  - notifier: inbox\n", f"  - notifier: inbox\n    path: {root / 'inbox.sqlite'}\n"
    )
    assert "inbox.sqlite" in rule and "pipeline_heartbeat: true" in rule
    (root / "pipelines" / "alerts" / f"{RULE}.yml").write_text(rule)
    (root / "workbench.yml").write_text(
        f"models_dir: {REPO / 'semantic'}\nprincipals_file: {REPO / 'principals.yml'}\n"
        "cache: {backend: memory}\n"
    )
    clock = FastClock(START)
    host = WarehouseHost(warehouse=str(root / "warehouse.duckdb"), root=str(root))
    p = host.pipeline("live_test")
    writer = Writer(root / "operational.sqlite", p.spec.tables, clock)
    loop = DetectionLoop(
        host,
        rules_dir=root / "pipelines" / "alerts",
        incidents_db=root / "incidents.sqlite",
        state_dir=root / "jobs",
        interval=INTERVAL,
        settle=SETTLE,
        insights=False,
        now=clock,
    )
    h = {"root": root, "clock": clock, "host": host, "writer": writer, "loop": loop}
    host.start("live_test")
    writer.start()
    try:
        # warm: min_history (10) watched minutes per region, and none of them an incident
        rule_state = until(
            h,
            lambda st: (
                st["rules"].get(RULE, {}).get("buckets", 0) > 0
                and not st["rules"][RULE].get("warming_up")
            ),
            16,
            "the rule to warm up",
        )
        assert rule_state["errors"] == [], rule_state["errors"]
        assert loop.store().list() == [], "normal minutes raised an incident"
        yield h
    finally:
        writer.close()
        host.close()


def until(h, pred, data_minutes: float, what: str) -> dict:
    """Tick the loop (as its thread would, every half second) until ``pred(status)``."""
    loop, clock = h["loop"], h["clock"]
    deadline = clock() + dt.timedelta(minutes=data_minutes)
    while clock() < deadline:
        loop.tick()
        st = loop.status()
        if pred(st):
            return st
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}: {loop.status()}")


def tick_for(h, data_minutes: float) -> dict:
    end = h["clock"]() + dt.timedelta(minutes=data_minutes)
    return until(h, lambda st: h["clock"]() >= end, data_minutes + 1, f"{data_minutes} minutes")


def mid_minute(h, lo: int = 15, hi: int = 40) -> None:
    """Tick until the data clock is between ``lo`` and ``hi`` seconds into a minute."""
    until(h, lambda st: lo <= h["clock"]().second <= hi, 2, "the middle of a minute")


def scored_to(st) -> dt.datetime:
    return dt.datetime.fromisoformat(st["rules"][RULE]["scored_to"])


def gold_orders(h, minute: dt.datetime) -> dict[int, int]:
    cur = h["host"].workbench().engine.cursor()
    try:
        return dict(
            cur.execute(
                "SELECT region_id, sum(orders)::INT FROM live_sales_minute "
                "WHERE minute = ? GROUP BY region_id",
                [minute],
            ).fetchall()
        )
    finally:
        cur.close()


def test_stopping_the_pipeline_for_three_minutes_and_restarting_raises_nothing(live):
    h, loop, host, writer = live, live["loop"], live["host"], live["writer"]
    before = len(loop.store().list())
    mid_minute(h)
    stopped_at = h["clock"]()
    host.stop("live_test")
    writer.paused.set()  # the demo simulator runs inside the pipeline's source
    tick_for(h, 3)
    writer.paused.clear()
    host.start("live_test")
    restarted_at = h["clock"]()
    summaries: list[str] = []

    def scored_past_restart(s) -> bool:
        summaries.append(s["rules"][RULE]["summary"])
        return scored_to(s) >= restarted_at + dt.timedelta(minutes=3)

    st = until(h, scored_past_restart, 8, "three minutes after the restart to be scored")
    assert len(loop.store().list()) == before, loop.store().list()
    assert st["errors"] == [], st["errors"]
    # The premise: the stopped minutes really are empty in gold for every region, so a rule
    # that counts empty minutes as 0 and ignored the heartbeat would call them an outage.
    first_empty = stopped_at.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    empty = [first_empty + dt.timedelta(minutes=k) for k in range(2)]
    assert all(gold_orders(h, m) == {} for m in empty), [gold_orders(h, m) for m in empty]
    # ... and minutes after the restart were scored (the rule did not simply stop).
    after = restarted_at.replace(second=0, microsecond=0) + dt.timedelta(minutes=2)
    assert set(gold_orders(h, after)) == {1, 2, 3, 4, 5} and scored_to(st) > after
    # The loop said why it skipped them.
    assert any("while the pipeline was not running" in x for x in summaries), summaries[-5:]

    # The same rule without the heartbeat, on the same data: the stopped minutes are drops.
    from workbench.anomaly.alert_rules import load_rule
    from workbench.anomaly.incidents import IncidentStore
    from workbench.anomaly.jobs_runner import JobRunner

    blind = load_rule(h["root"] / "pipelines" / "alerts" / f"{RULE}.yml").model_copy(
        update={"pipeline_heartbeat": False, "routing": []}
    )
    store = IncidentStore(h["root"] / "blind.sqlite")
    JobRunner(
        host.workbench(),
        [blind],
        store=store,
        state_dir=h["root"] / "blind-jobs",
        clock=lambda: restarted_at,
        insights=False,
    ).cycle(invalidate=False)
    hit = {dt.datetime.fromisoformat(a["ts"]) for a in store.anomalies()}
    assert set(empty) <= hit, sorted(hit)


def test_a_regional_outage_raises_one_incident_within_a_minute_of_the_minute_closing(live):
    h, loop, writer = live, live["loop"], live["writer"]
    before = {i["id"] for i in loop.store().list()}
    region3 = (
        h["host"]
        .workbench()
        .engine.native_connection()
        .execute("SELECT region FROM regions WHERE region_id = 3")
        .fetchone()[0]
    )
    mid_minute(h, 5, 20)
    writer.down = {3}
    first_empty = h["clock"]().replace(second=0, microsecond=0) + dt.timedelta(minutes=1)

    def new_incidents():
        return [i for i in loop.store().list() if i["id"] not in before]

    until(h, lambda st: new_incidents(), 4, "the outage's incident")
    raised_at = h["clock"]()
    # The first anomalous minute is the outage's first (part empty, it started mid-minute) or
    # the first wholly empty one; the incident came within a minute of that minute closing.
    first = min(
        dt.datetime.fromisoformat(a["ts"]) for a in loop.store().anomalies(new_incidents()[0]["id"])
    )
    assert first in (first_empty - dt.timedelta(minutes=1), first_empty), (first, first_empty)
    latency = (raised_at - (first + dt.timedelta(minutes=1))).total_seconds()
    print(
        f"drop raised {latency:.1f} data seconds after its minute ({first:%H:%M}) closed "
        f"(first wholly empty minute {first_empty:%H:%M})"
    )
    assert 0 <= latency <= 60, latency
    # Two empty minutes, then region 3 comes back; the rule goes on for two more minutes.
    until(
        h, lambda st: h["clock"]() >= first_empty + dt.timedelta(minutes=2), 3, "two empty minutes"
    )
    writer.down = set()
    back = h["clock"]()
    st = until(h, lambda s: scored_to(s) >= back + dt.timedelta(minutes=2), 5, "the recovery")
    assert st["errors"] == [], st["errors"]
    [inc] = new_incidents()
    anomalies = loop.store().anomalies(inc["id"])
    assert {a["slice_value"] for a in anomalies} == {region3}
    assert {a["direction"] for a in anomalies} == {"down"}
    # Oracle: gold has no region 3 orders in the first empty minute, the other regions go on.
    gold = gold_orders(h, first_empty)
    assert 3 not in gold and set(gold) == {1, 2, 4, 5}, gold
    assert all(gold[r] == writer.written.get((first_empty, r), 0) for r in gold), gold

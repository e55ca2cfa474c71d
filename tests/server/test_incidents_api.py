"""Live detection in the Jupyter server and the incidents REST API.

The live tests run the real embedded pipeline (operational SQLite store -> CDC outbox -> silver
-> gold ``live_sales_minute``) inside a real server, with the repository's own rule
``pipelines/alerts/live_orders_by_region.yml``; the anomalies land in a real IncidentStore.
Oracles: the order counts the test wrote, and direct SQL on the gold table.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

API = ("workbench", "api")
NO_LOGIN = {"Authorization": "token not-the-token"}
REPO = Path(__file__).resolve().parents[2]
RULE = "live_orders_by_region"
INTERVAL, SETTLE = 2.0, 1.0


async def get_json(jp_fetch, *parts, **kw):
    r = await jp_fetch(*API, *parts, **kw)
    return json.loads(r.body)


async def expect_error(jp_fetch, code, *parts, **kw) -> str:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, *parts, **kw)
    assert err.value.code == code, err.value.response.body
    text = err.value.response.body.decode()
    assert "Traceback" not in text
    return json.loads(text)["message"]


def ext_of(jp_serverapp):
    return jp_serverapp.extension_manager.extension_points["workbench"].app


# -- a project with the live pipeline, the live rule and its own stores ------------------------
def make_project(
    root: Path, *, interval=INTERVAL, extra_rules: dict[str, str] | None = None
) -> Path:
    (root / "pipelines" / "alerts").mkdir(parents=True)
    spec = (REPO / "pipelines" / "demo_orders.yml").read_text()
    spec = spec.replace(
        "path: .workbench/operational.sqlite", f"path: {root / 'operational.sqlite'}"
    )
    spec = spec.replace("simulate: {orders_per_s: 20, seed: 7}", "prune: true")  # the test writes
    assert (
        str(root / "operational.sqlite") in spec
        and "simulate" not in spec.split("reference_tables")[0]
    )
    (root / "pipelines" / "live_test.yml").write_text(spec)
    rule = (REPO / "pipelines" / "alerts" / f"{RULE}.yml").read_text()
    rule = rule.replace(
        "  - notifier: inbox\n", f"  - notifier: inbox\n    path: {root / 'inbox.sqlite'}\n"
    )
    assert "inbox.sqlite" in rule
    (root / "pipelines" / "alerts" / f"{RULE}.yml").write_text(rule)
    for name, text in (extra_rules or {}).items():
        (root / "pipelines" / "alerts" / f"{name}.yml").write_text(text)
    (root / "workbench.yml").write_text(
        f"models_dir: {REPO / 'semantic'}\nprincipals_file: {REPO / 'principals.yml'}\n"
        "cache: {backend: memory}\n"
        "anomaly:\n"
        f"  incidents_db: {root / 'incidents.sqlite'}\n  state_dir: {root / 'jobs'}\n"
        f"  live: {{enabled: true, interval_s: {interval}, settle_s: {SETTLE}, namespaces: [live]}}\n"
    )
    return root


def order_ops(oid: int, region_id: int, at: dt.datetime, amount: int = 40) -> list[tuple]:
    net = Decimal(amount).quantize(Decimal("0.01"))
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


# Normal minutes: 16..24 orders per region, a fixed pattern (so its median and spread are known).
def normal_count(minute_index: int, region_id: int) -> int:
    return 20 + (minute_index * 7 + region_id * 3) % 9 - 4


HISTORY_MINUTES = 14


@pytest.fixture
def live_project(tmp_path, warehouse):
    """History written through the real pipeline path before the server starts: 14 normal
    minutes per region, applied to gold by the real embedded pipeline."""
    from workbench.streaming import load_pipeline
    from workbench.streaming.sources.embedded import OperationalStore

    root = make_project(tmp_path / "project")
    p = load_pipeline("live_test", warehouse=warehouse, root=root)
    store = OperationalStore(root / "operational.sqlite", p.spec.tables)
    start = dt.datetime.now().replace(second=0, microsecond=0) - dt.timedelta(
        minutes=HISTORY_MINUTES
    )
    oid, txs = 1, []
    for i in range(HISTORY_MINUTES):
        for region in range(1, 6):
            for k in range(normal_count(i, region)):
                txs.append(order_ops(oid, region, start + dt.timedelta(minutes=i, seconds=k)))
                oid += 1
    store.write(txs)
    store.close()
    p.run(max_events=2 * (oid - 1))
    p.close()
    return {"root": root, "next_oid": oid, "history_start": start}


@pytest.fixture
def fresh_live_project(tmp_path):
    """The live project as a fresh `make up` has it: no live data at all before the server starts."""
    return {"root": make_project(tmp_path / "project")}


@pytest.fixture
def pipelines_config(request):
    """Per test: the real pipeline loader on a project of its own (see make_project)."""
    for live in ("live_project", "fresh_live_project"):
        if live in request.fixturenames:
            return {"project_root": str(request.getfixturevalue(live)["root"])}
    root = make_project(request.getfixturevalue("tmp_path") / "project")
    extra = {"detection": False} if "detection_off" in request.fixturenames else {}
    return {
        "project_root": str(root),
        "pipeline_loader": "server_fakes:load_pipeline",
        "pipeline_lister": "server_fakes:list_pipelines",
        **extra,
    }


@pytest.fixture
def detection_off():
    """Marks a test whose server has ``c.WorkbenchApp.detection = False``."""
    return True


async def wait_for(fetch, predicate, timeout: float, what: str, step: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await fetch()
        if predicate(last):
            return last
        await asyncio.sleep(step)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; last: {last}")


# -- authentication and authorization ------------------------------------------------------------
def seeded_incident(jp_serverapp) -> int:
    """One incident in the server's own store, as the detection loop would write it."""
    from workbench.anomaly.jobs import Anomaly

    store = ext_of(jp_serverapp).detection_loop.store()
    a = Anomaly(
        rule=RULE,
        namespace="live",
        metric="orders",
        grain="minute",
        slice_by="region",
        slice_value="North",
        ts=dt.datetime(2026, 1, 5, 10, 0),
        value=140.0,
        expected=20.0,
        score=0.93,
        severity="critical",
        direction="up",
        group="live",
    )
    res = store.add(a, 15)
    store.set_insight(res.incident_id, "orders for region = North rose to 140 (expected about 20).")
    return res.incident_id


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", ("incidents",)),
        ("GET", ("incidents", "1")),
        ("POST", ("incidents", "1", "acknowledge")),
        ("POST", ("incidents", "1", "resolve")),
        ("GET", ("detection",)),
    ],
)
async def test_every_incident_endpoint_refuses_a_caller_who_is_not_logged_in(
    jp_fetch, method, path
):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            *API, *path, method=method, body="{}" if method == "POST" else None, headers=NO_LOGIN
        )
    assert err.value.code in (401, 403)


async def test_list_show_acknowledge_resolve_with_history(jp_fetch, jp_serverapp):
    iid = seeded_incident(jp_serverapp)
    listed = await get_json(jp_fetch, "incidents")
    assert [i["id"] for i in listed["incidents"]] == [iid] and listed["total"] == 1
    assert listed["incidents"][0]["status"] == "open"

    one = await get_json(jp_fetch, "incidents", str(iid))
    assert one["severity"] == "critical" and one["insight"].startswith("orders for region = North")
    assert [(a["slice_value"], a["value"], a["expected"]) for a in one["anomalies"]] == [
        ("North", 140.0, 20.0)
    ]
    assert [h["action"] for h in one["history"]] == ["opened"]

    acked = await get_json(
        jp_fetch,
        "incidents",
        str(iid),
        "acknowledge",
        method="POST",
        body=json.dumps({"note": "looking at it"}),
    )
    assert acked["status"] == "acknowledged" and acked["acknowledged_by"]
    assert [(h["action"], h["detail"]) for h in acked["history"]][-1] == (
        "acknowledged",
        "looking at it",
    )
    # The analyst principal the test user maps to is named in the history.
    assert "analyst" in acked["history"][-1]["actor"]

    assert [
        i["id"]
        for i in (await get_json(jp_fetch, "incidents", params={"status": "open"}))["incidents"]
    ] == []
    assert [
        i["id"]
        for i in (await get_json(jp_fetch, "incidents", params={"status": "acknowledged"}))[
            "incidents"
        ]
    ] == [iid]

    resolved = await get_json(jp_fetch, "incidents", str(iid), "resolve", method="POST", body="{}")
    assert resolved["status"] == "resolved"
    assert [h["action"] for h in resolved["history"]] == ["opened", "acknowledged", "resolved"]
    # Straight from the store: the change is persisted, not just answered.
    stored = ext_of(jp_serverapp).detection_loop.store().get(iid)
    assert stored["status"] == "resolved" and stored["resolved_by"] == resolved["resolved_by"]

    msg = await expect_error(
        jp_fetch, 409, "incidents", str(iid), "acknowledge", method="POST", body="{}"
    )
    assert "resolved" in msg


async def test_since_filter_keeps_incidents_changed_at_or_after_it(jp_fetch, jp_serverapp):
    iid = seeded_incident(jp_serverapp)
    past = (dt.datetime.now() - dt.timedelta(hours=1)).isoformat(timespec="seconds")
    future = (dt.datetime.now() + dt.timedelta(hours=1)).isoformat(timespec="seconds")
    assert [
        i["id"]
        for i in (await get_json(jp_fetch, "incidents", params={"since": past}))["incidents"]
    ] == [iid]
    assert (await get_json(jp_fetch, "incidents", params={"since": future}))["incidents"] == []


async def test_a_viewer_may_read_incidents_but_not_change_them(jp_fetch, jp_serverapp):
    iid = seeded_incident(jp_serverapp)
    ext_of(jp_serverapp).host.mapper.mapping = {"*": "viewer"}
    assert [i["id"] for i in (await get_json(jp_fetch, "incidents"))["incidents"]] == [iid]
    for action in ("acknowledge", "resolve"):
        msg = await expect_error(
            jp_fetch, 403, "incidents", str(iid), action, method="POST", body="{}"
        )
        assert "viewer" in msg and "analyst" in msg
    assert ext_of(jp_serverapp).detection_loop.store().get(iid)["status"] == "open"
    assert [h["action"] for h in ext_of(jp_serverapp).detection_loop.store().history(iid)] == [
        "opened"
    ]


@pytest.mark.parametrize(
    "parts,kw,words",
    [
        (("incidents",), {"params": {"status": "closed"}}, ["status", "closed"]),
        (("incidents",), {"params": {"since": "yesterday"}}, ["since", "yesterday"]),
        (("incidents",), {"params": {"limit": "lots"}}, ["limit"]),
        (("incidents", "abc"), {}, ["abc"]),
        (("incidents", "1", "acknowledge"), {"method": "POST", "body": "{not json"}, ["JSON"]),
        (
            ("incidents", "1", "acknowledge"),
            {"method": "POST", "body": json.dumps({"by": "boss"})},
            ["by"],
        ),
        (
            ("incidents", "1", "resolve"),
            {"method": "POST", "body": json.dumps({"note": 5})},
            ["note"],
        ),
    ],
)
async def test_bad_requests_are_400_with_a_message(jp_fetch, jp_serverapp, parts, kw, words):
    seeded_incident(jp_serverapp)
    msg = await expect_error(jp_fetch, 400, *parts, **kw)
    for w in words:
        assert w in msg


async def test_unknown_incident_is_404(jp_fetch):
    msg = await expect_error(jp_fetch, 404, "incidents", "999")
    assert "999" in msg
    await expect_error(jp_fetch, 404, "incidents", "999", "resolve", method="POST", body="{}")


async def test_detection_status_without_live_data_waits_and_says_why(jp_fetch, jp_serverapp):
    # A query opens the warehouse (the loop never opens it itself); it has no live_* tables.
    await jp_fetch(
        *API,
        "query",
        method="POST",
        body=json.dumps({"namespace": "retail", "metrics": ["orders"]}),
    )
    loop = ext_of(jp_serverapp).detection_loop
    loop.tick()
    st = await get_json(jp_fetch, "detection")
    assert st["enabled"] and st["alive"] and st["interval_s"] == INTERVAL
    assert st["state"] == "waiting"
    assert "live_sales_minute" in st["rules"][RULE]["reason"]


async def test_detection_can_be_switched_off_in_the_server_config(
    jp_fetch, jp_serverapp, detection_off
):
    await jp_fetch(
        *API,
        "query",
        method="POST",
        body=json.dumps({"namespace": "retail", "metrics": ["orders"]}),
    )
    st = await get_json(jp_fetch, "detection")
    assert st["enabled"] is False and st["alive"] is False and st["state"] == "disabled"
    assert st["cycles"] == 0
    # The incidents API still answers (the store is there for the CLI's incidents).
    assert (await get_json(jp_fetch, "incidents"))["incidents"] == []


# -- live: the real pipeline, the real rule, inside the server ---------------------------------
async def test_a_burst_in_live_gold_data_raises_an_incident_within_one_interval(
    jp_fetch, jp_serverapp, live_project
):
    ext = ext_of(jp_serverapp)
    root = live_project["root"]
    history_end = live_project["history_start"] + dt.timedelta(minutes=HISTORY_MINUTES)

    async def detection():
        return await get_json(jp_fetch, "detection")

    # Start the pipeline as `make up` does (autostart) but over REST: jupyter_server's pytest
    # plugin does not run the extensions' start hooks.
    started = await get_json(jp_fetch, "pipelines", "live_test", "start", method="POST", body="")
    assert started["name"] == "live_test"

    # The backfill: the loop scores the history the pipeline applied before the server started.
    st = await wait_for(
        detection,
        lambda s: (
            s["rules"].get(RULE, {}).get("state") == "ok"
            and s["rules"][RULE]["scored_to"] >= str(history_end)
        ),
        60,
        "the loop to score the history",
    )
    assert st["alive"] and st["state"] == "running"
    assert (await get_json(jp_fetch, "incidents"))["incidents"] == []  # normal minutes: quiet

    # The burst: 120 extra orders in region 1 in the current minute, through the operational
    # store the running pipeline reads. Not in the last seconds of a minute (they must land in it).
    from workbench.streaming.sources.embedded import OperationalStore

    if dt.datetime.now().second > 45:
        await asyncio.sleep(61 - dt.datetime.now().second)
    store = OperationalStore(
        root / "operational.sqlite", ext.host.pipeline("live_test").spec.tables
    )
    now = dt.datetime.now().replace(microsecond=0)
    bucket = now.replace(second=0)
    oid = live_project["next_oid"]
    store.write([order_ops(oid + k, 1, now) for k in range(140)])
    store.close()

    async def incidents():
        return (await get_json(jp_fetch, "incidents"))["incidents"]

    wait = (
        (bucket + dt.timedelta(minutes=1) - dt.datetime.now()).total_seconds()
        + INTERVAL
        + SETTLE
        + 30
    )
    found = await wait_for(incidents, lambda i: len(i) == 1, wait, "the burst's incident")
    # The incident is stored first, then notified (with its insight): wait for the notification.
    one = await wait_for(
        lambda: get_json(jp_fetch, "incidents", str(found[0]["id"])),
        lambda o: o["notifications"],
        30,
        "the incident's notification",
    )
    assert [(n["notifier"], n["status"]) for n in one["notifications"]] == [("inbox", "sent")]
    assert one["insight"] and "orders" in one["insight"]

    # The oracle: gold itself, by direct SQL on the server's own connection.
    cur = ext.host.workbench().engine.cursor()
    try:
        region, in_gold = cur.execute(
            "SELECT r.region, sum(g.orders) FROM live_sales_minute g JOIN regions r USING (region_id) "
            "WHERE g.region_id = 1 AND g.minute = ? GROUP BY r.region",
            [bucket],
        ).fetchone()
    finally:
        cur.close()
    assert in_gold == 140
    [a] = one["anomalies"]
    assert (a["rule"], a["slice_value"], a["direction"]) == (RULE, region, "up")
    assert dt.datetime.fromisoformat(a["ts"]) == bucket and a["value"] == 140
    # Expected: the median of region 1's normal minutes (16..24 orders), not the burst.
    normal = sorted(normal_count(i, 1) for i in range(HISTORY_MINUTES))
    assert normal[0] <= a["expected"] <= normal[-1]
    assert one["severity"] == "critical"  # z ~ 40 -> score ~ 0.9 >= critical_above 0.85
    assert [h["action"] for h in one["history"]][0] == "opened"
    # Routed to the in-app inbox.
    from workbench.anomaly.notifiers.inbox import Inbox

    msgs = Inbox(root / "inbox.sqlite").messages()
    assert len(msgs) == 1 and str(one["id"]) in json.dumps(msgs[0], default=str), one[
        "notifications"
    ]

    # Latency: from the end of the minute (when the data point is complete) to the anomaly,
    # bounded by the configured interval plus one cycle (and the settle time). Measured, not
    # tuned: the slowest cycle the loop itself timed is the allowance.
    st = await detection()
    detected = dt.datetime.fromisoformat(a["detected_at"])
    latency = (detected - (bucket + dt.timedelta(minutes=1))).total_seconds()
    print(
        f"live detection latency after the minute closed: {latency:.2f}s "
        f"(interval {INTERVAL}s, settle {SETTLE}s, slowest cycle {st['max_cycle_s']}s)"
    )
    assert latency >= SETTLE - 0.5  # never scored before the minute was complete
    assert latency <= 60  # the spec: within a minute of the data point
    # Our own bound: the interval plus the slowest cycle, the settle time and the pipeline's lag,
    # with a few seconds for a loaded 2-core CI machine (the measured figure is printed above).
    slack = INTERVAL + SETTLE + st["max_cycle_s"] + st["pipeline_lag_s"] + 5.0
    assert latency <= slack
    # And from the first order of the burst: within the minute plus that bound.
    assert (detected - now).total_seconds() <= 60 + slack

    # The loop keeps running: no errors recorded.
    assert st["errors"] == [] and st["state"] == "running"


async def test_a_fresh_pipeline_is_scored_per_minute_and_region_while_warming_up(
    jp_fetch, jp_serverapp, fresh_live_project
):
    """`make up` from nothing: the loop's first cycles find no live data, then the pipeline
    brings the first minutes. They must be scored (and the status must keep saying so between
    two minute closes), with the detector's warm-up reported, not "scored 0 buckets"."""
    from workbench.streaming.sources.embedded import OperationalStore

    ext = ext_of(jp_serverapp)
    root = fresh_live_project["root"]

    async def detection():
        return await get_json(jp_fetch, "detection")

    await jp_fetch(*API, "pipelines", "live_test", "start", method="POST", body="")
    st = await wait_for(
        detection,
        lambda s: s["rules"].get(RULE, {}).get("state") == "ok",
        60,
        "the live rule's first cycle",
    )
    assert st["rules"][RULE]["buckets"] == 0 and "no data" in st["rules"][RULE]["summary"], st

    # Orders as the simulator writes them (through the real source, timestamps "now"), only
    # dated in the last three minutes so that they are complete without waiting for a minute.
    if dt.datetime.now().second > 45:
        await asyncio.sleep(61 - dt.datetime.now().second)
    minute = dt.datetime.now().replace(second=0, microsecond=0)
    store = OperationalStore(
        root / "operational.sqlite", ext.host.pipeline("live_test").spec.tables
    )
    oid, txs = 1, []
    for i in range(3):
        for region in range(1, 6):
            for k in range(normal_count(i, region)):
                at = minute - dt.timedelta(minutes=3 - i) + dt.timedelta(seconds=k)
                txs.append(order_ops(oid, region, at))
                oid += 1
    store.write(txs)
    store.close()

    st = await wait_for(
        detection,
        lambda s: s["rules"][RULE].get("buckets", 0) > 0,
        30,
        "the first minutes to be scored",
    )
    r = st["rules"][RULE]
    # 3 complete minutes x 5 regions, every one with data (none skipped), and the warm-up.
    assert (r["buckets"], r["slices"]) == (15, 5), r
    assert "scored 15 buckets in 5 slice(s)" in r["summary"] and "skipped: none" in r["summary"]
    assert r["warming_up"] == "warming up: 3 of 10 minutes" and r["warming_up"] in r["summary"]
    # Between two minute closes the next cycles have nothing new: the status still says what
    # was scored last (the bug was "scored 0 buckets in 0 slice(s)" at every cycle).
    cycles = st["cycles"]
    st = await wait_for(detection, lambda s: s["cycles"] >= cycles + 2, 30, "two more cycles")
    r = st["rules"][RULE]
    if r["scored_to"] == str(minute):  # still the same minute: idle cycles
        assert r["idle"] and (r["buckets"], r["slices"]) == (15, 5), r
        assert "scored 15 buckets in 5 slice(s)" in r["summary"], r
    else:  # the minute closed meanwhile: it was scored too
        assert r["slices"] == 5 and r["buckets"] > 0, r
    # The oracle: gold itself has what was written, per minute and region.
    cur = ext.host.workbench().engine.cursor()
    try:
        in_gold = cur.execute(
            "SELECT count(DISTINCT (minute, region_id)), sum(orders) FROM live_sales_minute"
        ).fetchone()
    finally:
        cur.close()
    assert in_gold == (15, oid - 1)


async def test_a_failing_rule_is_shown_in_the_status_and_the_others_keep_running(
    jp_fetch, jp_serverapp, live_project
):
    root = live_project["root"]
    await jp_fetch(*API, "pipelines", "live_test", "start", method="POST", body="")

    async def detection():
        return await get_json(jp_fetch, "detection")

    await wait_for(
        detection,
        lambda s: s["rules"].get(RULE, {}).get("state") == "ok",
        60,
        "the live rule to run",
    )
    # A rule on a metric the live namespace does not have: valid YAML, fails when it runs.
    broken = (
        (root / "pipelines" / "alerts" / f"{RULE}.yml")
        .read_text()
        .replace(f"name: {RULE}", "name: live_broken")
        .replace("metric: orders", "metric: no_such_metric")
    )
    (root / "pipelines" / "alerts" / "live_broken.yml").write_text(broken)
    st = await wait_for(
        detection,
        lambda s: s["rules"].get("live_broken", {}).get("state") == "error",
        30,
        "the broken rule's error",
    )
    assert "no_such_metric" in st["rules"]["live_broken"]["error"]
    assert any("no_such_metric" in e["message"] for e in st["errors"])
    cycles = st["cycles"]
    st = await wait_for(detection, lambda s: s["cycles"] > cycles + 1, 30, "more cycles")
    assert st["rules"][RULE]["state"] == "ok" and st["alive"]

    # A malformed file: the last good rules keep running, the error names the file and field.
    (root / "pipelines" / "alerts" / "live_bad.yml").write_text(
        "name: live_bad\nsource: {namespace: live, metric: orders, grain: fortnight}\n"
    )
    st = await wait_for(detection, lambda s: s["rules_error"] is not None, 30, "the rules error")
    assert "live_bad.yml" in st["rules_error"] and "source.grain" in st["rules_error"]
    cycles = st["cycles"]
    st = await wait_for(detection, lambda s: s["cycles"] > cycles + 1, 30, "more cycles")
    assert st["rules"][RULE]["state"] == "ok" and st["alive"]
    # And the server answers queries meanwhile.
    r = await jp_fetch(
        *API, "query", method="POST", body=json.dumps({"namespace": "live", "metrics": ["orders"]})
    )
    total = json.loads(r.body)["records"][0]["orders"]
    assert total == sum(normal_count(i, reg) for i in range(HISTORY_MINUTES) for reg in range(1, 6))

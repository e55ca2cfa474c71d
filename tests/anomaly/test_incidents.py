"""Alerts end to end: anomalies -> incidents (grouping, dedup) -> routes (real HTTP webhook and
SMTP servers on 127.0.0.1, inbox) with quiet hours, escalation, acknowledgement and history."""

from __future__ import annotations

import datetime as dt

import pytest

import workbench
from tests.support.receivers import HookReceiver, SmtpReceiver
from tests.support.shop import make_shop
from workbench.anomaly.alert_rules import parse_rule
from workbench.anomaly.incidents import IncidentError, IncidentStore
from workbench.anomaly.incidents_dispatch import AlertDispatcher
from workbench.anomaly.jobs import Anomaly, DetectionJob
from workbench.anomaly.notifiers import Inbox


def rule_yaml(name, metric, hook, smtp_port, inbox, quiet=""):
    return f"""
name: {name}
source: {{namespace: shop, metric: {metric}, grain: hour, slice_by: region, transform: sqrt}}
detector: {{name: seasonal, params: {{periods: [86400], bins: 24, min_history: 96, alpha_season: 0.2}}}}
threshold: 0.6
critical_above: 0.9
incident: {{group: shop, window_minutes: 120}}
{quiet}
routing:
  - notifier: webhook
    url: {hook}/hook
  - notifier: email
    port: {smtp_port}
    to: [ops@example.org]
    min_severity: warning
  - notifier: inbox
    path: {inbox}
    ignore_quiet_hours: true
"""


def anomaly(rule, slice_value, hour, severity="warning", metric="orders", day=15):
    return Anomaly(
        rule=rule,
        namespace="shop",
        metric=metric,
        grain="hour",
        slice_by="region",
        slice_value=slice_value,
        ts=dt.datetime(2026, 1, day, hour),
        value=0.0,
        expected=30.0,
        score=0.7 if severity == "warning" else 0.95,
        severity=severity,
        direction="down",
        group="shop",
    )


def test_job_to_webhook_and_smtp_end_to_end(tmp_path):
    """A real outage in the data: both regions go quiet, orders and revenue both drop. Two rules,
    two slices, several hours -> one incident, one message per route."""
    wh, models = make_shop(tmp_path, drop=("South", "2026-01-15 18:00", "2026-01-15 21:00"))
    import duckdb

    con = duckdb.connect(str(wh))
    con.execute(
        "delete from sales where region = 'North' and ts >= '2026-01-15 19:00' and ts < '2026-01-15 21:00'"
    )
    con.close()
    wb = workbench.connect(warehouse=wh, models_dir=models, cache="none", read_only=True)
    with HookReceiver() as hook, SmtpReceiver() as smtp:
        rules = [
            parse_rule(rule_yaml(n, m, hook.url, smtp.port, tmp_path / "inbox.sqlite"), f"{n}.yml")
            for n, m in (("shop_orders", "orders"), ("shop_revenue", "revenue"))
        ]
        store = IncidentStore(tmp_path / "incidents.sqlite")
        dispatcher = AlertDispatcher(rules, store, clock=lambda: dt.datetime(2026, 1, 22, 12))
        anomalies = []
        for r in rules:
            anomalies += (
                DetectionJob(r, wb, state_dir=None).run(now=dt.datetime(2026, 1, 22)).anomalies
            )
        counts = dispatcher.process(anomalies)
        again = dispatcher.process(anomalies)  # e.g. a restarted job re-raising them
    outage = [i for i in store.list() if i["first_ts"].startswith("2026-01-15T1")]
    assert len(outage) == 1, store.list()
    inc = outage[0]
    got = {(a["rule"], a["slice_value"]) for a in store.anomalies(inc["id"])}
    assert {("shop_orders", "South"), ("shop_orders", "North"), ("shop_revenue", "South")} <= got
    # one incident -> one webhook POST and one email for it (no matter how many anomalies joined)
    posts = [p for p in hook.received if p["json"]["incident_id"] == inc["id"]]
    mails = [m for m in smtp.messages if f"X-Workbench-Incident: {inc['id']}" in m["data"]]
    assert len(posts) == 1 and len(mails) == 1
    assert posts[0]["json"]["event"] == "opened"
    assert again["duplicates"] == counts["anomalies"] and again["anomalies"] == 0
    assert len(hook.received) == len(store.list())  # dedup: nothing re-sent
    assert Inbox(tmp_path / "inbox.sqlite").messages()


@pytest.fixture
def setup(tmp_path):
    hook, smtp = HookReceiver(), SmtpReceiver()
    hook.__enter__()
    smtp.__enter__()
    quiet = "quiet_hours:\n  - {start: '22:00', end: '07:00', allow_severity: critical}"
    rule = parse_rule(
        rule_yaml("r", "orders", hook.url, smtp.port, tmp_path / "inbox.sqlite", quiet), "r.yml"
    )
    clock = {"now": dt.datetime(2026, 1, 15, 12)}
    store = IncidentStore(tmp_path / "incidents.sqlite")
    d = AlertDispatcher([rule], store, clock=lambda: clock["now"])
    yield d, store, hook, smtp, clock, tmp_path / "inbox.sqlite"
    hook.__exit__()
    smtp.__exit__()


def test_grouping_window_and_escalation(setup):
    d, store, hook, smtp, clock, _ = setup
    d.process([anomaly("r", "North", 10), anomaly("r", "South", 11)])
    d.process([anomaly("r", "North", 12)])  # within 120 min of the last: same incident
    d.process([anomaly("r", "North", 18)])  # 6 h later: a new incident
    a, b = store.list()
    assert a["n_anomalies"] == 3 and b["n_anomalies"] == 1
    assert len(hook.received) == 2 and len(smtp.messages) == 2
    d.process([anomaly("r", "South", 13, "critical")])  # escalation re-notifies
    assert store.get(a["id"])["severity"] == "critical"
    assert [p["json"]["event"] for p in hook.received] == ["opened", "opened", "escalated"]
    assert [h["action"] for h in store.history(a["id"])] == ["opened", "escalated"]


def test_quiet_hours_hold_then_release(setup):
    d, store, hook, smtp, clock, inbox = setup
    clock["now"] = dt.datetime(2026, 1, 15, 23, 30)
    d.process([anomaly("r", "North", 22)])  # warning at night: held
    assert hook.received == [] and smtp.messages == []
    assert len(Inbox(inbox).messages()) == 1  # the inbox ignores quiet hours
    assert [n["status"] for n in store.notifications()] == ["held", "held", "sent"]
    clock["now"] = dt.datetime(2026, 1, 16, 3)
    assert d.flush_held()["still_held"] == 2
    clock["now"] = dt.datetime(2026, 1, 16, 7, 1)
    assert d.flush_held() == {"sent": 2, "dropped": 0, "still_held": 0, "failed": 0}
    assert [p["json"]["event"] for p in hook.received] == ["held_release"] and len(
        smtp.messages
    ) == 1
    clock["now"] = dt.datetime(2026, 1, 16, 23, 30)
    d.process([anomaly("r", "South", 23, "critical", day=16)])  # critical goes out even at night
    assert [p["json"]["event"] for p in hook.received] == ["held_release", "opened"]


def test_escalation_at_night_supersedes_held_messages(setup):
    d, store, hook, smtp, clock, _ = setup
    clock["now"] = dt.datetime(2026, 1, 15, 23, 30)
    d.process([anomaly("r", "North", 22)])
    d.process([anomaly("r", "South", 23, "critical")])
    assert [p["json"]["event"] for p in hook.received] == ["escalated"]
    clock["now"] = dt.datetime(2026, 1, 16, 8)
    assert d.flush_held()["sent"] == 0 and len(hook.received) == 1
    assert sorted(n["status"] for n in store.notifications()) == ["sent"] * 4 + ["superseded"] * 2


def test_acknowledged_incident_stays_quiet_and_resolve_has_history(setup):
    d, store, hook, smtp, clock, _ = setup
    d.process([anomaly("r", "North", 10)])
    (inc,) = store.list()
    store.acknowledge(inc["id"], by="dana", note="looking into it")
    d.process([anomaly("r", "South", 11, "critical")])  # joins the acked incident, escalates it
    assert len(hook.received) == 1  # ...but an acked incident notifies nobody
    with pytest.raises(IncidentError, match="is acknowledged"):
        store.acknowledge(inc["id"], by="sam")
    store.resolve(inc["id"], by="dana", note="payment provider fixed")
    d.process([anomaly("r", "North", 12)])  # after resolve: a new incident
    assert len(store.list()) == 2 and len(hook.received) == 2
    hist = store.history(inc["id"])
    assert [(h["action"], h["actor"]) for h in hist] == [
        ("opened", "detector"),
        ("acknowledged", "dana"),
        ("escalated", "detector"),
        ("not notified", "dispatcher"),
        ("resolved", "dana"),
    ]
    assert store.get(inc["id"])["resolved_by"] == "dana"


def test_held_notification_dropped_when_acknowledged(setup):
    d, store, hook, smtp, clock, _ = setup
    clock["now"] = dt.datetime(2026, 1, 15, 23)
    d.process([anomaly("r", "North", 22)])
    store.acknowledge(store.list()[0]["id"], by="dana")
    clock["now"] = dt.datetime(2026, 1, 16, 8)
    assert d.flush_held()["dropped"] == 2 and hook.received == []

"""The rule's ``where`` filter travels with each anomaly into the incident store, and a store
written before that column existed is migrated in place without losing a row.

Oracles: the rule text itself, plain SQL on the sqlite file, and the previous schema written out
here by hand (as older workbench versions created it)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pandas as pd

import workbench
from tests.support.incident_schemas import OLD_SCHEMA
from tests.support.shop import make_shop
from workbench.anomaly.alert_rules import parse_rule
from workbench.anomaly.incidents import IncidentStore
from workbench.anomaly.jobs import DetectionJob

RULE = """
name: south_orders
source:
  namespace: shop
  metric: orders
  grain: hour
  where: ["region = 'South'"]
  transform: sqrt
detector:
  name: seasonal
  params: {periods: [86400], bins: 24, min_history: 96, alpha_season: 0.2}
threshold: 0.6
direction: down
"""


def test_a_filtered_rules_anomalies_carry_and_store_its_where(tmp_path):
    wh, models = make_shop(tmp_path, drop=("South", "2026-01-15 18:00", "2026-01-15 21:00"))
    rule = parse_rule(RULE, "south_orders.yml")
    wb = workbench.connect(warehouse=wh, models_dir=models, cache="none", read_only=True)
    res = DetectionJob(rule, wb, state_dir=None).run(now=dt.datetime(2026, 1, 22))
    outage = [
        a
        for a in res.anomalies
        if pd.Timestamp("2026-01-15 18:00") <= pd.Timestamp(a.ts) < pd.Timestamp("2026-01-15 21:00")
    ]
    assert outage, res.anomalies  # the premise: the South outage is found
    assert all(a.rule_where == ["region = 'South'"] for a in res.anomalies)
    store = IncidentStore(tmp_path / "inc.sqlite")
    for a in res.anomalies:
        store.add(a)
    with sqlite3.connect(tmp_path / "inc.sqlite") as db:
        stored = {r[0] for r in db.execute("select rule_where from anomalies")}
    assert [json.loads(s) for s in stored] == [["region = 'South'"]]


def test_an_old_store_is_migrated_in_place_and_keeps_every_row(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_SCHEMA)
        db.execute(
            "insert into incidents(grp, severity, title, first_ts, last_ts, window_minutes,"
            " n_anomalies, opened_at, updated_at) values ('g','warning','t',"
            "'2026-01-01T00:00:00','2026-01-01T01:00:00',60,2,'x','x')"
        )
        for i in range(2):
            db.execute(
                "insert into anomalies values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    f"r|North|{i}",
                    1,
                    "r",
                    "shop",
                    "orders",
                    "hour",
                    "region",
                    "North",
                    f"2026-01-01T0{i}:00:00",
                    1.0,
                    9.0,
                    0.9,
                    "warning",
                    "down",
                    "x",
                ),
            )
        db.execute("insert into history(incident_id, at, action) values (1, 'x', 'opened')")
    store = IncidentStore(path)  # migrates
    rows = store.anomalies()
    assert [r["fingerprint"] for r in rows] == ["r|North|0", "r|North|1"]
    assert all(r["rule_where"] is None for r in rows)  # not recorded then: unknown, not invented
    assert store.get(1)["n_anomalies"] == 2 and len(store.history(1)) == 1
    IncidentStore(path)  # a second open changes nothing
    assert len(store.anomalies()) == 2
    with sqlite3.connect(path) as db:
        cols = [r[1] for r in db.execute("pragma table_info(anomalies)")]
    assert cols.count("rule_where") == 1

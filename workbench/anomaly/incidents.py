"""Incidents: correlated anomalies, deduplicated, with an acknowledge/resolve lifecycle and history.

Stored in a small sqlite file (``.workbench/anomaly/incidents.sqlite`` by default), so the job
runner, the CLI and notebooks can share it.

- **Deduplication.** An anomaly's fingerprint is (rule, slice, bucket). The same anomaly raised
  twice (a restarted job, an overlapping backfill) is stored once and notifies nobody again.
- **Correlation.** An anomaly joins the open (or acknowledged) incident of its rule's group whose
  time span, widened by the rule's ``incident.window_minutes``, contains the anomaly's bucket.
  So anomalies across slices and metrics close in (data) time are one incident, and a replay
  groups exactly as the live run did. Otherwise it opens a new incident.
- **Lifecycle.** open -> acknowledged -> resolved. Every change is a row in ``history``.
  Resolved incidents never take new anomalies: a recurrence opens a new incident.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.anomaly.alert_rules import severity_rank
from workbench.anomaly.jobs import Anomaly

DEFAULT_DB = ".workbench/anomaly/incidents.sqlite"

SCHEMA = """
create table if not exists incidents (
    id integer primary key autoincrement,
    grp text not null,
    status text not null default 'open',
    severity text not null,
    title text not null,
    first_ts text not null,
    last_ts text not null,
    window_minutes integer not null,
    n_anomalies integer not null default 0,
    opened_at text not null,
    updated_at text not null,
    acknowledged_by text, acknowledged_at text,
    resolved_by text, resolved_at text,
    notified_severity text,
    insight text
);
create table if not exists anomalies (
    fingerprint text primary key,
    incident_id integer not null references incidents(id),
    rule text, namespace text, metric text, grain text, slice_by text, slice_value text,
    ts text, value real, expected real, score real, severity text, direction text,
    detected_at text, rule_where text
);
create table if not exists history (
    id integer primary key autoincrement,
    incident_id integer not null references incidents(id),
    at text not null, action text not null, actor text, detail text
);
create table if not exists notifications (
    id integer primary key autoincrement,
    incident_id integer not null references incidents(id),
    rule text, route integer, notifier text, event text, severity text,
    status text not null, at text not null, detail text
);
create index if not exists anomalies_incident on anomalies(incident_id);
create index if not exists incidents_grp on incidents(grp, status);
"""


ANOMALY_COLUMNS = (
    "fingerprint",
    "incident_id",
    "rule",
    "namespace",
    "metric",
    "grain",
    "slice_by",
    "slice_value",
    "ts",
    "value",
    "expected",
    "score",
    "severity",
    "direction",
    "detected_at",
    "rule_where",
)
# Built from the fixed column names above; every value is bound.
INSERT_ANOMALY = (
    f"insert into anomalies({', '.join(ANOMALY_COLUMNS)}) "  # noqa: S608
    f"values ({', '.join('?' * len(ANOMALY_COLUMNS))})"
)


class IncidentError(ValueError):
    pass


def migrate(db: sqlite3.Connection) -> None:
    """Bring a store written by an older workbench up to this schema, in place: columns are only
    added, so no row is lost. ``rule_where`` stays NULL on rows stored before it existed: the
    rule's filters were not recorded then (readers treat NULL as "no filter", as before)."""
    have = {r[1] for r in db.execute("pragma table_info(anomalies)")}
    if "rule_where" not in have:
        db.execute("alter table anomalies add column rule_where text")


def where_text(filters: list[str] | tuple[str, ...] | None) -> str:
    """A rule's where list as stored: JSON, so a filter holding a comma survives the trip."""
    return json.dumps(list(filters or []))


@dataclass
class AddResult:
    incident_id: int
    new_anomaly: bool  # False: a duplicate, ignored
    new_incident: bool
    escalated: bool  # the incident's severity went up


def _iso(t: Any) -> str:
    return pd.Timestamp(t).isoformat()


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


class IncidentStore:
    def __init__(self, path: str | Path = DEFAULT_DB):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(SCHEMA)
            migrate(db)

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=30)
        db.row_factory = sqlite3.Row
        try:
            with db:  # commit on success, roll back on error
                yield db
        finally:
            db.close()

    # -- writing ----------------------------------------------------------------------------
    def add(self, a: Anomaly, window_minutes: int = 180) -> AddResult:
        ts = pd.Timestamp(a.ts)
        with self._db() as db:
            db.execute("begin immediate")
            if db.execute(
                "select 1 from anomalies where fingerprint = ?", (a.fingerprint,)
            ).fetchone():
                inc = db.execute(
                    "select incident_id from anomalies where fingerprint = ?", (a.fingerprint,)
                ).fetchone()[0]
                return AddResult(inc, False, False, False)
            w = pd.Timedelta(minutes=window_minutes)
            row = None
            for cand in db.execute(
                "select * from incidents where grp = ? and status != 'resolved' order by id desc",
                (a.group,),
            ):
                lo = pd.Timestamp(cand["first_ts"]) - pd.Timedelta(minutes=cand["window_minutes"])
                hi = pd.Timestamp(cand["last_ts"]) + max(
                    w, pd.Timedelta(minutes=cand["window_minutes"])
                )
                if lo <= ts <= hi:
                    row = cand
                    break
            now = _now()
            where = f"{a.slice_by}={a.slice_value}" if a.slice_by and a.slice_value else "total"
            if row is None:
                title = f"{a.metric} {a.direction} ({where}) in {a.namespace}"
                cur = db.execute(
                    "insert into incidents(grp, status, severity, title, first_ts, last_ts, window_minutes,"
                    " n_anomalies, opened_at, updated_at) values (?,?,?,?,?,?,?,?,?,?)",
                    (
                        a.group,
                        "open",
                        a.severity,
                        title,
                        _iso(ts),
                        _iso(ts),
                        window_minutes,
                        0,
                        now,
                        now,
                    ),
                )
                inc_id, new_incident, escalated = int(cur.lastrowid), True, False
                db.execute(
                    "insert into history(incident_id, at, action, actor, detail) values (?,?,?,?,?)",
                    (inc_id, now, "opened", "detector", a.describe()),
                )
            else:
                inc_id, new_incident = int(row["id"]), False
                escalated = severity_rank(a.severity) > severity_rank(row["severity"])
                db.execute(
                    "update incidents set first_ts = min(first_ts, ?), last_ts = max(last_ts, ?),"
                    " updated_at = ?, severity = ? where id = ?",
                    (_iso(ts), _iso(ts), now, a.severity if escalated else row["severity"], inc_id),
                )
                if escalated:
                    db.execute(
                        "insert into history(incident_id, at, action, actor, detail) values (?,?,?,?,?)",
                        (
                            inc_id,
                            now,
                            "escalated",
                            "detector",
                            f"{row['severity']} -> {a.severity}: {a.describe()}",
                        ),
                    )
            db.execute(
                INSERT_ANOMALY,
                (
                    a.fingerprint,
                    inc_id,
                    a.rule,
                    a.namespace,
                    a.metric,
                    a.grain,
                    a.slice_by,
                    a.slice_value,
                    _iso(ts),
                    a.value,
                    a.expected,
                    a.score,
                    a.severity,
                    a.direction,
                    _iso(a.detected_at),
                    where_text(a.rule_where),
                ),
            )
            db.execute("update incidents set n_anomalies = n_anomalies + 1 where id = ?", (inc_id,))
            return AddResult(inc_id, True, new_incident, escalated)

    def _transition(self, incident_id: int, to: str, by: str, note: str | None) -> dict:
        with self._db() as db:
            db.execute("begin immediate")
            row = db.execute("select * from incidents where id = ?", (incident_id,)).fetchone()
            if row is None:
                raise IncidentError(f"no incident #{incident_id}")
            allowed = {
                "acknowledged": ("open",),
                "resolved": ("open", "acknowledged"),
                "open": ("acknowledged", "resolved"),
            }[to]
            if row["status"] not in allowed:
                raise IncidentError(
                    f"incident #{incident_id} is {row['status']}; cannot make it {to}"
                )
            now = _now()
            col = {"acknowledged": "acknowledged", "resolved": "resolved"}.get(to)
            if col:
                # col is one of two fixed column names (the dict above), never input; values bound
                db.execute(
                    f"update incidents set status = ?, {col}_by = ?, {col}_at = ?, updated_at = ? "  # noqa: S608
                    "where id = ?",
                    (to, by, now, now, incident_id),
                )
            else:
                db.execute(
                    "update incidents set status = 'open', updated_at = ? where id = ?",
                    (now, incident_id),
                )
            action = {"acknowledged": "acknowledged", "resolved": "resolved", "open": "reopened"}[
                to
            ]
            db.execute(
                "insert into history(incident_id, at, action, actor, detail) values (?,?,?,?,?)",
                (incident_id, now, action, by, note),
            )
        return self.get(incident_id)

    def acknowledge(self, incident_id: int, by: str = "unknown", note: str | None = None) -> dict:
        return self._transition(incident_id, "acknowledged", by, note)

    def resolve(self, incident_id: int, by: str = "unknown", note: str | None = None) -> dict:
        return self._transition(incident_id, "resolved", by, note)

    def reopen(self, incident_id: int, by: str = "unknown", note: str | None = None) -> dict:
        return self._transition(incident_id, "open", by, note)

    def set_insight(self, incident_id: int, text: str) -> None:
        with self._db() as db:
            db.execute("update incidents set insight = ? where id = ?", (text, incident_id))

    def note(self, incident_id: int, action: str, actor: str, detail: str | None = None) -> None:
        with self._db() as db:
            db.execute(
                "insert into history(incident_id, at, action, actor, detail) values (?,?,?,?,?)",
                (incident_id, _now(), action, actor, detail),
            )

    def record_notification(
        self,
        incident_id: int,
        rule: str,
        route: int,
        notifier: str,
        event: str,
        severity: str,
        status: str,
        detail: str | None = None,
    ) -> int:
        with self._db() as db:
            cur = db.execute(
                "insert into notifications(incident_id, rule, route, notifier, event, severity, status, at, detail)"
                " values (?,?,?,?,?,?,?,?,?)",
                (incident_id, rule, route, notifier, event, severity, status, _now(), detail),
            )
            if status == "sent":
                cur_sev = db.execute(
                    "select notified_severity from incidents where id = ?", (incident_id,)
                ).fetchone()[0]
                if cur_sev is None or severity_rank(severity) > severity_rank(cur_sev):
                    db.execute(
                        "update incidents set notified_severity = ? where id = ?",
                        (severity, incident_id),
                    )
            return int(cur.lastrowid)

    def update_notification(
        self, notification_id: int, status: str, detail: str | None = None
    ) -> None:
        with self._db() as db:
            db.execute(
                "update notifications set status = ?, at = ?, detail = coalesce(?, detail) where id = ?",
                (status, _now(), detail, notification_id),
            )

    # -- reading ----------------------------------------------------------------------------
    def get(self, incident_id: int) -> dict:
        with self._db() as db:
            row = db.execute("select * from incidents where id = ?", (incident_id,)).fetchone()
        if row is None:
            raise IncidentError(f"no incident #{incident_id}")
        return dict(row)

    def list(self, status: str | None = None) -> list[dict]:
        sql, args = "select * from incidents", []
        if status:
            sql += " where status = ?"
            args.append(status)
        with self._db() as db:
            return [dict(r) for r in db.execute(sql + " order by id", args)]

    # Below ``list`` (the method) names the method, so the builtin is spelled ``builtins.list``.
    def anomalies(self, incident_id: int | None = None) -> builtins.list[dict]:
        sql, args = "select * from anomalies", []
        if incident_id is not None:
            sql += " where incident_id = ?"
            args.append(incident_id)
        with self._db() as db:
            return [dict(r) for r in db.execute(sql + " order by ts, rule, slice_value", args)]

    def history(self, incident_id: int) -> builtins.list[dict]:
        with self._db() as db:
            return [
                dict(r)
                for r in db.execute(
                    "select * from history where incident_id = ? order by id", (incident_id,)
                )
            ]

    def notifications(
        self, incident_id: int | None = None, status: str | None = None
    ) -> builtins.list[dict]:
        sql = "select * from notifications where 1=1"
        args: builtins.list[int | str] = []
        if incident_id is not None:
            sql += " and incident_id = ?"
            args.append(incident_id)
        if status:
            sql += " and status = ?"
            args.append(status)
        with self._db() as db:
            return [dict(r) for r in db.execute(sql + " order by id", args)]

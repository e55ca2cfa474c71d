"""Incidents on the dashboard: the anomaly store, read beside the detection jobs, and the
Incidents panel (a table of recent incidents, the chosen one's insight and anomalies, and
acknowledge / resolve for the people allowed to).

The detection jobs write ``.workbench/anomaly/incidents.sqlite`` under the project root
(``workbench.anomaly.incidents.DEFAULT_DB``; ``WORKBENCH_INCIDENTS_DB`` overrides it).  The page
reads it through read-only connections, so it never holds a write lock the jobs wait for, and
only when the file changed (``IncidentFeed.changed``: a stat, not a query, at most every few
seconds per process), so an idle page costs nothing.

Acknowledge and resolve: behind the Jupyter server (``ApiClient``) they are POSTs to
``/workbench/api/incidents/{id}/acknowledge|resolve`` with the viewer's own credentials, so the
server decides whether this person may (their principal's roles) and records the authenticated
user; its refusal is shown as its own words.  In-process (``LocalClient``: tests, the app outside
Jupyter) they go through ``IncidentStore``'s own API (``IncidentFeed.act``).  The roles worked out
here only decide whether the buttons are shown: a hint, the server is the authority.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pandas as pd

from workbench.ui.dashboard.markers import COLUMNS, empty_anomalies

# Who may acknowledge and resolve incidents (principals.yml roles); everyone else reads.
ACT_ROLES = frozenset({"admin", "analyst"})
RECENT = 50
CHECK_EVERY_S = 3.0


def incidents_db_path() -> Path:
    """Where the detection jobs keep their incidents (the same resolution as theirs: the
    project root of workbench.yml, else the working directory)."""
    from workbench.anomaly.incidents import DEFAULT_DB

    env = os.environ.get("WORKBENCH_INCIDENTS_DB", "").strip()
    if env:
        return Path(env)
    try:
        from workbench.config import load_settings

        settings = load_settings()  # anomaly.incidents_db: the file the server writes too
        return settings.path(settings.anomaly.incidents_db or DEFAULT_DB)
    except Exception:  # noqa: BLE001  a broken workbench.yml: the cwd still works
        return Path(DEFAULT_DB)


def roles_of(client) -> frozenset[str]:
    """The viewer's roles: an in-process workbench knows its principal; through the server the
    principal's name comes from the query API and its roles from principals.yml."""
    wb = getattr(client, "wb", None)
    principal = getattr(wb, "principal", None)
    if principal is not None:
        return frozenset(principal.roles)
    try:
        name = client.catalog("_", limit=1).get("principal")
        if not name:
            return frozenset()
        from workbench.config import load_settings
        from workbench.security.principal import load_principals

        settings = load_settings()
        return frozenset(load_principals(settings.path(settings.principals_file)).get(name).roles)
    except Exception:  # noqa: BLE001  unknown: read-only
        return frozenset()


class IncidentFeed:
    """Reads the incident store; ``changed()`` is cheap enough to ask on every tick."""

    def __init__(self, path: str | Path | None = None, check_every_s: float = CHECK_EVERY_S):
        self.path = Path(path) if path is not None else incidents_db_path()
        self.check_every_s = check_every_s
        self._lock = threading.Lock()
        self._checked = 0.0
        self._stamp: tuple | None = None

    def stamp(self) -> tuple | None:
        """The file's identity and size and change time (and its journal's): any write by any
        process changes it."""
        out = []
        for suffix in ("", "-wal", "-journal"):
            try:
                st = os.stat(f"{self.path}{suffix}")
                out.append((suffix, st.st_mtime_ns, st.st_size))
            except OSError:
                continue
        return tuple(out) or None

    def changed(self, force: bool = False) -> bool:
        """True when the store may hold something new since the last True (checked at most
        every ``check_every_s`` unless forced)."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < self.check_every_s:
                return False
            self._checked = now
            stamp = self.stamp()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            return True

    def _read(self, sql: str, args: tuple = ()) -> list[dict]:
        if not self.path.exists():
            return []
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(sql, args)]
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # created, not yet written
                return []
            raise
        finally:
            db.close()

    def anomalies(self, namespace: str, start=None, end=None) -> pd.DataFrame:
        """The namespace's anomalies with their bucket in [start, end)."""
        # A store no writer has migrated yet has no rule_where: read it as NULL (unfiltered).
        have = {r["name"] for r in self._read("select name from pragma_table_info('anomalies')")}
        cols = [c if c in have or not have else f"null as {c}" for c in COLUMNS]
        sql = "select " + ", ".join(cols) + " from anomalies where namespace = ?"
        args: list = [namespace]
        if start is not None:
            sql += " and ts >= ?"
            args.append(pd.Timestamp(start).isoformat())
        if end is not None:
            sql += " and ts < ?"
            args.append(pd.Timestamp(end).isoformat())
        rows = self._read(sql + " order by ts", tuple(args))
        if not rows:
            return empty_anomalies()
        df = pd.DataFrame(rows, columns=COLUMNS)
        df["ts"] = pd.to_datetime(df["ts"], errors="coerce")
        return df.dropna(subset=["ts"])

    def recent(self, include_resolved: bool = True, limit: int = RECENT) -> pd.DataFrame:
        """Most recently active incidents first."""
        sql = (
            "select id, status, severity, title, first_ts, last_ts, n_anomalies from incidents"
            + ("" if include_resolved else " where status != 'resolved'")
            + " order by last_ts desc, id desc limit ?"
        )
        rows = self._read(sql, (int(limit),))
        df = pd.DataFrame(
            rows,
            columns=["id", "status", "severity", "title", "first_ts", "last_ts", "n_anomalies"],
        )
        for c in ("first_ts", "last_ts"):
            df[c] = pd.to_datetime(df[c], errors="coerce").dt.strftime("%Y-%m-%d %H:%M")
        return df.rename(
            columns={
                "id": "#",
                "first_ts": "started",
                "last_ts": "last seen",
                "n_anomalies": "anomalies",
            }
        )

    def incident(self, incident_id: int) -> dict | None:
        rows = self._read("select * from incidents where id = ?", (int(incident_id),))
        if not rows:
            return None
        inc = rows[0]
        inc["anomalies"] = self._read(
            "select ts, metric, slice_by, slice_value, value, expected, score, severity, "
            "direction from anomalies where incident_id = ? order by ts, rule, slice_value",
            (int(incident_id),),
        )
        inc["history"] = self._read(
            "select at, action, actor, detail from history where incident_id = ? order by id",
            (int(incident_id),),
        )
        return inc

    def act(self, incident_id: int, action: str, by: str, note: str | None = None) -> dict:
        """Acknowledge or resolve through the store's own API (it records who, in history)."""
        from workbench.anomaly.incidents import IncidentStore

        store = IncidentStore(self.path)
        if action == "acknowledge":
            return store.acknowledge(int(incident_id), by=by, note=note or None)
        if action == "resolve":
            return store.resolve(int(incident_id), by=by, note=note or None)
        raise ValueError(f"unknown incident action {action!r}")

"""What the dashboard asks the semantic layer, and what it keeps.

Pure description of the queries (no Panel here): the time window and the previous one, the
drill path, the where-clauses of a cross-filter, and one snapshot of every result, so the page
keeps showing the last good state when the stream or the server stops.  Which members it asks
for comes from the dashboard spec (dashboard.spec, YAML) resolved against the namespace
(``Members``, dashboard.members); no member name is written here.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.ui.dashboard.members import Level, Members

# preset -> (length, trend grain)
TIME_PRESETS: dict[str, tuple[dt.timedelta, str]] = {
    "Last 15 minutes": (dt.timedelta(minutes=15), "minute"),
    "Last hour": (dt.timedelta(hours=1), "minute"),
    "Last 24 hours": (dt.timedelta(hours=24), "hour"),
    "Last 7 days": (dt.timedelta(days=7), "day"),
    "Last 30 days": (dt.timedelta(days=30), "day"),
    "Last 365 days": (dt.timedelta(days=365), "week"),
}
DEFAULT_PRESET = "Last hour"


def quote(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


@dataclass
class Window:
    start: dt.datetime
    end: dt.datetime
    grain: str

    def text(self) -> str:
        return f"{self.start:%Y-%m-%dT%H:%M:%S}..{self.end:%Y-%m-%dT%H:%M:%S}"

    def previous(self) -> Window:
        span = self.end - self.start
        return Window(self.start - span, self.start, self.grain)


def window_for(preset: str, anchor: dt.datetime, custom: tuple | None = None) -> Window:
    """The [start, end) window of a preset ending at ``anchor`` (now, or the end of the data)."""
    if custom and custom[0] and custom[1]:
        start, end = custom
        span = end - start
        grain = (
            "minute"
            if span <= dt.timedelta(hours=2)
            else "hour"
            if span <= dt.timedelta(days=2)
            else "day"
            if span <= dt.timedelta(days=90)
            else "week"
        )
        return Window(start, end, grain)
    length, grain = TIME_PRESETS.get(preset, TIME_PRESETS[DEFAULT_PRESET])
    end = anchor.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return Window(end - length, end, grain)


@dataclass
class Drill:
    """The drill path: the values picked so far, outermost level first (none: the top)."""

    picks: tuple[str, ...] = ()

    def current(self, m: Members) -> Level | None:
        """The level the drill bar/table shows now."""
        return m.levels[min(len(self.picks), len(m.levels) - 1)] if m.levels else None

    def level(self, m: Members) -> tuple[str | None, str]:
        """The dimension the drill bar/table shows now, and its metric."""
        lv = self.current(m)
        return (lv.dimension, lv.metric or m.metric) if lv else (None, m.metric)

    def can_go_down(self, m: Members) -> bool:
        return len(self.picks) < len(m.levels) - 1

    def where(self, m: Members, lines: bool = False) -> list[str]:
        """The drill path as filters; ``lines`` for queries of line-level metrics."""
        out = []
        for lv, value in zip(m.levels, self.picks, strict=False):
            dim = (lv.line_dimension or lv.dimension) if lines else lv.dimension
            out.append(f"{dim} = {quote(value)}")
        return out

    def slice(self, m: Members) -> dict[str, str]:
        """The drill path as {dimension: value} (how anomalies name their slice)."""
        return {lv.dimension: v for lv, v in zip(m.levels, self.picks, strict=False)}

    def crumbs(self, top: str = "All") -> list[str]:
        return [top, *self.picks]


@dataclass
class Snapshot:
    """Every panel's data at one moment; kept until a newer complete one arrives."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict[str, dict] = field(default_factory=dict)
    sql: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    freshness: dict[str, Any] = field(default_factory=dict)
    fetched_at: dt.datetime | None = None
    window: Window | None = None
    drill: Drill = field(default_factory=Drill)


def build_queries(m: Members, w: Window, drill: Drill) -> dict[str, dict]:
    """Every panel's semantic query, by snapshot frame key: the KPIs now and in the previous
    period, the drill level, and the spec's named queries."""
    ns, where = m.namespace, drill.where(m)
    # The time range applies to each model's default time dimension (order time in `retail`,
    # the gold views' minute in `live`), so line-level metrics on another model still filter.
    base = {"namespace": ns, "time_range": w.text()}
    q: dict[str, dict] = {
        "kpi": {**base, "metrics": list(m.kpis), "where": where},
        "kpi_previous": {
            **base,
            "metrics": list(m.kpis),
            "where": where,
            "time_range": w.previous().text(),
        },
    }
    for key, spec in m.queries.items():
        one: dict = {
            **base,
            "metrics": list(spec.metrics),
            "where": drill.where(m, lines=spec.lines),
        }
        if spec.dimensions:
            one["dimensions"] = list(spec.dimensions)
        if m.time in spec.dimensions:
            one["grain"] = w.grain
            one["order"] = [m.time]
        if spec.limit:
            one["limit"] = spec.limit
        q[key] = one
    lv = drill.current(m)
    if lv is not None:
        metric = lv.metric or m.metric
        q["drill"] = {
            **base,
            "metrics": [lv.metric] if lv.metric else list(m.metrics),
            "dimensions": [lv.dimension],
            "where": drill.where(m, lines=lv.lines),
            "order": [f"-{metric}"],
            "limit": 200,
        }
    return q


def to_frame(result: dict) -> pd.DataFrame:
    df = pd.DataFrame.from_records(result.get("records") or [], columns=result.get("columns"))
    for col, info in (result.get("meta") or {}).items():
        if col in df.columns and info.get("type") == "time":
            df[col] = pd.to_datetime(df[col], errors="coerce")
    return df


class DashboardData:
    """Runs a snapshot's queries concurrently through a client (ApiClient or LocalClient)."""

    def __init__(self, client, members: Members, workers: int = 6):
        self.client, self.m = client, members
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dashboard")
        self.last: Snapshot | None = None

    def anchor(self, streaming: bool) -> dt.datetime:
        """'Now' for a live namespace; else the newest day in the data (historical demo)."""
        if streaming:
            return dt.datetime.now()
        try:
            r = self.client.query(
                {
                    "namespace": self.m.namespace,
                    "metrics": [self.m.probe_metric],
                    "dimensions": [self.m.time],
                    "grain": "minute",
                    "order": [f"-{self.m.time}"],
                    "limit": 1,
                }
            )
            value = (r.get("records") or [{}])[0].get(self.m.time)
            if value:
                return pd.Timestamp(value).to_pydatetime().replace(tzinfo=None)
        except Exception:  # noqa: BLE001, S110  fall back to now
            pass
        return dt.datetime.now()

    def fetch(
        self,
        window: Window,
        drill: Drill,
        extra: dict | None = None,
        only: tuple[str, ...] | None = None,
        given: Snapshot | None = None,
    ) -> Snapshot:
        """One complete snapshot (or the panels in ``only``; the panels ``given`` already has
        are taken from it).  A failing panel keeps its previous data and gets an error text;
        if nothing at all could be fetched the previous snapshot stays as it is."""
        queries = {**build_queries(self.m, window, drill), **(extra or {})}
        if only is not None:
            queries = {k: q for k, q in queries.items() if k in only}
        if given is not None:
            queries = {k: q for k, q in queries.items() if k not in given.frames}
        futures = {k: self.pool.submit(self.client.query, q) for k, q in queries.items()}
        snap = Snapshot(window=window, drill=drill, fetched_at=dt.datetime.now())
        if given is not None:
            snap.frames.update(given.frames)
            snap.meta.update(given.meta)
            snap.sql.update(given.sql)
            snap.freshness = given.freshness
        for key, fut in futures.items():
            try:
                result = fut.result()
            except Exception as exc:  # noqa: BLE001  shown as words next to the panel
                snap.errors[key] = str(exc)
                if self.last is not None and key in self.last.frames:
                    snap.frames[key] = self.last.frames[key]
                    snap.meta[key] = self.last.meta.get(key, {})
                continue
            snap.frames[key] = to_frame(result)
            snap.meta[key] = result.get("meta") or {}
            snap.sql[key] = result.get("sql", "")
            snap.freshness = result.get("freshness") or snap.freshness
        if queries and len(snap.errors) == len(queries) and self.last is not None:
            stale = self.last
            stale.errors = snap.errors
            return stale
        if only is None:
            self.last = snap
        return snap

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def kpi_values(snap: Snapshot, m: Members) -> list[dict]:
    """[{name, label, value, previous, delta_pct, format}] for the KPI cards."""
    cur, prev = snap.frames.get("kpi"), snap.frames.get("kpi_previous")
    out = []
    for name in m.kpis:
        info = snap.meta.get("kpi", {}).get(name, {})
        v = _first(cur, name)
        p = _first(prev, name)
        delta = None if v is None or not p else (v - p) / abs(p) * 100
        out.append(
            {
                "name": name,
                "label": info.get("label") or name.replace("_", " ").title(),
                "value": v,
                "previous": p,
                "delta_pct": delta,
                "format": info.get("format"),
                "unit": info.get("unit"),
            }
        )
    return out


def _first(df: pd.DataFrame | None, col: str) -> float | None:
    if df is None or df.empty or col not in df.columns:
        return None
    v = df[col].iloc[0]
    return None if pd.isna(v) else float(v)


def tidy(snap: Snapshot) -> pd.DataFrame:
    """Everything on screen in one long table: panel, dimensions..., metric, value."""
    parts = []
    for key, df in snap.frames.items():
        if df is None or df.empty:
            continue
        meta = snap.meta.get(key, {})
        metrics = [
            c for c in df.columns if meta.get(c, {}).get("kind") in ("metric", "measure")
        ] or [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
        dims = [c for c in df.columns if c not in metrics]
        long = df.melt(id_vars=dims, value_vars=metrics, var_name="metric", value_name="value")
        long.insert(0, "panel", key)
        parts.append(long)
    return (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["panel", "metric", "value"])
    )

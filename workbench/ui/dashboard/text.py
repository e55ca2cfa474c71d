"""The dashboard's words: KPI cards, the freshness line, numbers and chart summaries.

Plain functions from data to HTML text (no Panel here), shared by the live page and by the
server-rendered first paint (dashboard.page), so both show the same cards.
"""

from __future__ import annotations

import datetime as dt
import html

from workbench.ui.dashboard.data import Snapshot


def format_number(v, fmt: str | None = None, unit: str | None = None) -> str:
    if v is None:
        return "–"
    if fmt == "percent":
        return f"{v:.1%}"
    text = (
        f"{v:,.0f}"
        if abs(v) >= 1000 or fmt in ("integer", "number") and v == int(v)
        else f"{v:,.2f}"
    )
    return f"{text} {unit}" if unit and fmt == "currency" else text


def kpi_cards(kpis: list[dict]) -> str:
    cards = []
    for k in kpis:
        d = k["delta_pct"]
        if d is None:
            delta = "<span>no previous period data</span>"
        else:
            arrow, word = ("▲", "up") if d > 0 else ("▼", "down") if d < 0 else ("■", "flat")
            delta = (
                f"<span><span aria-hidden='true'>{arrow}</span> {word} {abs(d):.1f}% "
                f"vs previous period</span>"
            )
        cards.append(
            f"<div class='wb-kpi' role='group' aria-label='{html.escape(k['label'])}' "
            f"data-metric='{html.escape(k['name'])}' style='flex:1 1 180px;border:1px solid "
            f"#d0d0d0;border-radius:6px;padding:8px 12px;background:#fff'>"
            f"<div style='font-weight:600'>{html.escape(k['label'])}</div>"
            f"<div class='wb-kpi-value' elementtiming='wb-kpi' "
            f"style='font-size:1.8em;font-weight:700'>"
            f"{html.escape(format_number(k['value'], k['format'], k['unit']))}</div>"
            f"<div style='color:#4d4d4d;font-size:0.9em'>{delta}</div></div>"
        )
    return (
        "<section aria-label='Key figures' style='display:flex;flex-wrap:wrap;gap:12px'>"
        + "".join(cards)
        + "</section>"
    )


def freshness_line(snap: Snapshot, freshness: dict | None = None) -> str:
    """How old the data on screen is and whether the stream runs; ``freshness`` is newer
    pipeline state than the snapshot's (the version probe between refreshes)."""
    fresh = freshness or snap.freshness or {}
    now = dt.datetime.now(dt.UTC)
    parts = []
    last = fresh.get("last_commit")
    if last:
        try:
            t = dt.datetime.fromisoformat(str(last))
            t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
            age = max(0.0, (now - t).total_seconds())
            parts.append(f"Data as of {t.astimezone():%H:%M:%S} ({age_text(age)} old)")
        except ValueError:
            parts.append(f"Data as of {last}")
    elif snap.fetched_at:
        parts.append(f"Data fetched at {snap.fetched_at:%H:%M:%S}")
    parts.append(
        "stream running"
        if fresh.get("streaming")
        else "stream stopped: showing the last committed data"
    )
    parts.extend(pipeline_health(fresh))
    if snap.errors:
        lost = any(isinstance(e, str) and "not reachable" in e for e in snap.errors.values())
        first = next(iter(snap.errors.values()))
        parts.append(
            "server unreachable: showing the last data received"
            if lost
            else f"some panels failed: {first}"
        )
    return (
        f"<p role='status' aria-live='polite' class='wb-freshness' style='margin:0.2em 0'>"
        f"{html.escape(' · '.join(parts))}</p>"
    )


def pipeline_health(fresh: dict) -> list[str]:
    """The running pipelines' own figures (server freshness entries): events/s, lag, p99
    latency from source commit to gold, and dead letters (named, so a bad event is noticed)."""
    out = []
    for name, p in sorted((fresh.get("pipelines") or {}).items()):
        if not p.get("running"):
            continue
        bits = []
        if p.get("events_per_s") is not None:
            bits.append(f"{float(p['events_per_s']):,.0f} events/s")
        if p.get("lag_events") is not None:
            bits.append(f"lag {int(p['lag_events']):,} events")
        elif p.get("lag_s") is not None:
            bits.append(f"lag {float(p['lag_s']):.1f} s")
        if p.get("latency_p99_s") is not None:
            bits.append(f"p99 latency {float(p['latency_p99_s']):.2f} s")
        if p.get("dead_letters") is not None:
            n = int(p["dead_letters"])
            bits.append(f"{n:,} dead letter{'s' if n != 1 else ''}")
        if bits:
            out.append(f"{name}: " + ", ".join(bits))
    return out


def age_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def describe_series(time: str, metric: str):
    def d(df):
        if metric not in df.columns or df.empty:
            return ""
        s = df.sort_values(time)
        return (
            f"{metric} from {s[time].iloc[0]} to {s[time].iloc[-1]}: last value "
            f"{format_number(float(s[metric].iloc[-1]))}, peak {format_number(float(s[metric].max()))}."
        )

    return d


def describe_top(dim: str | None, metric: str):
    def d(df):
        if not dim or dim not in df.columns or metric not in df.columns or df.empty:
            return ""
        top = df.groupby(dim)[metric].sum().sort_values(ascending=False).head(3)
        return (
            f"Top {dim}: "
            + ", ".join(f"{k} {format_number(float(v))}" for k, v in top.items())
            + "."
        )

    return d

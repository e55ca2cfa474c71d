"""The audit API's answers as people read them: the table's rows, an entry's details, the chain
banner's sentence, the per-hour chart's frame and its summary, and the CSV download."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

TABLE_COLUMNS = ["#", "Time (UTC)", "User", "Action", "Resource", "Outcome"]
CSV_COLUMNS = ["seq", "time", "user", "roles", "action", "resource", "outcome", "source", "details"]
# Outcomes as words and a symbol, so colour is never the only signal.
OUTCOME_WORDS = {
    "success": "✓ success",
    "failure": "✗ failure",
    "denied": "⛔ denied",
    "unknown": "? unknown",
}


def parse_time(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def readable_time(text: str) -> str:
    """``2026-12-03T07:21:05.123456Z`` as "3 Dec 2026, 07:21:05"."""
    when = parse_time(text)
    if when is None:
        return str(text)
    return f"{when.day} {when:%b %Y, %H:%M:%S}"


def table_frame(entries: Iterable[dict[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "#": e["seq"],
            "Time (UTC)": readable_time(e["time"]),
            "User": e.get("user") or "—",
            "Action": e["action"],
            "Resource": e.get("resource") or "—",
            "Outcome": OUTCOME_WORDS.get(e["outcome"], e["outcome"]),
        }
        for e in entries
    ]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def entry_label(e: dict[str, Any]) -> str:
    return f"#{e['seq']} · {readable_time(e['time'])} · {e['action']} · {e.get('user') or '—'}"


def details_html(e: dict[str, Any] | None) -> str:
    """One entry in full, as a definition list and its details as indented JSON."""
    if e is None:
        return "<p>Choose an entry to see everything it records.</p>"
    fields = [
        ("Entry", f"#{e['seq']}"),
        ("Time", f"{readable_time(e['time'])} UTC ({e['time']})"),
        ("User", e.get("user") or "—"),
        ("Roles", ", ".join(e.get("roles") or []) or "—"),
        ("Action", e["action"]),
        ("Resource", e.get("resource") or "—"),
        ("Outcome", OUTCOME_WORDS.get(e["outcome"], e["outcome"])),
        ("Source", e.get("source") or "—"),
    ]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(str(v))}</dd>" for k, v in fields)
    details = json.dumps(e.get("details") or {}, indent=2, sort_keys=True, ensure_ascii=False)
    return (
        f"<dl class='wb-audit-entry'>{items}</dl><h3 style='font-size:1rem'>Details</h3>"
        f"<pre tabindex='0' aria-label='Details of entry {e['seq']}' style='white-space:"
        f"pre-wrap;overflow-wrap:anywhere;margin:0'>{html.escape(details)}</pre>"
    )


def chain_banner(chain: dict[str, Any] | None) -> tuple[str, str]:
    """(kind, sentence) for the chain banner: kind is ok | broken | unknown."""
    if not chain:
        return "unknown", "The chain has not been verified yet."
    if chain.get("ok") is True:
        n = chain.get("entries") or 0
        signed = chain.get("signed_up_to")
        tail = f", signed up to entry {signed}" if signed else ""
        return "ok", f"✓ Chain verified: {n} entr{'y' if n == 1 else 'ies'} intact{tail}."
    if chain.get("ok") is False:
        first = chain.get("broken_at")
        where = f" at entry {first}" if first is not None else ""
        problem = (chain.get("problems") or [""])[0]
        return "broken", f"✗ Chain broken{where}: {problem}".rstrip(": ") + "."
    return "unknown", f"? {chain.get('summary') or 'The chain could not be verified.'}"


def hourly_frame(hourly: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Events per hour and action family, every hour between the first and last one present
    (hours without events count 0, so a line does not bridge them)."""
    df = pd.DataFrame(list(hourly), columns=["hour", "action", "count"])
    if df.empty:
        return pd.DataFrame(columns=["hour", "action", "events"])
    df["hour"] = pd.to_datetime(df["hour"].str.replace("Z", "", regex=False))
    wide = df.pivot_table(
        index="hour", columns="action", values="count", aggfunc="sum", fill_value=0
    )
    hours = pd.date_range(wide.index.min(), wide.index.max(), freq="h")
    wide = wide.reindex(hours, fill_value=0)
    wide.index.name = "hour"
    long = wide.reset_index().melt(id_vars="hour", var_name="action", value_name="events")
    return long.sort_values(["hour", "action"]).reset_index(drop=True)


def hourly_summary(df: pd.DataFrame) -> str:
    """The chart's text alternative: each action family's events and its busiest hour."""
    if df.empty:
        return "No events to chart."
    parts = []
    for action, g in df.groupby("action", sort=True):
        peak = g.loc[g["events"].idxmax()]
        parts.append(
            f"{action} {int(g['events'].sum())} "
            f"(busiest {peak['hour']:%d %b %H:00}, {int(peak['events'])})"
        )
    first, last = df["hour"].min(), df["hour"].max()
    return (
        f"Events per hour by action, {first:%d %b %Y %H:00} to {last:%d %b %Y %H:00} UTC: "
        + "; ".join(parts)
        + "."
    )


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: the log holds what people typed (a user name tried
    at log-in), and a cell starting like a formula would run as one (CSV injection, OWASP)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(entries: Iterable[dict[str, Any]]) -> bytes:
    """The entries as CSV, one row each; roles joined by spaces, details as JSON."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        row = [
            e["seq"],
            e["time"],
            e.get("user") or "",
            " ".join(e.get("roles") or []),
            e["action"],
            e.get("resource") or "",
            e["outcome"],
            e.get("source") or "",
            json.dumps(e.get("details") or {}, sort_keys=True, ensure_ascii=False),
        ]
        writer.writerow([cell(v) for v in row])
    return out.getvalue().encode("utf-8")

"""What the engine hands back: the answer (or a clarification, or an honest 'cannot'), the
resolved query as tokens a person can read, the diff against the previous turn, and a sentence
with the numbers formatted as people read them in their language."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

LOCALES = {"en": "en_GB", "de": "de_DE", "es": "es_ES"}
_GRAIN_WORDS = {"en": "by", "de": "nach", "es": "por"}
_PHRASES = {
    "en": {
        "rows": "rows",
        "none": "No rows match.",
        "and": "and",
        "more": "more",
        "filtered": "Rows are filtered by your access rights.",
    },
    "de": {
        "rows": "Zeilen",
        "none": "Keine Zeilen passen.",
        "and": "und",
        "more": "weitere",
        "filtered": "Die Zeilen sind nach Ihren Rechten gefiltert.",
    },
    "es": {
        "rows": "filas",
        "none": "Ninguna fila coincide.",
        "and": "y",
        "more": "más",
        "filtered": "Las filas están filtradas según sus permisos.",
    },
}


@dataclass
class Answer:
    kind: str  # answer | clarification | unanswerable
    question: str
    language: str = "en"
    frame: pd.DataFrame | None = None
    query: dict | None = None
    tokens: list[dict] = field(default_factory=list)
    diff: dict = field(default_factory=lambda: {"added": [], "removed": []})
    sentence: str = ""
    options: list[dict] = field(default_factory=list)
    nearest: list[str] = field(default_factory=list)
    confidence: float = 0.0
    notes: list[str] = field(default_factory=list)
    sql: str | None = None
    insight: Any = None
    option_partials: list = field(default_factory=list, repr=False)  # for Conversation.choose

    def __repr__(self) -> str:
        return f"<Answer {self.kind} {self.confidence:.2f}: {self.sentence[:80]!r}>"


def format_value(value: Any, fmt: str | None, unit: str | None, language: str) -> str:
    """1234567.891 -> '1,234,567.89 EUR' (en) or '1.234.567,89 EUR' (de)."""
    from babel.numbers import format_decimal, format_percent

    loc = LOCALES.get(language, "en_GB")
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "–"
    if isinstance(value, (pd.Timestamp,)):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        try:
            value = float(value)  # Decimal
        except (TypeError, ValueError):
            return str(value)
    if fmt == "percent":
        return format_percent(value, "#,##0.0%", locale=loc)
    if fmt == "integer" or (fmt is None and float(value).is_integer()):
        text = format_decimal(round(value), "#,##0", locale=loc)
    else:
        text = format_decimal(value, "#,##0.00", locale=loc)
    return f"{text} {unit}" if unit and unit != "%" else (f"{text}%" if unit == "%" else text)


def tokens_of(query: dict, labels: dict[str, dict], words: dict[str, str]) -> list[dict]:
    def label(name: str) -> str:
        info = labels.get(name) or {}
        return info.get("label") or words.get(name) or name

    out = []
    for m in query.get("metrics", []):
        out.append({"kind": "metric", "text": label(m), "member": m})
    for d in query.get("dimensions", []):
        out.append({"kind": "by", "text": label(d), "member": d})
    for f in query.get("where", []) or []:
        vals = f.get("values", [f.get("value")])
        op = {"=": "is", "!=": "is not", "in": "in", "not_in": "not in"}.get(f["op"], f["op"])
        out.append(
            {
                "kind": "filter",
                "text": f"{label(f['member'])} {op} " + ", ".join(str(v) for v in vals),
                "member": f["member"],
            }
        )
    for s in query.get("segments", []) or []:
        out.append({"kind": "filter", "text": label(s), "member": s})
    if query.get("time_range"):
        out.append(
            {
                "kind": "time_range",
                "text": words.get("@time") or query["time_range"],
                "value": query["time_range"],
            }
        )
    if query.get("time_dimension"):
        out.append(
            {
                "kind": "time_dimension",
                "text": label(query["time_dimension"]),
                "member": query["time_dimension"],
            }
        )
    if query.get("grain"):
        out.append({"kind": "grain", "text": query["grain"]})
    for o in query.get("order", []) or []:
        out.append(
            {
                "kind": "order",
                "text": ("highest first " if o.startswith("-") else "lowest first ")
                + label(o.lstrip("-")),
                "member": o.lstrip("-"),
            }
        )
    if query.get("limit") is not None:
        out.append({"kind": "limit", "text": str(query["limit"])})
    return out


def diff_tokens(before: list[dict], after: list[dict]) -> dict:
    def key(t):
        return (t["kind"], t["text"], t.get("member"))

    b, a = {key(t) for t in before}, {key(t) for t in after}
    return {
        "added": [t for t in after if key(t) not in b],
        "removed": [t for t in before if key(t) not in a],
    }


def sentence(
    frame: pd.DataFrame, query: dict, labels: dict[str, dict], language: str, words: dict[str, str]
) -> str:
    ph = _PHRASES.get(language, _PHRASES["en"])
    if frame is None or frame.empty:
        return ph["none"]
    metrics = [m for m in query.get("metrics", []) if m in frame.columns]
    dims = [d for d in query.get("dimensions", []) if d in frame.columns]

    def fmt(col, v):
        info = labels.get(col) or {}
        return format_value(v, info.get("format"), info.get("unit"), language)

    def label(col):
        return (labels.get(col) or {}).get("label") or words.get(col) or col

    when = f" ({words['@time']})" if words.get("@time") else ""
    if not metrics:
        rows = [", ".join(fmt(c, r[c]) for c in frame.columns) for _, r in frame.head(5).iterrows()]
        more = f"; … {len(frame) - 5} {ph['more']}" if len(frame) > 5 else ""
        return f"{len(frame)} {ph['rows']}: " + "; ".join(rows) + more + "."
    if len(frame) == 1 and not dims:
        parts = [f"{label(m)}{when}: {fmt(m, frame[m].iloc[0])}" for m in metrics]
        return "; ".join(parts) + "."
    m = metrics[0]
    items = []
    for _, r in frame.head(6).iterrows():
        key = " / ".join(fmt(d, r[d]) if not isinstance(r[d], str) else r[d] for d in dims)
        items.append(f"{key} {fmt(m, r[m])}")
    more = f", … ({len(frame)} {ph['rows']})" if len(frame) > 6 else ""
    by = " / ".join(label(d) for d in dims)
    return (
        f"{label(m)}{when} {_GRAIN_WORDS.get(language, 'by')} {by}: "
        + ", ".join(items)
        + more
        + "."
    )

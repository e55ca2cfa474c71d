"""Profile a table and propose a suite; a person reviews, edits and accepts it.

``propose_suite`` writes ``pipelines/quality/proposals/<table>.yml`` with ``status: proposed``
(``validate`` refuses to run it). ``accept_proposal`` records who accepted it, applies their
edits (drop checks, change bounds) and moves it to ``pipelines/quality/<table>.yml``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from ruamel.yaml import YAML

from .ge_runtime import open_duckdb

FORMATS = {  # name -> regex (DuckDB regexp_full_match and GE's match_regex agree on these)
    "email": r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$",
    "iso_date": r"^\d{4}-\d{2}-\d{2}$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "sku": r"^[A-Z]{2,4}-\d{3,6}$",
}
_NUM = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "DOUBLE",
    "FLOAT",
    "DECIMAL",
    "REAL",
    "UBIGINT",
    "UINTEGER",
)


def _q(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def profile_table(warehouse: str | Path, table: str, max_set: int = 20) -> list[dict]:
    """Per column: type, null rate, distinct count, min/max, small value sets, format matches."""
    con = open_duckdb(warehouse, read_only=True)
    try:
        n = con.execute(f"SELECT count(*) FROM {_q(table)}").fetchone()[0]
        cols = con.execute(f"DESCRIBE {_q(table)}").fetchall()
        out = []
        for name, typ, *_ in cols:
            c = _q(name)
            nulls, distinct, lo, hi = con.execute(
                f"SELECT count(*) - count({c}), count(DISTINCT {c}), min({c}), max({c}) FROM {_q(table)}"
            ).fetchone()
            p = {
                "column": name,
                "type": typ,
                "rows": n,
                "null_rate": nulls / n if n else 0.0,
                "distinct": distinct,
                "unique": n > 0 and distinct == n and nulls == 0,
                "min": lo,
                "max": hi,
                "values": None,
                "format": None,
            }
            if typ.upper().startswith("VARCHAR"):
                if distinct <= max_set:
                    p["values"] = sorted(
                        r[0]
                        for r in con.execute(
                            f"SELECT DISTINCT {c} FROM {_q(table)} WHERE {c} IS NOT NULL"
                        ).fetchall()
                    )
                else:
                    for fmt, rx in FORMATS.items():
                        share = con.execute(
                            f"SELECT avg(CASE WHEN regexp_full_match({c}, ?) THEN 1.0 ELSE 0 END) "
                            f"FROM {_q(table)} WHERE {c} IS NOT NULL",
                            [rx],
                        ).fetchone()[0]
                        if share is not None and share >= 0.99:
                            p["format"] = fmt
                            break
            out.append(p)
        return out
    finally:
        con.close()


def _num(v):
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return int(f) if f.is_integer() else round(f, 4)


def propose_suite(
    warehouse: str | Path,
    table: str,
    key: list[str] | None = None,
    out_dir: str | Path = "pipelines/quality/proposals",
    margin: float = 0.1,
) -> Path:
    """Profile ``table`` and write a proposed suite for review. Bounds get ``margin`` slack."""
    prof = profile_table(warehouse, table)
    if key is None:
        uniq = [p["column"] for p in prof if p["unique"]]
        key = uniq[:1] or [prof[0]["column"]]
    checks = []
    for p in prof:
        col, typ = p["column"], p["type"].upper()
        base = re.sub(r"[^A-Za-z0-9_]", "_", col)
        if p["null_rate"] == 0:
            checks.append(
                {
                    "name": f"{base}_present",
                    "expect": "expect_column_values_to_not_be_null",
                    "column": col,
                    "dimension": "completeness",
                }
            )
        elif p["null_rate"] < 0.5:
            checks.append(
                {
                    "name": f"{base}_mostly_present",
                    "expect": "expect_column_values_to_not_be_null",
                    "column": col,
                    "mostly": round(max(0.0, 1 - p["null_rate"] * (1 + margin) - 0.001), 4),
                    "dimension": "completeness",
                    "description": f"profiled null rate {p['null_rate']:.2%}",
                }
            )
        if p["unique"] and (col in key or p["distinct"] > 1):
            checks.append(
                {
                    "name": f"{base}_unique",
                    "expect": "expect_column_values_to_be_unique",
                    "column": col,
                    "dimension": "uniqueness",
                }
            )
        if typ.startswith(_NUM) and p["min"] is not None:
            lo, hi = _num(p["min"]), _num(p["max"])
            span = (hi - lo) if hi is not None and lo is not None else 0
            slack = span * margin
            lo_b = lo - slack if not (lo >= 0 and lo - slack < 0) else 0
            checks.append(
                {
                    "name": f"{base}_in_range",
                    "expect": "expect_column_values_to_be_between",
                    "column": col,
                    "min_value": _num(lo_b),
                    "max_value": _num(hi + slack),
                    "dimension": "validity",
                    "description": f"profiled range {lo} .. {hi}",
                }
            )
        if p["values"] is not None and 0 < len(p["values"]) <= 20:
            checks.append(
                {
                    "name": f"{base}_known",
                    "expect": "expect_column_values_to_be_in_set",
                    "column": col,
                    "value_set": p["values"],
                    "dimension": "validity",
                }
            )
        if p["format"]:
            checks.append(
                {
                    "name": f"{base}_is_{p['format']}",
                    "expect": "expect_column_values_to_match_regex",
                    "column": col,
                    "regex": FORMATS[p["format"]],
                    "dimension": "validity",
                }
            )
    doc = {
        "suite": table,
        "status": "proposed",
        "description": f"Proposed from a profile of {table} on {dt.date.today().isoformat()}; "
        "review, edit and accept with workbench.quality.accept_proposal.",
        "target": {"table": table},
        "key": list(key),
        "checks": checks,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{table}.yml"
    y = YAML()
    y.default_flow_style = None
    with path.open("w") as f:
        y.dump(doc, f)
    return path


def accept_proposal(
    path: str | Path,
    reviewer: str,
    *,
    drop: list[str] | None = None,
    edits: dict[str, dict] | None = None,
    suites_dir: str | Path = "pipelines/quality",
) -> Path:
    """Accept a reviewed proposal: drop checks, apply edits ({check: {key: value}}), record the
    reviewer, and move it into the suites folder. The result is validated before it is written."""
    from .suite_spec import load_suite

    path = Path(path)
    y = YAML()
    doc = y.load(path.read_text())
    if doc.get("status") != "proposed":
        raise ValueError(f"{path} is not a proposal (status: {doc.get('status')})")
    dropped = set(drop or [])
    unknown = (dropped | set(edits or {})) - {c["name"] for c in doc["checks"]}
    if unknown:
        raise ValueError(f"no such checks in {path}: {', '.join(sorted(unknown))}")
    doc["checks"] = [c for c in doc["checks"] if c["name"] not in dropped]
    for c in doc["checks"]:
        c.update((edits or {}).get(c["name"], {}))
    doc["status"] = "active"
    doc["reviewed_by"] = reviewer
    doc["reviewed_at"] = dt.datetime.now().isoformat(timespec="seconds")
    dst = Path(suites_dir) / path.name
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".tmp")
    with tmp.open("w") as f:
        y.dump(doc, f)
    tmp_yml = tmp.with_name(tmp.stem + ".check.yml")
    tmp.replace(tmp_yml)
    try:
        load_suite(tmp_yml)  # names the file, line and field of anything invalid
    except Exception:
        tmp_yml.unlink(missing_ok=True)
        raise
    tmp_yml.replace(dst)
    path.unlink()
    return dst

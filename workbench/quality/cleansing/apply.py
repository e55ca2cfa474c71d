"""Apply the active cleansing rules of a table: source table -> cleansed table + lineage.

    from workbench.quality.cleansing import apply_rules, load_rules
    result = apply_rules(con, load_rules("pipelines/cleansing/customers.yml"), principal=me)

Each run rebuilds ``<output>`` from the source in one transaction: copy, then every *active*
rule version in file order, each recording what it changed in ``cleansing_lineage`` (see
:mod:`workbench.quality.lineage`). A failing rule rolls the whole run back, so the cleansed table
is never left half-cleansed. Rules that are not active (proposed, approved, retired, rejected
or never proposed) are skipped and listed in the result.

SQL is assembled from quoted identifiers (sqlglot) and bound parameters; no value or pattern from
a rules file is pasted into SQL text.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from ...security.principal import Principal
from ...semantic.errors import SemanticError
from ..lineage import ensure_tables, lit, q, rowkey_sql, sql_type
from . import approval
from .rules import (
    Deduplicate,
    FillDefault,
    FixType,
    MapValues,
    RegexReplace,
    RuleSet,
    StandardiseCase,
    Trim,
    rule_adapter,
)


class CleansingError(SemanticError):
    """A run that cannot be done correctly (duplicate keys, values that do not convert)."""


@dataclass
class RunResult:
    run_id: str
    table: str
    output: str
    applied: list[dict] = field(default_factory=list)  # rule, version, cells, rows_removed
    skipped: list[dict] = field(default_factory=list)  # rule, version, status
    rows_in: int = 0
    rows_out: int = 0

    def __str__(self) -> str:
        done = (
            ", ".join(
                f"{a['rule']} v{a['version']} ({a['cells']} cells, {a['rows_removed']} rows removed)"
                for a in self.applied
            )
            or "none"
        )
        skip = ", ".join(f"{s['rule']} ({s['status']})" for s in self.skipped)
        return (
            f"run {self.run_id}: {self.table} -> {self.output}, {self.rows_in} -> {self.rows_out} rows; "
            f"applied: {done}" + (f"; skipped: {skip}" if skip else "")
        )


def _columns(con: Any, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise CleansingError(f"Table '{table}' does not exist in the warehouse.")
    return dict(rows)


def _title(col: str) -> str:
    # DuckDB has no initcap: capitalise each space-separated word.
    return (
        f"array_to_string(list_transform(string_split(lower({col}), ' '), "
        f"lambda w: upper(w[1]) || w[2:]), ' ')"
    )


def _expressions(rule, col: str, ctype: str, params: dict) -> str:
    """SQL for the new value of column ``col`` under ``rule``; values go into ``params``."""
    c = q(col)
    if isinstance(rule, Trim):
        return f"trim({c})"
    if isinstance(rule, StandardiseCase):
        return {"upper": f"upper({c})", "lower": f"lower({c})", "title": _title(c)}[rule.case]
    if isinstance(rule, RegexReplace):
        params["pattern"], params["replacement"] = rule.pattern, rule.replacement
        return f"regexp_replace({c}, $pattern, $replacement, 'g')"
    if isinstance(rule, MapValues):
        whens = []
        for i, (old, new) in enumerate(rule.mapping.items()):
            params[f"from{i}"], params[f"to{i}"] = str(old), None if new is None else str(new)
            probe = (
                f"lower(CAST({c} AS VARCHAR)) = lower($from{i})"
                if rule.ignore_case
                else f"CAST({c} AS VARCHAR) = $from{i}"
            )
            whens.append(f"WHEN {probe} THEN CAST($to{i} AS {sql_type(ctype)})")
        return f"CASE {' '.join(whens)} ELSE {c} END"
    if isinstance(rule, FillDefault):
        params["default"] = None if rule.value is None else str(rule.value)
        missing = f"{c} IS NULL"
        if rule.blank_as_missing and ctype == "VARCHAR":
            missing += f" OR trim({c}) = ''"
        return f"CASE WHEN {missing} THEN CAST($default AS {sql_type(ctype)}) ELSE {c} END"
    raise TypeError(f"no cell expression for {rule.action}")


class _Run:
    def __init__(self, con, rs: RuleSet, run_id: str, at: dt.datetime):
        self.con, self.rs, self.run_id, self.at = con, rs, run_id, at
        self.out, self.key = rs.output, rs.key
        self.rk = rowkey_sql(rs.key)

    def _lineage_insert(self, seq, rule, select_sql: str, params: dict) -> int:
        base = {
            "run": self.run_id,
            "seq": seq,
            "tbl": self.out,
            "src": self.rs.table,
            "rule": rule.name,
            "ver": rule.version,
            "at": self.at,
        }
        return self.con.execute(
            "INSERT INTO cleansing_lineage (run_id, seq, table_name, source_table, rule_name, rule_version, "
            "action, row_key, column_name, old_value, new_value, note, applied_at) "
            f"SELECT $run, $seq, $tbl, $src, $rule, $ver, action, row_key, column_name, old_value, "
            f"new_value, note, $at FROM ({select_sql})",
            {**base, **params},
        ).fetchone()[0]

    def cell_rule(self, seq, rule, cols: dict[str, str]) -> int:
        cells = 0
        for col in rule.targets():
            params: dict = {}
            new = _expressions(rule, col, cols[col], params)
            changed = f"({new}) IS DISTINCT FROM {q(col)}"
            params["col"] = col
            cells += self._lineage_insert(
                seq,
                rule,
                (
                    f"SELECT 'update' AS action, {self.rk} AS row_key, $col AS column_name, "
                    f"CAST({q(col)} AS VARCHAR) AS old_value, CAST({new} AS VARCHAR) AS new_value, "
                    f"NULL AS note FROM {q(self.out)} WHERE {changed}"
                ),
                params,
            )
            self.con.execute(
                f"UPDATE {q(self.out)} SET {q(col)} = {new} WHERE {changed}",
                {k: v for k, v in params.items() if k != "col"},
            )
        return cells

    def fix_type(self, seq, rule: FixType, cols: dict[str, str]) -> int:
        col, old, new_t = rule.column, cols[rule.column], sql_type(rule.type)
        c = q(col)
        conv = f"CAST({c} AS {new_t})" if rule.on_error == "fail" else f"TRY_CAST({c} AS {new_t})"
        bad = self.con.execute(
            f"SELECT DISTINCT CAST({c} AS VARCHAR) FROM {q(self.out)} WHERE {c} IS NOT NULL "
            f"AND TRY_CAST({c} AS {new_t}) IS NULL LIMIT 5"
        ).fetchall()
        if bad and rule.on_error == "fail":
            i = self.rs.rules.index(rule)
            raise self.rs.error(
                f"rule '{rule.name}': values of '{col}' do not convert to {rule.type}, "
                f"e.g. {', '.join(repr(b[0]) for b in bad)}; fix them with an earlier "
                "rule, or set on_error: null. Nothing was written.",
                i,
                "type",
            )
        if old == rule.type:
            return 0
        # Cells whose text form changes (' 42' -> 42) are recorded; the others come back exactly
        # from converting the column back to its old type.
        roundtrip = f"CAST({conv} AS {sql_type(old)}) IS DISTINCT FROM {c}"
        n = self._lineage_insert(
            seq,
            rule,
            (
                f"SELECT 'update' AS action, {self.rk} AS row_key, $col AS column_name, "
                f"CAST({c} AS VARCHAR) AS old_value, CAST({conv} AS VARCHAR) AS new_value, NULL AS note "
                f"FROM {q(self.out)} WHERE {roundtrip} "
                "UNION ALL SELECT 'retype', NULL, $col, $old, $new, NULL"
            ),
            {"col": col, "old": old, "new": rule.type},
        )
        self.con.execute(
            f"ALTER TABLE {q(self.out)} ALTER COLUMN {c} SET DATA TYPE {new_t} USING {conv}"
        )
        cols[col] = rule.type
        return n - 1

    def deduplicate(self, seq, rule: Deduplicate, cols: dict[str, str]) -> int:
        part = ", ".join(
            f"lower(trim(CAST({q(b)} AS VARCHAR)))" if rule.ignore_case else q(b) for b in rule.by
        )
        direction = "DESC" if rule.survivor.keep in ("latest", "largest") else "ASC"
        order = f"{q(rule.survivor.by)} {direction} NULLS LAST, " + ", ".join(
            f"{q(k)} ASC" for k in self.key
        )
        present = " AND ".join(f"{q(b)} IS NOT NULL" for b in rule.by)
        self.con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _wb_dedup AS
            SELECT {self.rk} AS row_key, first_value({self.rk}) OVER w AS survivor, row_number() OVER w AS rn
            FROM {q(self.out)} WHERE {present}
            WINDOW w AS (PARTITION BY {part} ORDER BY {order})""")
        removed = self.con.execute("SELECT count(*) FROM _wb_dedup WHERE rn > 1").fetchone()[0]
        if removed:
            # One lineage row per column of each removed row: the whole row can be put back.
            per_col = " UNION ALL ".join(
                f"SELECT 'delete' AS action, d.row_key, {lit(c)} AS column_name, "
                f"CAST(t.{q(c)} AS VARCHAR) AS old_value, NULL AS new_value, d.survivor AS note "
                f"FROM {q(self.out)} t JOIN _wb_dedup d ON {rowkey_sql(self.key, 't')} = d.row_key "
                f"WHERE d.rn > 1"
                for c in cols
            )
            self._lineage_insert(seq, rule, per_col, {})
            self.con.execute(
                f"DELETE FROM {q(self.out)} WHERE {self.rk} IN "
                "(SELECT row_key FROM _wb_dedup WHERE rn > 1)"
            )
        self.con.execute("DROP TABLE IF EXISTS _wb_dedup")
        return removed


def _check_key(con, rs: RuleSet) -> None:
    keys = ", ".join(q(k) for k in rs.key)
    nulls = " OR ".join(f"{q(k)} IS NULL" for k in rs.key)
    dup, null = con.execute(
        f"SELECT (SELECT count(*) FROM (SELECT {keys} FROM {q(rs.table)} GROUP BY ALL HAVING count(*) > 1)), "
        f"(SELECT count(*) FROM {q(rs.table)} WHERE {nulls})"
    ).fetchone()
    if dup or null:
        what = f"{dup} duplicated key value(s)" if dup else f"{null} row(s) with a NULL key"
        raise rs.source.error(
            f"key ({', '.join(rs.key)}) does not identify rows of '{rs.table}': {what}. "
            "Lineage needs a unique key; declare one that is (add a sequence "
            "column if the source repeats keys).",
            ("key",),
        )


def rules_to_apply(con: Any, rs: RuleSet) -> tuple[list, list[dict]]:
    """(rules to apply, in file order, as approved; skipped rules with their state). The
    definition applied is the one stored when the version was approved, so an edit to the
    file never changes what runs without a new approval."""
    active = approval.active_versions(con, rs.table)
    states = {
        (r["rule_name"], r["rule_version"]): r["status"]
        for r in approval.statuses(con, rs.table).to_dict("records")
    }
    todo, skipped = [], []
    for r in rs.rules:
        if r.name in active:
            ver, digest = active[r.name]
            if ver == r.version and digest != r.spec_hash:
                raise rs.error(
                    f"rule '{r.name}' v{ver} was edited after it was approved; bump its "
                    "version and have the new version approved",
                    rs.rules.index(r),
                    "version",
                )
            stored = con.execute(
                "SELECT spec_json FROM cleansing_rules WHERE table_name = ? AND "
                "rule_name = ? AND rule_version = ?",
                [rs.table, r.name, ver],
            ).fetchone()[0]
            todo.append(rule_adapter.validate_python(json.loads(stored)) if ver != r.version else r)
            if ver != r.version:
                skipped.append(
                    {
                        "rule": r.name,
                        "version": r.version,
                        "status": f"{states.get((r.name, r.version), 'not proposed')}; v{ver} applied",
                    }
                )
        else:
            skipped.append(
                {
                    "rule": r.name,
                    "version": r.version,
                    "status": states.get((r.name, r.version), "not proposed"),
                }
            )
    return todo, skipped


def apply_rules(
    con: Any, rs: RuleSet, principal: Principal | None = None, run_id: str | None = None
) -> RunResult:
    """Rebuild ``rs.output`` from ``rs.table`` with the active rules; record lineage."""
    approval.ensure_tables(con)
    ensure_tables(con)
    cols = _columns(con, rs.table)
    rs.check_columns(cols)
    _check_key(con, rs)
    todo, skipped = rules_to_apply(con, rs)
    at = approval.now()
    run_id = run_id or f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    res = RunResult(run_id, rs.table, rs.output, skipped=skipped)
    run = _Run(con, rs, run_id, at)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE {q(rs.output)} AS SELECT * FROM {q(rs.table)}")
        res.rows_in = con.execute(f"SELECT count(*) FROM {q(rs.output)}").fetchone()[0]
        for seq, rule in enumerate(todo, start=1):
            cells = removed = 0
            if isinstance(rule, Deduplicate):
                removed = run.deduplicate(seq, rule, cols)
            elif isinstance(rule, FixType):
                cells = run.fix_type(seq, rule, cols)
            else:
                cells = run.cell_rule(seq, rule, cols)
            res.applied.append(
                {
                    "rule": rule.name,
                    "version": rule.version,
                    "cells": cells,
                    "rows_removed": removed,
                }
            )
        res.rows_out = con.execute(f"SELECT count(*) FROM {q(rs.output)}").fetchone()[0]
        con.execute(
            "INSERT INTO cleansing_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                rs.table,
                rs.output,
                json.dumps(rs.key),
                json.dumps([f"{a['rule']}@{a['version']}" for a in res.applied]),
                principal.user if principal else None,
                at,
                approval.now(),
                res.rows_in,
                res.rows_out,
                sum(a["cells"] for a in res.applied),
                sum(a["rows_removed"] for a in res.applied),
            ],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return res

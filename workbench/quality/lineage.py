"""Cleansing lineage: which rule version changed which rows, from what values, and undoing it.

Every change a cleansing run makes is a row of ``cleansing_lineage``:

=============  ==============================================================================
run_id         the run (``cleansing_runs``)
seq            the step in the run (rules apply in file order)
table_name     the cleansed table; ``source_table`` the table it was built from
rule_name      rule and ``rule_version``
action         ``update`` (a cell), ``delete`` (a duplicate removed: one row per column, so the
               whole row is kept) or ``retype`` (``fix_type`` changed a column's type)
row_key        the row's key as JSON, e.g. ``{"customer_id":17}``
column_name    the column; ``old_value`` / ``new_value`` as text (NULL is SQL NULL)
note           for ``delete``: the key of the surviving duplicate
applied_at     when; ``reversed_at`` / ``reversed_by`` once undone
=============  ==============================================================================

Values are stored as DuckDB's text form of the value, which converts back to the same value of
the column's type, so a reversal restores exactly what was there.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp

from ..security.principal import Principal
from ..semantic.errors import SemanticError
from .cleansing.approval import now, require_role


class LineageError(SemanticError):
    """A reversal that cannot be done exactly (the rows changed since, a later rule depends)."""


# -- SQL helpers (identifiers quoted by sqlglot; values always bound as parameters) ------------


def q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def lit(text: str) -> str:
    return exp.Literal.string(text).sql("duckdb")


def sql_type(text: str) -> str:
    return exp.DataType.build(text, dialect="duckdb").sql("duckdb")


def rowkey_sql(key: list[str], alias: str | None = None) -> str:
    """``json_object('customer_id', "customer_id")``: the row key as text, the same in the
    lineage table and on the live table, so the two can be joined."""
    pre = f"{q(alias)}." if alias else ""
    return "json_object(" + ", ".join(f"{lit(k)}, {pre}{q(k)}" for k in key) + ")"


def ensure_tables(con: Any) -> None:
    if _exists(con, "cleansing_runs"):  # also lets read-only connections list (nothing)
        return
    con.execute("""
        CREATE TABLE IF NOT EXISTS cleansing_lineage (
            run_id VARCHAR, seq INTEGER, table_name VARCHAR, source_table VARCHAR,
            rule_name VARCHAR, rule_version INTEGER, action VARCHAR, row_key VARCHAR,
            column_name VARCHAR, old_value VARCHAR, new_value VARCHAR, note VARCHAR,
            applied_at TIMESTAMP, reversed_at TIMESTAMP, reversed_by VARCHAR)""")
    con.execute("""
        CREATE TABLE IF NOT EXISTS cleansing_runs (
            run_id VARCHAR, source_table VARCHAR, table_name VARCHAR, key_json VARCHAR,
            rules VARCHAR, by_user VARCHAR, started_at TIMESTAMP, finished_at TIMESTAMP,
            rows_in BIGINT, rows_out BIGINT, cells_changed BIGINT, rows_removed BIGINT)""")


# -- queries ------------------------------------------------------------------------------------


def changes(
    con: Any,
    rule: str | None = None,
    version: int | None = None,
    *,
    table: str | None = None,
    run_id: str | None = None,
    latest: bool = True,
    include_reversed: bool = True,
    limit: int | None = None,
):
    """Lineage rows as a DataFrame. ``latest``: only each table's most recent run (the rows
    that are in the cleansed table now)."""
    ensure_tables(con)
    where = [
        "($rule IS NULL OR rule_name = $rule)",
        "($version IS NULL OR rule_version = $version)",
        "($table IS NULL OR table_name = $table)",
        "($run IS NULL OR run_id = $run)",
    ]
    if latest and run_id is None:
        where.append(
            "run_id IN (SELECT arg_max(run_id, started_at) FROM cleansing_runs GROUP BY table_name)"
        )
    if not include_reversed:
        where.append("reversed_at IS NULL")
    sql = (
        "SELECT run_id, seq, table_name, rule_name, rule_version, action, row_key, column_name, "
        "old_value, new_value, note, applied_at, reversed_at, reversed_by FROM cleansing_lineage "
        f"WHERE {' AND '.join(where)} ORDER BY run_id, seq, row_key, column_name"
    )
    if limit:
        sql += f" LIMIT {int(limit)}"
    return con.execute(sql, {"rule": rule, "version": version, "table": table, "run": run_id}).df()


def summary(con: Any, table: str | None = None):
    """Per rule version in each table's latest run: rows updated, rows removed, cells."""
    ensure_tables(con)
    return con.execute(
        """
        SELECT table_name, run_id, seq, rule_name, rule_version,
               count(DISTINCT row_key) FILTER (WHERE action = 'update') AS rows_updated,
               count(*) FILTER (WHERE action = 'update') AS cells_updated,
               count(DISTINCT row_key) FILTER (WHERE action = 'delete') AS rows_removed,
               count(*) FILTER (WHERE action = 'retype') > 0 AS retyped,
               bool_and(reversed_at IS NOT NULL) AS reversed, min(applied_at) AS applied_at
        FROM cleansing_lineage
        WHERE ($t IS NULL OR table_name = $t)
          AND run_id IN (SELECT arg_max(run_id, started_at) FROM cleansing_runs GROUP BY table_name)
        GROUP BY ALL ORDER BY table_name, seq""",
        {"t": table},
    ).df()


def runs(con: Any, table: str | None = None):
    ensure_tables(con)
    return con.execute(
        "SELECT * FROM cleansing_runs WHERE ($t IS NULL OR table_name = $t) "
        "ORDER BY started_at DESC",
        {"t": table},
    ).df()


# -- reversal -----------------------------------------------------------------------------------


def _latest_run(
    con: Any, table: str | None, rule: str | None, version: int | None
) -> tuple[str, str]:
    row = con.execute(
        """
        SELECT r.run_id, r.table_name FROM cleansing_runs r
        WHERE ($t IS NULL OR r.table_name = $t) AND EXISTS (
            SELECT 1 FROM cleansing_lineage l WHERE l.run_id = r.run_id
              AND ($rule IS NULL OR l.rule_name = $rule) AND ($v IS NULL OR l.rule_version = $v))
        ORDER BY r.started_at DESC LIMIT 1""",
        {"t": table, "rule": rule, "v": version},
    ).fetchone()
    if row is None:
        what = f"rule '{rule}'" + (f" v{version}" if version else "") if rule else "any rule"
        raise LineageError(
            f"No cleansing run changed anything with {what}"
            + (f" on '{table}'" if table else "")
            + "."
        )
    return row


def reverse(
    con: Any,
    rule: str,
    version: int | None = None,
    *,
    table: str | None = None,
    run_id: str | None = None,
    principal: Principal | None = None,
) -> dict:
    """Undo what rule ``rule`` (version ``version``) did in a run (default: the latest run that
    used it): restore the old value of every cell it changed, put back every row it removed,
    undo a type change. Exact, or not at all: refused if the cleansed table was rebuilt since,
    if a later rule of the run touched the same cells or rows (reverse that first, or use
    :func:`reverse_run`), or if the cells no longer hold the value the rule wrote."""
    user = require_role(principal, "reverse cleansing rules")
    ensure_tables(con)
    if run_id is None:
        run_id, table = _latest_run(con, table, rule, version)
    meta = con.execute(
        "SELECT table_name, key_json FROM cleansing_runs WHERE run_id = ?", [run_id]
    ).fetchone()
    if meta is None:
        raise LineageError(f"Unknown cleansing run '{run_id}'.")
    table, key_json = meta
    newest = con.execute(
        "SELECT arg_max(run_id, started_at) FROM cleansing_runs WHERE table_name = ?", [table]
    ).fetchone()[0]
    if newest != run_id:
        raise LineageError(
            f"'{table}' was rebuilt by run {newest} after run {run_id}; the rows "
            "of the older run are gone, so there is nothing to reverse in place."
        )
    steps = con.execute(
        """
        SELECT DISTINCT seq, rule_version FROM cleansing_lineage
        WHERE run_id = ? AND rule_name = ? AND (? IS NULL OR rule_version = ?) AND reversed_at IS NULL
        ORDER BY seq DESC""",
        [run_id, rule, version, version],
    ).fetchall()
    if not steps:
        raise LineageError(
            f"Rule '{rule}' has nothing left to reverse in run {run_id} "
            "(it changed nothing, or it was reversed already)."
        )
    import json

    key = json.loads(key_json)
    out = {
        "run_id": run_id,
        "table": table,
        "rule": rule,
        "cells_restored": 0,
        "rows_restored": 0,
        "columns_retyped": 0,
    }
    con.execute("BEGIN TRANSACTION")
    try:
        for seq, ver in steps:
            _check_conflicts(con, run_id, seq, table, key)
            got = _reverse_step(con, run_id, seq, table, key)
            for k in ("cells_restored", "rows_restored", "columns_retyped"):
                out[k] += got[k]
            con.execute(
                "UPDATE cleansing_lineage SET reversed_at = ?, reversed_by = ? "
                "WHERE run_id = ? AND seq = ?",
                [now(), user, run_id, seq],
            )
            out["version"] = ver
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return out


def reverse_run(con: Any, run_id: str, principal: Principal | None = None) -> list[dict]:
    """Undo a whole run, last rule first: the cleansed table returns to a copy of the source."""
    rows = con.execute(
        "SELECT DISTINCT seq, rule_name, rule_version FROM cleansing_lineage "
        "WHERE run_id = ? AND reversed_at IS NULL ORDER BY seq DESC",
        [run_id],
    ).fetchall()
    return [reverse(con, name, ver, run_id=run_id, principal=principal) for _, name, ver in rows]


def _check_conflicts(con: Any, run_id: str, seq: int, table: str, key: list[str]) -> None:
    later = con.execute(
        """
        SELECT DISTINCT b.rule_name, b.rule_version FROM cleansing_lineage a JOIN cleansing_lineage b
          ON b.run_id = a.run_id AND b.seq > a.seq AND b.reversed_at IS NULL AND (
               (b.row_key = a.row_key AND (b.column_name = a.column_name OR b.action = 'delete'))
            OR (b.action = 'retype' AND (b.column_name = a.column_name OR a.action = 'delete'))
            OR (a.action = 'retype' AND b.column_name = a.column_name))
        WHERE a.run_id = ? AND a.seq = ?""",
        [run_id, seq],
    ).fetchall()
    if later:
        names = ", ".join(f"'{n}' v{v}" for n, v in later)
        raise LineageError(
            f"A later rule of the run changed the same cells or rows: {names}. "
            "Reverse it first (or reverse the whole run)."
        )
    cols = [
        c
        for (c,) in con.execute(
            "SELECT DISTINCT column_name FROM cleansing_lineage WHERE "
            "run_id = ? AND seq = ? AND action = 'update'",
            [run_id, seq],
        ).fetchall()
    ]
    stale = 0
    for col in cols:
        stale += con.execute(
            f"""
            SELECT count(*) FROM cleansing_lineage l LEFT JOIN {q(table)} t
              ON {rowkey_sql(key, "t")} = l.row_key
            WHERE l.run_id = ? AND l.seq = ? AND l.action = 'update' AND l.column_name = ?
              AND (t.{q(key[0])} IS NULL OR CAST(t.{q(col)} AS VARCHAR) IS DISTINCT FROM l.new_value)""",
            [run_id, seq, col],
        ).fetchone()[0]
    if stale:
        raise LineageError(
            f"{stale} cell(s) no longer hold the value the rule wrote (edited "
            "after the run); reversing would overwrite those edits."
        )


def _columns(con: Any, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = current_schema() "
            "ORDER BY ordinal_position",
            [table],
        ).fetchall()
    )


def _reverse_step(con: Any, run_id: str, seq: int, table: str, key: list[str]) -> dict:
    got = {"cells_restored": 0, "rows_restored": 0, "columns_retyped": 0}
    for col, old_type in con.execute(
        "SELECT column_name, old_value FROM cleansing_lineage WHERE "
        "run_id = ? AND seq = ? AND action = 'retype'",
        [run_id, seq],
    ).fetchall():
        con.execute(
            f"ALTER TABLE {q(table)} ALTER COLUMN {q(col)} SET DATA TYPE {sql_type(old_type)} "
            f"USING CAST({q(col)} AS {sql_type(old_type)})"
        )
        got["columns_retyped"] += 1
    cols = _columns(con, table)
    updated = [
        c
        for (c,) in con.execute(
            "SELECT DISTINCT column_name FROM cleansing_lineage WHERE "
            "run_id = ? AND seq = ? AND action = 'update'",
            [run_id, seq],
        ).fetchall()
    ]
    for col in updated:
        n = con.execute(
            f"""
            UPDATE {q(table)} AS t SET {q(col)} = CAST(l.old_value AS {sql_type(cols[col])})
            FROM (SELECT row_key, old_value FROM cleansing_lineage
                  WHERE run_id = ? AND seq = ? AND action = 'update' AND column_name = ?) AS l
            WHERE {rowkey_sql(key, "t")} = l.row_key""",
            [run_id, seq, col],
        ).fetchone()[0]
        got["cells_restored"] += n
    if con.execute(
        "SELECT count(*) FROM cleansing_lineage WHERE run_id = ? AND seq = ? AND action = 'delete'",
        [run_id, seq],
    ).fetchone()[0]:
        names = list(cols)
        picks = ", ".join(
            f"CAST(max(old_value) FILTER (WHERE column_name = {lit(c)}) AS "
            f"{sql_type(cols[c])}) AS {q(c)}"
            for c in names
        )
        n = con.execute(
            f"""
            INSERT INTO {q(table)} ({", ".join(q(c) for c in names)})
            SELECT {", ".join(q(c) for c in names)} FROM (
                SELECT row_key, {picks} FROM cleansing_lineage
                WHERE run_id = ? AND seq = ? AND action = 'delete' GROUP BY row_key)""",
            [run_id, seq],
        ).fetchone()[0]
        got["rows_restored"] += n
    return got


def _exists(con: Any, table: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
            "AND table_schema = current_schema()",
            [table],
        ).fetchone()[0]
        > 0
    )

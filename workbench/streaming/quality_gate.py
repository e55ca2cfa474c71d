"""The quality gate of a streaming pipeline: row-level checks on each batch's changed silver rows.

The optional ``quality:`` section of a pipeline spec lists checks per silver table in the check
format of the expectation suites (``pipelines/quality/*.yml``: ``name``, ``expect``, ``column``
and the expectation's own arguments)::

    quality:
      tables:
        orders:
          checks:
            - {name: net_amount_non_negative, expect: expect_column_values_to_be_between,
               column: net_amount, min_value: 0}

Or reference a suite of ``pipelines/quality/`` (``{orders: {suite: live_orders}}``): its row-level
expectations judge each batch (its table-level ones, such as uniqueness, freshness or the column
set, need the whole table and run with ``workbench validate``); inline checks may be added.

How the checks run (``quality: {engine: ...}``), all from Great Expectations definitions:

* ``auto`` (default): a check whose expectation has an exact SQL form (the built-in row checks
  of gate_checks.py and our business rules) runs as that SQL predicate inside the batch's DuckDB
  transaction; every other row-level expectation (any GE built-in or custom one) runs with GE's
  pandas data source over the batch's changed rows, and GE's ``unexpected_index_list`` names the
  failing keys. tests/streaming/test_quality_gate.py holds GE as the oracle: the same checks run
  by GE on the same rows fail exactly the same keys.
* ``ge``: every check runs with GE (about 85 ms per batch and table on this 2-core machine, see
  docs/streaming.md; the SQL form costs about a millisecond).
* ``sql``: SQL predicates only; a check without one is a spec error.

Why not GE for everything: the gate runs inside the micro-batch's single DuckDB transaction
(bronze, dead letters, silver, quarantine, gold deltas and the checkpoint commit together), on
a connection GE cannot share (its SQL source would not see the batch's uncommitted rows), and
GE's fixed per-validation overhead would dominate a batch that otherwise commits in
milliseconds. Null handling is GE's: missing values are judged by not_be_null checks only.
``mostly`` is rejected (the gate judges rows one by one).

Failing rows are recorded in the quarantine table (default ``stream_quarantine``) with their row
key, silver table, the names of the checks they failed, the batch that found them, the time and
the row as it was judged (``row_data``, JSON); silver keeps them. A row is *active* in quarantine
until a later change of the same key passes (``release_reason = 'passed'``), is deleted
(``'deleted'``) or fails again (``'superseded'`` by a new entry). Gold views skip silver rows
with an active entry (:func:`exclusion_sql`), so gold always equals a recompute over the
non-quarantined silver rows.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .gate_checks import (
    COLUMN_CHECKS,
    IDENT,
    PAIR_CHECKS,
    GateCheck,
    TableGate,
    quote_ident,
    sql_literal,
)

if TYPE_CHECKING:  # spec.py imports this module
    from .spec import PipelineSpec

log = logging.getLogger("workbench.streaming")


class SchemaGateSpec(BaseModel):
    """``quality: {schema: ...}``: the schema gate of the silver stage (see schema_gate.py)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(
        True, description="Compare each batch's events with the registered columns."
    )
    min_events: int = Field(
        2,
        ge=1,
        description=(
            "Without a declared schema, a column is taken as removed only when at least this many events of "
            "the table in the batch all lack it (fewer: per-event problem, dead-lettered as before)."
        ),
    )
    registry: str | None = Field(
        None,
        description=(
            "Schema registry folder (pipelines/schemas): a registered version of the silver table adds "
            "nullability and the version proposals are made against."
        ),
    )


class QualityGateSpec(BaseModel):
    """The ``quality:`` section of a pipeline spec."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    engine: Literal["auto", "ge", "sql"] = Field(
        "auto",
        description=(
            "auto: SQL form where a check has one, GE for the rest; ge: every check with GE; sql: SQL only."
        ),
    )
    suites_dir: str = Field(
        "pipelines/quality", description="Where 'suite:' names are looked up (project-relative)."
    )
    quarantine_table: str = Field(
        "stream_quarantine", description="Warehouse table of quarantined rows."
    )
    tables: dict[str, TableGate] = Field(
        default_factory=dict, description="{table of this pipeline: its checks}."
    )
    schema_: SchemaGateSpec = Field(
        default_factory=SchemaGateSpec,
        alias="schema",
        description="The schema gate of the silver stage.",
    )

    @model_validator(mode="after")
    def _sql_only(self):
        if self.engine == "sql":
            for t in self.tables.values():
                for c in t.checks:
                    if not c.compiled:
                        known = ", ".join(sorted(COLUMN_CHECKS) + sorted(PAIR_CHECKS))
                        raise ValueError(
                            f"check '{c.name}': '{c.expect}' has no SQL form (engine: sql accepts "
                            f"{known}); use engine: auto or ge"
                        )
        return self

    @field_validator("quarantine_table")
    @classmethod
    def _qt(cls, v):
        if not IDENT.match(v):
            raise ValueError(f"'{v}' is not a plain identifier")
        return v


def spec_problems(spec: PipelineSpec) -> list[tuple[str, tuple]]:
    """Checks that need the tables: (message, YAML path) for each unknown table or column."""
    out: list[tuple[str, tuple]] = []
    if spec.quality is None:
        return out
    for tname, gate in spec.quality.tables.items():
        if tname not in spec.tables:
            out.append((f"table '{tname}' is not in tables", ("quality", "tables", tname)))
            continue
        cols = spec.tables[tname].columns
        for i, c in enumerate(gate.checks):
            for col in c.columns():
                if col not in cols:
                    key = next(
                        (k for k in ("column", "column_A", "column_B") if c.args.get(k) == col),
                        "expect",
                    )
                    out.append(
                        (
                            f"check '{c.name}': column '{col}' is not a column of {tname}",
                            ("quality", "tables", tname, "checks", i, key),
                        )
                    )
    return out


# -- warehouse side ------------------------------------------------------------------------------
def key_sql(pk: list[str], alias: str) -> str:
    """The row key as stored in quarantine: a JSON array of the key values, e.g. '[42]'."""
    return f"json_array({', '.join(f'{alias}.{quote_ident(k)}' for k in pk)})::VARCHAR"


def ensure_table(con, spec: PipelineSpec) -> None:
    if spec.quality is None:
        return
    con.execute(f"""CREATE TABLE IF NOT EXISTS {quote_ident(spec.quality.quarantine_table)} (
        pipeline VARCHAR, silver_table VARCHAR, table_name VARCHAR, row_key VARCHAR,
        failed_checks VARCHAR[], batch_id VARCHAR, position VARCHAR, pos_hi BIGINT, pos_lo BIGINT,
        quarantined_at TIMESTAMP, released_at TIMESTAMP, released_batch VARCHAR, release_reason VARCHAR,
        row_data VARCHAR)""")
    # warehouses from before row_data was kept
    con.execute(
        f"ALTER TABLE {quote_ident(spec.quality.quarantine_table)} ADD COLUMN IF NOT EXISTS row_data VARCHAR"
    )


def exclusion_sql(spec: PipelineSpec, table: str, alias: str) -> str | None:
    """A condition keeping only rows of silver `table` (as `alias`) not actively quarantined."""
    if spec.quality is None or table not in spec.quality.tables:
        return None
    t = spec.tables[table]
    silver = spec.storage.silver_prefix + table
    # the key is decoded on the (small) quarantine side, typed like silver: comparing typed columns
    # lets DuckDB hash-join without computing a JSON key for every silver row of the gold queries
    on = " AND ".join(
        f"json_extract_string(_qq.row_key, '$[{i}]')::{t.columns[k]} = {quote_ident(alias)}.{quote_ident(k)}"
        for i, k in enumerate(t.primary_key)
    )
    return (
        f"NOT EXISTS (SELECT 1 FROM {quote_ident(spec.quality.quarantine_table)} _qq WHERE _qq.silver_table = "
        f"{sql_literal(silver)} AND _qq.released_at IS NULL AND {on})"
    )


class QualityGate:
    """Applied by BatchApplier inside the batch transaction, after silver and before the gold 'after'."""

    def __init__(self, spec: PipelineSpec, pipeline: str):
        self.spec, self.pipeline = spec, pipeline
        self.table = quote_ident(spec.quality.quarantine_table) if spec.quality else None
        self.checks: dict[str, list[GateCheck]] = {}  # table -> checks, in declaration order
        self.skipped: dict[str, list[str]] = {}  # table -> suite checks that need the whole table
        self.ge: dict[str, Any] = {}  # table -> GERowChecks for the checks GE runs
        if spec.quality is None:
            return
        from .quality_gate_ge import gate_checks

        for name, tg in spec.quality.tables.items():
            checks, skipped = gate_checks(spec, name, tg)
            self.checks[name], self.skipped[name] = checks, skipped
            if skipped:
                log.info(
                    "pipeline %s: %s's table-level checks %s run with `workbench validate`, not per batch",
                    pipeline,
                    name,
                    ", ".join(skipped),
                )
            by_ge = [c for c in checks if self._by_ge(c)]
            if by_ge:
                from .quality_gate_ge import GERowChecks

                self.ge[name] = GERowChecks(name, spec.tables[name].primary_key, by_ge)

    def _by_ge(self, c: GateCheck) -> bool:
        quality = self.spec.quality
        return (quality is not None and quality.engine == "ge") or not c.compiled

    def enabled(self, name: str) -> bool:
        return self.spec.quality is not None and bool(self.checks.get(name))

    def apply(
        self, con, name: str, changed: str, batch_id: str, position: str, now
    ) -> tuple[int, int]:
        """Judge the batch's last change per key (`changed`); returns (quarantined, released)."""
        checks = self.checks[name]
        t = self.spec.tables[name]
        silver = self.spec.storage.silver_prefix + name
        join, ge_failed = "", "NULL::VARCHAR[]"
        if name in self.ge:
            df = con.execute(f"SELECT * EXCLUDE (op, hi, lo) FROM {changed} WHERE op <> 'd'").df()
            failing = self.ge[name].failing(df) if len(df) else None
            if failing is not None and len(failing):
                con.register("_qg_ge_rows", failing)
                keys = ", ".join(quote_ident(k) for k in t.primary_key)
                on = " AND ".join(
                    f"c.{quote_ident(k)} IS NOT DISTINCT FROM g.{quote_ident(k)}"
                    for k in t.primary_key
                )
                join = (
                    f" LEFT JOIN (SELECT {keys}, list(_check) AS _failed FROM _qg_ge_rows GROUP BY ALL) g "
                    f"ON {on}"
                )
                ge_failed = "g._failed"

        def failing_sql(c_):
            if self._by_ge(c_):
                return f"coalesce(list_contains({ge_failed}, {sql_literal(c_.name)}), FALSE)"
            return c_.failing_sql("c")

        flags = ", ".join(
            f"CASE WHEN c.op <> 'd' AND {failing_sql(c_)} THEN {sql_literal(c_.name)} END"
            for c_ in checks
        )
        row = (
            "{" + ", ".join(f"{sql_literal(col)}: c.{quote_ident(col)}" for col in t.columns) + "}"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _qg AS SELECT row_key, op, hi, lo, failed, CASE WHEN len(failed) > 0 "
            f"THEN to_json(r)::VARCHAR END AS row_data FROM (SELECT {key_sql(t.primary_key, 'c')} AS row_key, "
            f"c.op, c.hi, c.lo, list_filter([{flags}], lambda x: x IS NOT NULL) AS failed, {row} AS r "
            f"FROM {changed} c{join})"
        )
        if join:
            con.unregister("_qg_ge_rows")
        released = con.execute(
            f"UPDATE {self.table} AS t SET released_at = ?, released_batch = ?, release_reason = CASE "
            f"WHEN g.op = 'd' THEN 'deleted' WHEN len(g.failed) = 0 THEN 'passed' ELSE 'superseded' END "
            f"FROM _qg g WHERE t.silver_table = ? AND t.released_at IS NULL AND t.row_key = g.row_key",
            [now, batch_id, silver],
        ).fetchone()[0]
        quarantined = con.execute(
            f"INSERT INTO {self.table} (pipeline, silver_table, table_name, row_key, failed_checks, batch_id, "
            f"position, pos_hi, pos_lo, quarantined_at, row_data) SELECT ?, ?, ?, row_key, failed, ?, ?, hi, lo, ?, "
            f"row_data FROM _qg WHERE len(failed) > 0",
            [self.pipeline, silver, name, batch_id, position, now],
        ).fetchone()[0]
        return int(quarantined), int(released)

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

Why SQL predicates and not Great Expectations: the gate runs inside the micro-batch's single
DuckDB transaction (bronze, dead letters, silver, quarantine, gold deltas and the checkpoint
commit together), on a connection GE cannot share, and GE's per-validation overhead (hundreds of
ms) would dominate a batch that otherwise commits in milliseconds. So only *row-level*
expectations are accepted and each is compiled to the SQL predicate that GE's own SQL metric
evaluates (same null handling: missing values are judged by not_be_null checks only). Table-level
expectations (uniqueness, freshness, column sets, ``mostly``) stay in ``workbench.quality.validate``.

Failing rows are recorded in the quarantine table (default ``stream_quarantine``) with their row
key, silver table, the names of the checks they failed, the batch that found them and the time;
silver keeps them. A row is *active* in quarantine until a later change of the same key passes
(``release_reason = 'passed'``), is deleted (``'deleted'``) or fails again (``'superseded'`` by a
new entry). Gold views skip silver rows with an active entry (:func:`exclusion_sql`), so gold
always equals a recompute over the non-quarantined silver rows.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any, Callable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:  # spec.py imports this module
    from .spec import PipelineSpec

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHECK_META = {"name", "expect", "dimension", "weight", "description"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(v: Any) -> str:
    """A SQL literal from a YAML scalar (reviewed spec content, still quoted properly)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, dt.datetime):
        return f"TIMESTAMP '{v.isoformat(sep=' ')}'"
    if isinstance(v, dt.date):
        return f"DATE '{v.isoformat()}'"
    return "'" + str(v).replace("'", "''") + "'"


# -- row-level expectations as SQL: each builder returns the *failing* condition ----------------
def _between(col: str, a: dict) -> str:
    lo, hi = a.get("min_value"), a.get("max_value")
    parts = []
    if lo is not None:
        parts.append(f"{col} {'>' if a.get('strict_min') else '>='} {_lit(lo)}")
    if hi is not None:
        parts.append(f"{col} {'<' if a.get('strict_max') else '<='} {_lit(hi)}")
    return f"{col} IS NOT NULL AND NOT ({' AND '.join(parts)})"


def _lengths(col: str, a: dict) -> str:
    return _between(f"length({col}::VARCHAR)", a)


def _in_set(col: str, a: dict) -> str:
    return f"{col} IS NOT NULL AND {col} NOT IN ({', '.join(_lit(v) for v in a['value_set'])})"


def _not_in_set(col: str, a: dict) -> str:
    return f"{col} IN ({', '.join(_lit(v) for v in a['value_set'])})"


def _pair(op: str, tol: bool = False) -> Callable[[str, str, dict], str]:
    def build(ca: str, cb: str, a: dict) -> str:
        t = float(a.get("tolerance", 0.005 if tol else 0.0)) + 1e-9
        cond = {"ge": f"{ca} >= {cb}", "gt": f"{ca} > {cb}", "eq": f"abs({ca} - {cb}) <= {t}",
                "le": f"{ca} <= {cb} + {t}"}[op]
        return f"{ca} IS NOT NULL AND {cb} IS NOT NULL AND NOT ({cond})"
    return build


# expect -> (builder, required args, optional args); single-column builders take (col, args)
COLUMN_CHECKS: dict[str, tuple[Callable, set, set]] = {
    "expect_column_values_to_not_be_null": (lambda c, a: f"{c} IS NULL", set(), set()),
    "expect_column_values_to_be_null": (lambda c, a: f"{c} IS NOT NULL", set(), set()),
    "expect_column_values_to_be_between": (_between, set(), {"min_value", "max_value", "strict_min", "strict_max"}),
    "expect_column_values_to_be_in_set": (_in_set, {"value_set"}, set()),
    "expect_column_values_to_not_be_in_set": (_not_in_set, {"value_set"}, set()),
    "expect_column_values_to_match_regex": (
        lambda c, a: f"{c} IS NOT NULL AND NOT regexp_matches({c}::VARCHAR, {_lit(a['regex'])})", {"regex"}, set()),
    "expect_column_values_to_not_match_regex": (
        lambda c, a: f"regexp_matches({c}::VARCHAR, {_lit(a['regex'])})", {"regex"}, set()),
    "expect_column_value_lengths_to_be_between": (_lengths, set(), {"min_value", "max_value"}),
}
PAIR_CHECKS: dict[str, tuple[Callable, set, set]] = {
    "expect_column_pair_values_a_to_be_greater_than_b": (
        lambda ca, cb, a: _pair("ge" if a.get("or_equal") else "gt")(ca, cb, a), set(), {"or_equal"}),
    "expect_ship_date_on_or_after_order_date": (_pair("ge"), set(), set()),
    "expect_order_total_to_equal_sum_of_lines": (_pair("eq", tol=True), set(), {"tolerance"}),
    "expect_refund_not_to_exceed_payment": (_pair("le", tol=True), set(), {"tolerance"}),
}
# the custom expectations' default columns (workbench.quality.expectations)
_PAIR_DEFAULTS = {"expect_ship_date_on_or_after_order_date": ("shipped_at", "ordered_at"),
                  "expect_order_total_to_equal_sum_of_lines": ("net_amount", "lines_total"),
                  "expect_refund_not_to_exceed_payment": ("refund_amount", "payment_amount")}


class GateCheck(BaseModel):
    """One row-level check, in the same shape as a check of ``pipelines/quality/<suite>.yml``."""
    model_config = ConfigDict(extra="allow")
    name: str = Field(..., description="Short unique name; quarantined rows list the names they failed.")
    expect: str = Field(..., description="A row-level GE expectation type (see docs/streaming.md for the list).")
    dimension: str | None = Field(None, description="Quality dimension (kept for symmetry with suites).")
    weight: float = Field(1.0, gt=0, description="Unused by the gate; accepted so suite checks can be pasted.")
    description: str | None = Field(None, description="Why the check exists, for people.")

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not _IDENT.match(v):
            raise ValueError(f"check name '{v}' must be an identifier")
        return v

    @property
    def args(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k not in _CHECK_META}

    def columns(self) -> list[str]:
        a = self.args
        if self.expect in PAIR_CHECKS:
            da, db = _PAIR_DEFAULTS.get(self.expect, (None, None))
            return [a.get("column_A", da), a.get("column_B", db)]
        return [a["column"]]

    @model_validator(mode="after")
    def _args(self):
        a = self.args
        if "mostly" in a:
            raise ValueError("'mostly' is a whole-table threshold; the pipeline gate judges rows one by one "
                             "(run the suite with workbench.quality.validate for mostly)")
        if self.expect in COLUMN_CHECKS:
            _, req, opt = COLUMN_CHECKS[self.expect]
            if "column" not in a:
                raise ValueError(f"{self.expect} needs 'column'")
            allowed = req | opt | {"column"}
        elif self.expect in PAIR_CHECKS:
            _, req, opt = PAIR_CHECKS[self.expect]
            if self.expect not in _PAIR_DEFAULTS and not {"column_A", "column_B"} <= set(a):
                raise ValueError(f"{self.expect} needs 'column_A' and 'column_B'")
            allowed = req | opt | {"column_A", "column_B", "ignore_row_if"}
        else:
            known = ", ".join(sorted(COLUMN_CHECKS) + sorted(PAIR_CHECKS))
            raise ValueError(f"'{self.expect}' is not a row-level expectation the pipeline gate can evaluate "
                             f"per batch (one of: {known}); table-level checks belong in pipelines/quality/")
        for k in req:
            if k not in a:
                raise ValueError(f"{self.expect} needs '{k}'")
        for k in a:
            if k not in allowed:
                raise ValueError(f"unknown argument '{k}' for {self.expect}")
        if self.expect == "expect_column_values_to_be_between" and a.get("min_value") is None \
                and a.get("max_value") is None:
            raise ValueError("expect_column_values_to_be_between needs min_value or max_value")
        if "value_set" in a and (not isinstance(a["value_set"], list) or not a["value_set"]):
            raise ValueError("value_set must be a non-empty list")
        return self

    def failing_sql(self, alias: str) -> str:
        """The condition under which a row of `alias` fails this check (never NULL)."""
        a = self.args
        if self.expect in PAIR_CHECKS:
            ca, cb = (f"{alias}.{_q(c)}" for c in self.columns())
            cond = PAIR_CHECKS[self.expect][0](ca, cb, a)
        else:
            cond = COLUMN_CHECKS[self.expect][0](f"{alias}.{_q(a['column'])}", a)
        return f"coalesce({cond}, FALSE)"


class TableGate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checks: list[GateCheck] = Field(..., min_length=1, description="Row-level checks of this silver table.")

    @model_validator(mode="after")
    def _unique(self):
        seen = set()
        for c in self.checks:
            if c.name in seen:
                raise ValueError(f"check name '{c.name}' is used twice")
            seen.add(c.name)
        return self


class QualityGateSpec(BaseModel):
    """The ``quality:`` section of a pipeline spec."""
    model_config = ConfigDict(extra="forbid")
    quarantine_table: str = Field("stream_quarantine", description="Warehouse table of quarantined rows.")
    tables: dict[str, TableGate] = Field(..., min_length=1, description="{table of this pipeline: its checks}.")

    @field_validator("quarantine_table")
    @classmethod
    def _qt(cls, v):
        if not _IDENT.match(v):
            raise ValueError(f"'{v}' is not a plain identifier")
        return v


def spec_problems(spec: "PipelineSpec") -> list[tuple[str, tuple]]:
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
                    key = next((k for k in ("column", "column_A", "column_B") if c.args.get(k) == col), "expect")
                    out.append((f"check '{c.name}': column '{col}' is not a column of {tname}",
                                ("quality", "tables", tname, "checks", i, key)))
    return out


# -- warehouse side ------------------------------------------------------------------------------
def key_sql(pk: list[str], alias: str) -> str:
    """The row key as stored in quarantine: a JSON array of the key values, e.g. '[42]'."""
    return f"json_array({', '.join(f'{alias}.{_q(k)}' for k in pk)})::VARCHAR"


def ensure_table(con, spec: "PipelineSpec") -> None:
    if spec.quality is None:
        return
    con.execute(f"""CREATE TABLE IF NOT EXISTS {_q(spec.quality.quarantine_table)} (
        pipeline VARCHAR, silver_table VARCHAR, table_name VARCHAR, row_key VARCHAR,
        failed_checks VARCHAR[], batch_id VARCHAR, position VARCHAR, pos_hi BIGINT, pos_lo BIGINT,
        quarantined_at TIMESTAMP, released_at TIMESTAMP, released_batch VARCHAR, release_reason VARCHAR)""")


def exclusion_sql(spec: "PipelineSpec", table: str, alias: str) -> str | None:
    """A condition keeping only rows of silver `table` (as `alias`) not actively quarantined."""
    if spec.quality is None or table not in spec.quality.tables:
        return None
    t = spec.tables[table]
    silver = spec.storage.silver_prefix + table
    # the key is decoded on the (small) quarantine side, typed like silver: comparing typed columns
    # lets DuckDB hash-join without computing a JSON key for every silver row of the gold queries
    on = " AND ".join(f"json_extract_string(_qq.row_key, '$[{i}]')::{t.columns[k]} = {_q(alias)}.{_q(k)}"
                      for i, k in enumerate(t.primary_key))
    return (f"NOT EXISTS (SELECT 1 FROM {_q(spec.quality.quarantine_table)} _qq WHERE _qq.silver_table = "
            f"{_lit(silver)} AND _qq.released_at IS NULL AND {on})")


class QualityGate:
    """Applied by BatchApplier inside the batch transaction, after silver and before the gold 'after'."""

    def __init__(self, spec: "PipelineSpec", pipeline: str):
        self.spec, self.pipeline = spec, pipeline
        self.table = _q(spec.quality.quarantine_table) if spec.quality else None

    def enabled(self, name: str) -> bool:
        return self.spec.quality is not None and name in self.spec.quality.tables

    def apply(self, con, name: str, changed: str, batch_id: str, position: str, now) -> tuple[int, int]:
        """Judge the batch's last change per key (`changed`); returns (quarantined, released)."""
        checks = self.spec.quality.tables[name].checks
        t = self.spec.tables[name]
        silver = self.spec.storage.silver_prefix + name
        flags = ", ".join(f"CASE WHEN c.op <> 'd' AND {c_.failing_sql('c')} THEN {_lit(c_.name)} END"
                          for c_ in checks)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _qg AS SELECT {key_sql(t.primary_key, 'c')} AS row_key, c.op, "
                    f"c.hi, c.lo, list_filter([{flags}], lambda x: x IS NOT NULL) AS failed FROM {changed} c")
        released = con.execute(
            f"UPDATE {self.table} AS t SET released_at = ?, released_batch = ?, release_reason = CASE "
            f"WHEN g.op = 'd' THEN 'deleted' WHEN len(g.failed) = 0 THEN 'passed' ELSE 'superseded' END "
            f"FROM _qg g WHERE t.silver_table = ? AND t.released_at IS NULL AND t.row_key = g.row_key",
            [now, batch_id, silver]).fetchone()[0]
        quarantined = con.execute(
            f"INSERT INTO {self.table} SELECT ?, ?, ?, row_key, failed, ?, ?, hi, lo, ?, NULL, NULL, NULL "
            f"FROM _qg WHERE len(failed) > 0", [self.pipeline, silver, name, batch_id, position, now]).fetchone()[0]
        return int(quarantined), int(released)

"""The row-level checks of a pipeline's quality gate: their spec (:class:`GateCheck`,
:class:`TableGate`) and their exact SQL forms (``COLUMN_CHECKS``, ``PAIR_CHECKS``).

Both the gate (quality_gate.py) and its Great Expectations side (quality_gate_ge.py) need these;
they live here so neither of the two has to import the other back.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHECK_META = {"name", "expect", "dimension", "weight", "description"}


def quote_ident(name: str) -> str:
    """A SQL identifier, quoted (table and column names come from reviewed specs)."""
    return '"' + name.replace('"', '""') + '"'


def sql_literal(v: Any) -> str:
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
        parts.append(f"{col} {'>' if a.get('strict_min') else '>='} {sql_literal(lo)}")
    if hi is not None:
        parts.append(f"{col} {'<' if a.get('strict_max') else '<='} {sql_literal(hi)}")
    return f"{col} IS NOT NULL AND NOT ({' AND '.join(parts)})"


def _lengths(col: str, a: dict) -> str:
    return _between(f"length({col}::VARCHAR)", a)


def _in_set(col: str, a: dict) -> str:
    return (
        f"{col} IS NOT NULL AND {col} NOT IN ({', '.join(sql_literal(v) for v in a['value_set'])})"
    )


def _not_in_set(col: str, a: dict) -> str:
    return f"{col} IN ({', '.join(sql_literal(v) for v in a['value_set'])})"


def _pair(
    op: str, tol: bool = False, ignore: str = "either_value_is_missing"
) -> Callable[[str, str, dict], str]:
    """GE's pair semantics: rows are skipped per ``ignore_row_if`` (GE's built-in pair expectation
    skips only rows missing both values, so one missing value fails it; ours skip either)."""

    def build(ca: str, cb: str, a: dict) -> str:
        t = float(a.get("tolerance", 0.005 if tol else 0.0)) + 1e-9
        cond = {
            "ge": f"{ca} >= {cb}",
            "gt": f"{ca} > {cb}",
            "eq": f"abs({ca} - {cb}) <= {t}",
            "le": f"{ca} <= {cb} + {t}",
        }[op]
        how = a.get("ignore_row_if", ignore)
        if how == "either_value_is_missing":
            return f"{ca} IS NOT NULL AND {cb} IS NOT NULL AND NOT ({cond})"
        fails = f"({ca} IS NULL OR {cb} IS NULL OR NOT ({cond}))"
        return fails if how == "neither" else f"NOT ({ca} IS NULL AND {cb} IS NULL) AND {fails}"

    return build


# expect -> (builder, required args, optional args); single-column builders take (col, args)
COLUMN_CHECKS: dict[str, tuple[Callable, set, set]] = {
    "expect_column_values_to_not_be_null": (lambda c, a: f"{c} IS NULL", set(), set()),
    "expect_column_values_to_be_null": (lambda c, a: f"{c} IS NOT NULL", set(), set()),
    "expect_column_values_to_be_between": (
        _between,
        set(),
        {"min_value", "max_value", "strict_min", "strict_max"},
    ),
    "expect_column_values_to_be_in_set": (_in_set, {"value_set"}, set()),
    "expect_column_values_to_not_be_in_set": (_not_in_set, {"value_set"}, set()),
    "expect_column_values_to_match_regex": (
        lambda c, a: (
            f"{c} IS NOT NULL AND NOT regexp_matches({c}::VARCHAR, {sql_literal(a['regex'])})"
        ),
        {"regex"},
        set(),
    ),
    "expect_column_values_to_not_match_regex": (
        lambda c, a: f"regexp_matches({c}::VARCHAR, {sql_literal(a['regex'])})",
        {"regex"},
        set(),
    ),
    "expect_column_value_lengths_to_be_between": (_lengths, set(), {"min_value", "max_value"}),
}
PAIR_CHECKS: dict[str, tuple[Callable, set, set]] = {
    "expect_column_pair_values_a_to_be_greater_than_b": (
        lambda ca, cb, a: _pair(
            "ge" if a.get("or_equal") else "gt", ignore="both_values_are_missing"
        )(ca, cb, a),
        set(),
        {"or_equal"},
    ),
    "expect_ship_date_on_or_after_order_date": (_pair("ge"), set(), set()),
    "expect_order_total_to_equal_sum_of_lines": (_pair("eq", tol=True), set(), {"tolerance"}),
    "expect_refund_not_to_exceed_payment": (_pair("le", tol=True), set(), {"tolerance"}),
}
# the custom expectations' default columns (workbench.quality.expectations)
_PAIR_DEFAULTS = {
    "expect_ship_date_on_or_after_order_date": ("shipped_at", "ordered_at"),
    "expect_order_total_to_equal_sum_of_lines": ("net_amount", "lines_total"),
    "expect_refund_not_to_exceed_payment": ("refund_amount", "payment_amount"),
}


class GateCheck(BaseModel):
    """One row-level check, in the same shape as a check of ``pipelines/quality/<suite>.yml``."""

    model_config = ConfigDict(extra="allow")
    name: str = Field(
        ..., description="Short unique name; quarantined rows list the names they failed."
    )
    expect: str = Field(
        ..., description="A row-level GE expectation type (see docs/streaming.md for the list)."
    )
    dimension: str | None = Field(
        None, description="Quality dimension (kept for symmetry with suites)."
    )
    weight: float = Field(
        1.0, gt=0, description="Unused by the gate; accepted so suite checks can be pasted."
    )
    description: str | None = Field(None, description="Why the check exists, for people.")

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not IDENT.match(v):
            raise ValueError(f"check name '{v}' must be an identifier")
        return v

    @property
    def args(self) -> dict[str, Any]:
        return {k: v for k, v in (self.model_extra or {}).items() if k not in _CHECK_META}

    @property
    def compiled(self) -> bool:
        """Whether this check has an exact SQL form (else only GE can run it)."""
        return self.expect in COLUMN_CHECKS or self.expect in PAIR_CHECKS

    def columns(self) -> list[str]:
        a = self.args
        if self.expect in PAIR_CHECKS:
            da, db = _PAIR_DEFAULTS.get(self.expect, (None, None))
            pair: list = [a.get("column_A", da), a.get("column_B", db)]
            return pair
        if not self.compiled:
            cols = [a[k] for k in ("column", "column_A", "column_B") if isinstance(a.get(k), str)]
            return cols + [c for c in a.get("column_list") or [] if isinstance(c, str)]
        return [a["column"]]

    @model_validator(mode="after")
    def _args(self):
        a = self.args
        if "mostly" in a:
            raise ValueError(
                "'mostly' is a whole-table threshold; the pipeline gate judges rows one by one "
                "(run the suite with workbench.quality.validate for mostly)"
            )
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
        elif self.expect.startswith("expect_"):
            return self  # run by GE: its own model checks the arguments when the gate is built
        else:
            raise ValueError(f"'{self.expect}' is not a Great Expectations expectation type")
        for k in req:
            if k not in a:
                raise ValueError(f"{self.expect} needs '{k}'")
        for k in a:
            if k not in allowed:
                raise ValueError(f"unknown argument '{k}' for {self.expect}")
        if (
            self.expect == "expect_column_values_to_be_between"
            and a.get("min_value") is None
            and a.get("max_value") is None
        ):
            raise ValueError("expect_column_values_to_be_between needs min_value or max_value")
        if a.get("ignore_row_if", "neither") not in (
            "both_values_are_missing",
            "either_value_is_missing",
            "neither",
        ):
            raise ValueError(
                "ignore_row_if must be both_values_are_missing, either_value_is_missing or neither"
            )
        if "value_set" in a and (not isinstance(a["value_set"], list) or not a["value_set"]):
            raise ValueError("value_set must be a non-empty list")
        return self

    def failing_sql(self, alias: str) -> str:
        """The condition under which a row of `alias` fails this check (never NULL)."""
        a = self.args
        if self.expect in PAIR_CHECKS:
            ca, cb = (f"{alias}.{quote_ident(c)}" for c in self.columns())
            cond = PAIR_CHECKS[self.expect][0](ca, cb, a)
        else:
            cond = COLUMN_CHECKS[self.expect][0](f"{alias}.{quote_ident(a['column'])}", a)
        return f"coalesce({cond}, FALSE)"


class TableGate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    suite: str | None = Field(
        None, description="A suite of pipelines/quality/ whose row-level checks judge each batch."
    )
    checks: list[GateCheck] = Field(
        default_factory=list, description="Row-level checks of this silver table."
    )

    @model_validator(mode="after")
    def _unique(self):
        if not self.suite and not self.checks:
            raise ValueError("a gated table needs 'suite' or 'checks'")
        seen = set()
        for c in self.checks:
            if c.name in seen:
                raise ValueError(f"check name '{c.name}' is used twice")
            seen.add(c.name)
        return self

"""Business rules as real Great Expectations custom expectations.

Each rule is a ``ColumnPairMapExpectation`` backed by a metric provider with a pandas, a
SQLAlchemy (DuckDB, PostgreSQL) and a Spark implementation, so the same suite gives the same
verdict on every engine and GE reports the failing rows (their keys) like any built-in check:

* ``expect_order_total_to_equal_sum_of_lines``: ``net_amount`` = sum of the order's line amounts;
* ``expect_ship_date_on_or_after_order_date``: ``shipped_at >= ordered_at``;
* ``expect_refund_not_to_exceed_payment``: refunded amount <= captured payment.

Rows where either value is missing are not judged (completeness checks judge missing values),
so the model SQL coalesces "no lines" / "no payment" to 0 where that is a real value.
Importing this module registers the expectations with GE.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import great_expectations as gx
from great_expectations.compatibility import pydantic
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.execution_engine import (
    PandasExecutionEngine,
    SparkDFExecutionEngine,
    SqlAlchemyExecutionEngine,
)
from great_expectations.expectations.expectation import ColumnPairMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnPairMapMetricProvider,
    column_pair_condition_partial,
)

_DOMAIN = (
    "batch_id",
    "table",
    "column_A",
    "column_B",
    "row_condition",
    "condition_parser",
    "ignore_row_if",
)


# ---------------------------------------------------------------------------------- metrics
class ColumnPairValuesEqualWithinTolerance(ColumnPairMapMetricProvider):
    condition_metric_name = "workbench.column_pair_values.equal_within_tolerance"
    condition_domain_keys = _DOMAIN
    condition_value_keys = ("tolerance",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, tolerance=0.0, **kwargs):
        return (column_A.astype("float64") - column_B.astype("float64")).abs() <= float(
            tolerance
        ) + 1e-9

    @column_pair_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_A, column_B, tolerance=0.0, **kwargs):
        return sa.func.abs(column_A - column_B) <= float(tolerance) + 1e-9

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A, column_B, tolerance=0.0, **kwargs):
        from pyspark.sql import functions as F

        return F.abs(column_A - column_B) <= float(tolerance) + 1e-9


class ColumnPairValuesAAtLeastB(ColumnPairMapMetricProvider):
    condition_metric_name = "workbench.column_pair_values.a_at_least_b"
    condition_domain_keys = _DOMAIN
    condition_value_keys = ()

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, **kwargs):
        return column_A >= column_B

    @column_pair_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_A, column_B, **kwargs):
        return column_A >= column_B

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A, column_B, **kwargs):
        return column_A >= column_B


class ColumnPairValuesAAtMostBPlusTolerance(ColumnPairMapMetricProvider):
    condition_metric_name = "workbench.column_pair_values.a_at_most_b"
    condition_domain_keys = _DOMAIN
    condition_value_keys = ("tolerance",)

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A, column_B, tolerance=0.0, **kwargs):
        return column_A.astype("float64") <= column_B.astype("float64") + float(tolerance) + 1e-9

    @column_pair_condition_partial(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(cls, column_A, column_B, tolerance=0.0, **kwargs):
        return column_A <= column_B + (float(tolerance) + 1e-9)

    @column_pair_condition_partial(engine=SparkDFExecutionEngine)
    def _spark(cls, column_A, column_B, tolerance=0.0, **kwargs):
        return column_A <= column_B + (float(tolerance) + 1e-9)


# ------------------------------------------------------------------------------ expectations
_IgnoreRowIf = Literal["both_values_are_missing", "either_value_is_missing", "neither"] | dict


class ExpectOrderTotalToEqualSumOfLines(ColumnPairMapExpectation):
    """An order's total (column_A, default net_amount) equals the sum of its line amounts
    (column_B, default lines_total), within ``tolerance`` (default half a cent)."""

    column_A: str = "net_amount"
    column_B: str = "lines_total"
    tolerance: float = pydantic.Field(0.005, description="Largest accepted absolute difference.")
    ignore_row_if: _IgnoreRowIf = "either_value_is_missing"
    map_metric: ClassVar[str] = "workbench.column_pair_values.equal_within_tolerance"
    success_keys: ClassVar[tuple] = ("column_A", "column_B", "tolerance", "ignore_row_if", "mostly")
    library_metadata: ClassVar[dict] = {
        "maturity": "production",
        "tags": ["workbench", "business rule"],
        "contributors": ["@workbench"],
    }


class ExpectShipDateOnOrAfterOrderDate(ColumnPairMapExpectation):
    """The ship date (column_A, default shipped_at) is on or after the order date (column_B,
    default ordered_at). Unshipped orders (no ship date) are not judged."""

    column_A: str = "shipped_at"
    column_B: str = "ordered_at"
    ignore_row_if: _IgnoreRowIf = "either_value_is_missing"
    map_metric: ClassVar[str] = "workbench.column_pair_values.a_at_least_b"
    success_keys: ClassVar[tuple] = ("column_A", "column_B", "ignore_row_if", "mostly")
    library_metadata: ClassVar[dict] = {
        "maturity": "production",
        "tags": ["workbench", "business rule"],
        "contributors": ["@workbench"],
    }


class ExpectRefundNotToExceedPayment(ColumnPairMapExpectation):
    """A refund (column_A, default refund_amount) never exceeds its payment (column_B, default
    payment_amount)."""

    column_A: str = "refund_amount"
    column_B: str = "payment_amount"
    tolerance: float = pydantic.Field(0.005, description="Rounding slack in currency units.")
    ignore_row_if: _IgnoreRowIf = "either_value_is_missing"
    map_metric: ClassVar[str] = "workbench.column_pair_values.a_at_most_b"
    success_keys: ClassVar[tuple] = ("column_A", "column_B", "tolerance", "ignore_row_if", "mostly")
    library_metadata: ClassVar[dict] = {
        "maturity": "production",
        "tags": ["workbench", "business rule"],
        "contributors": ["@workbench"],
    }


CUSTOM = {
    "expect_order_total_to_equal_sum_of_lines": ExpectOrderTotalToEqualSumOfLines,
    "expect_ship_date_on_or_after_order_date": ExpectShipDateOnOrAfterOrderDate,
    "expect_refund_not_to_exceed_payment": ExpectRefundNotToExceedPayment,
}


def expectation_class(type_name: str):
    """The GE expectation class for a snake_case type name (built-in or ours)."""
    if type_name in CUSTOM:
        return CUSTOM[type_name]
    from great_expectations.expectations.registry import get_expectation_impl

    try:
        return get_expectation_impl(type_name)
    except Exception:
        raise KeyError(
            f"unknown expectation '{type_name}' (GE built-ins, or one of "
            f"{', '.join(sorted(CUSTOM))})"
        ) from None


def build_expectation(type_name: str, kwargs: dict, meta: dict):
    cls = expectation_class(type_name)
    try:
        return cls(**kwargs, meta=meta)
    except Exception as e:  # pydantic errors from GE name the bad argument
        raise ValueError(f"{type_name}: {str(e).splitlines()[0] if str(e) else e!r}") from None


__all__ = [
    "CUSTOM",
    "ExpectOrderTotalToEqualSumOfLines",
    "ExpectRefundNotToExceedPayment",
    "ExpectShipDateOnOrAfterOrderDate",
    "build_expectation",
    "expectation_class",
    "gx",
]

"""The Great Expectations side of the pipeline quality gate (see quality_gate.py).

* :func:`gate_checks`: a gated table's checks: its suite's row-level checks (from
  ``pipelines/quality/<suite>.yml``) followed by its inline ones.
* :class:`GERowChecks`: runs checks with GE's pandas data source over a batch's changed rows.
  The GE context, data source, asset and suite are built once when the pipeline starts; per
  batch only ``batch.validate`` runs (GE's fixed cost is then about 85 ms, see docs/streaming.md).
  GE's ``unexpected_index_list`` (result format COMPLETE, indexed by the table's primary key)
  names the failing rows.

Great Expectations is imported only when a gate has a check that GE runs.
"""

from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING

import pandas as pd

from ..semantic.errors import ModelError
from .gate_checks import COLUMN_CHECKS, PAIR_CHECKS, GateCheck, TableGate

if TYPE_CHECKING:
    from .spec import PipelineSpec

# Expectations judged over the whole table: never row checks, no need to ask GE to know that
_TABLE_LEVEL = re.compile(
    r"^expect_(table_|column_(min|max|mean|median|sum|stdev|quantile_values|"
    r"proportion_of_unique_values|unique_value_count|most_common_value|distinct_values|"
    r"kl_divergence|pair_cramers_phi)|compound_columns_to_be_unique|column_values_to_be_unique$|"
    r"multicolumn_values_to_be_unique)"
)


def is_row_level(expect: str) -> bool:
    """Whether GE judges this expectation row by row (a map expectation), so a batch's changed
    rows can be judged alone. Uniqueness is judged over the table, so it is not."""
    if expect.endswith("within_record"):
        return True
    if _TABLE_LEVEL.match(expect):
        return False
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    from ..quality.expectations import expectation_class

    cls = expectation_class(expect)
    return (
        issubclass(cls, (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation))
        and "unique" not in expect
    )


def gate_checks(spec: PipelineSpec, name: str, tg: TableGate) -> tuple[list[GateCheck], list[str]]:
    """(checks the gate runs on `name`, names of the suite's table-level checks it leaves out)."""
    checks: list[GateCheck] = []
    skipped: list[str] = []
    cols = spec.tables[name].columns
    where = f"quality.tables.{name}"
    quality = spec.quality
    if quality is None:  # no quality section: nothing is gated
        return checks, skipped
    if tg.suite:
        from ..config import load_settings
        from ..quality.suite_spec import load_suite, suite_path

        folder = load_settings().path(quality.suites_dir)
        try:
            suite = load_suite(suite_path(tg.suite, folder), check_expectations=False)
        except ModelError as e:
            raise ModelError(f"{where}.suite: {e}") from None
        for sc in suite.checks:
            if sc.max_age or (
                not _compiled(sc.expect) and not _row_level(sc.expect, suite.path, sc.name)
            ):
                skipped.append(sc.name)
                continue
            args = {k: v for k, v in sc.kwargs.items() if k != "mostly"}
            try:
                gc = GateCheck(
                    name=sc.name, expect=sc.expect, dimension=sc.dimension, weight=sc.weight, **args
                )
            except Exception as e:
                raise ModelError(
                    f"suite '{tg.suite}' check '{sc.name}' cannot judge rows one by one: "
                    f"{str(e).splitlines()[0]}",
                    suite.path,
                ) from None
            if quality.engine == "sql" and not gc.compiled:
                raise ModelError(
                    f"suite '{tg.suite}' check '{sc.name}': '{sc.expect}' has no SQL form; "
                    "use quality.engine auto or ge",
                    suite.path,
                )
            checks.append(gc)
    names = {c.name for c in checks}
    for c in tg.checks:
        if c.name in names:
            raise ModelError(f"{where}: check '{c.name}' is also in suite '{tg.suite}'")
        if not c.compiled and not _row_level(c.expect, None, c.name):
            raise ModelError(
                f"{where}: check '{c.name}': '{c.expect}' is judged over the whole table, not row by "
                "row; put it in a suite and run it with `workbench validate`"
            )
        checks.append(c)
    for c in checks:
        for col in c.columns():
            if col not in cols:
                src = f"suite '{tg.suite}'" if c.name not in {x.name for x in tg.checks} else where
                raise ModelError(
                    f"{src}: check '{c.name}': column '{col}' is not a column of {name}"
                )
    return checks, skipped


def _compiled(expect: str) -> bool:
    return expect in COLUMN_CHECKS or expect in PAIR_CHECKS


def _row_level(expect: str, file: str | None, check: str) -> bool:
    try:
        return is_row_level(expect)
    except KeyError as e:
        raise ModelError(f"check '{check}': {e.args[0]}", file) from None


class GERowChecks:
    """Row-level checks of one silver table, run by GE on a pandas DataFrame of changed rows."""

    def __init__(self, table: str, key: list[str], checks: list[GateCheck]):
        import great_expectations as gx

        from ..quality.expectations import build_expectation
        from ..quality.ge_runtime import context

        self.table, self.key, self.checks = table, list(key), checks
        self.ctx = context()
        ds = self.ctx.data_sources.add_pandas(name=f"pipeline_gate_{table}")
        self.bd = ds.add_dataframe_asset(name=table).add_batch_definition_whole_dataframe(
            "changed_rows"
        )
        suite = gx.ExpectationSuite(name=f"pipeline_gate_{table}")
        for c in checks:
            try:
                suite.add_expectation(build_expectation(c.expect, c.args, {"name": c.name}))
            except ValueError as e:
                raise ModelError(f"quality gate of {table}: check '{c.name}': {e}") from None
        self.suite = self.ctx.suites.add(suite)
        self.result_format = {
            "result_format": "COMPLETE",
            "unexpected_index_column_names": self.key,
            "return_unexpected_index_query": False,
        }

    def failing(self, df: pd.DataFrame) -> pd.DataFrame:
        """One row per (failing row, check): the key columns and ``_check``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            batch = self.bd.get_batch(batch_parameters={"dataframe": df})
            result = batch.validate(self.suite, result_format=self.result_format)
        out = []
        for r in result.results:
            name = (r.expectation_config.meta or {}).get("name", r.expectation_config.type)
            info = r.exception_info or {}
            errors = (
                [info]
                if "raised_exception" in info
                else [v for v in info.values() if isinstance(v, dict)]
            )
            for e in errors:
                if e.get("raised_exception"):
                    # a check that cannot run must not let its rows through unjudged
                    raise RuntimeError(
                        f"quality gate of {self.table}: check '{name}' could not run in Great "
                        f"Expectations: {e.get('exception_message')}"
                    )
            for item in (r.result or {}).get("unexpected_index_list") or []:
                if isinstance(item, dict):
                    out.append([_plain(item.get(k)) for k in self.key] + [name])
        return pd.DataFrame(out, columns=self.key + ["_check"])


def _plain(v):
    return v.item() if hasattr(v, "item") else v

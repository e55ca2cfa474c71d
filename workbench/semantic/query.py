"""A semantic query as notebook users hold it: lazy, with .sql(), .to_ibis(), .df and .chart()."""

from __future__ import annotations

import time
from functools import cached_property
from typing import TYPE_CHECKING, Any

import ibis.expr.types as ir
import pandas as pd

from .querydef import QuerySpec

if TYPE_CHECKING:
    import pyarrow as pa

    from ..api import Plan, Workbench


class Query:
    def __init__(self, wb: Workbench, spec: QuerySpec):
        self.wb, self.spec = wb, spec
        self.cached = False
        self.elapsed_ms: float | None = None
        # The result cache's key of the answer (model version, principal, spec, data version);
        # set when it runs: equal keys, equal rows.
        self.result_key: str | None = None

    @cached_property
    def plan(self) -> Plan:
        """The compiled, secured plan (expression, SQL and cache key), made once."""
        return self.wb.plan(self.spec)

    def to_ibis(self) -> ir.Table:
        """The Ibis expression, secured for this workbench's principal."""
        return self.plan.expr

    def sql(self, pretty: bool = True) -> str:
        sql = self.plan.sql
        if pretty:
            import sqlglot

            dialect = self.wb.engine.dialect
            try:
                return sqlglot.transpile(
                    sql, read="spark" if dialect == "pyspark" else dialect, pretty=True
                )[0]
            except Exception:
                return sql
        return sql

    def execute(self) -> pd.DataFrame:
        t0 = time.perf_counter()
        df, self.cached = self.wb.execute(self)
        self.elapsed_ms = (time.perf_counter() - t0) * 1000
        return df

    @cached_property
    def df(self) -> pd.DataFrame:
        return self.execute()

    def to_pandas(self) -> pd.DataFrame:
        return self.df

    def to_pyarrow(self) -> pa.Table:
        import pyarrow as pa

        return pa.Table.from_pandas(self.df, preserve_index=False)

    def chart(self, kind: str | None = None, **opts: Any) -> Any:
        """An hvPlot chart of the result, chosen by the registered chart types (workbench.ui.charts);
        a single number or an empty result comes back as a table."""
        from ..ui.charts import auto_chart

        chart = auto_chart(
            self.df, list(self.spec.metrics), list(self.spec.dimensions), kind=kind, **opts
        )
        if chart is None:
            import hvplot.pandas  # noqa: F401

            return self.df.hvplot.table()
        return chart

    def __len__(self) -> int:
        return len(self.df)

    def _repr_html_(self) -> str | None:
        html: str | None = self.df._repr_html_()
        return html

    def __repr__(self) -> str:
        return (
            f"<Query {self.spec.namespace} metrics={list(self.spec.metrics)} "
            f"dimensions={list(self.spec.dimensions)}>"
        )

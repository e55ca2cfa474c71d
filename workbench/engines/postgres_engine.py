"""PostgreSQL through Ibis: the same models on the production database."""
from __future__ import annotations

import ibis

from ..semantic.errors import EngineError
from .base import Engine, register_engine


@register_engine
class PostgresEngine(Engine):
    name = "postgres"

    def __init__(self, url: str | None = None, **options):
        super().__init__(**options)
        self.url = url or "postgres://postgres@127.0.0.1:5432/postgres"

    def _connect(self):
        try:
            return ibis.connect(self.url)
        except Exception as e:
            raise EngineError(f"Cannot connect to PostgreSQL at {self.url}: "
                              f"{str(e).splitlines()[0]}") from None

    def execute(self, expr, sql: str | None = None):
        # Run the SQL text we compiled (and showed the user): Ibis' own PostgreSQL execution
        # path renders semi-joins differently from ibis.to_sql and PostgreSQL rejects it.
        import pandas as pd
        if sql is None:
            return super().execute(expr)
        try:
            with self.con.raw_sql(sql) as cur:
                rows = cur.fetchall()
                cols = [d[0] for d in cur.description]
            df = pd.DataFrame.from_records(rows, columns=cols)
            schema = expr.schema()
            for name, typ in schema.items():
                if name in df and typ.is_numeric() and not typ.is_decimal():
                    df[name] = pd.to_numeric(df[name])
            return df
        except Exception as e:
            try:
                self.con.con.rollback()
            except Exception:
                pass
            raise EngineError(f"Query failed on PostgreSQL: {str(e).splitlines()[0]}") from None

    def data_version(self) -> str:
        return str(getattr(self, "_bump", 0))

    def invalidate(self) -> None:
        super().invalidate()
        self._bump = getattr(self, "_bump", 0) + 1

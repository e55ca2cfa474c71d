"""DuckDB: the embedded default. A file under .workbench/, used through Ibis."""
from __future__ import annotations

import os
from pathlib import Path

import ibis
import pandas as pd

from ..semantic.errors import EngineError
from .base import Engine, register_engine


@register_engine
class DuckDBEngine(Engine):
    name = "duckdb"

    def __init__(self, path: str | os.PathLike | None = None, read_only: bool = False,
                 threads: int | None = None, **options):
        super().__init__(**options)
        self.path = str(path) if path else ":memory:"
        self.read_only = read_only
        self.threads = threads
        self._bump = 0

    def _connect(self):
        if self.path != ":memory:":
            if not Path(self.path).exists():
                raise EngineError(f"Warehouse {self.path} does not exist. "
                                  "Build it with `workbench seed` (or `make up`).")
        kw = {"read_only": True} if self.read_only and self.path != ":memory:" else {}
        con = ibis.duckdb.connect(self.path, **kw)
        if self.threads:
            con.raw_sql(f"SET threads = {int(self.threads)}")
        return con

    def execute(self, expr, sql: str | None = None) -> pd.DataFrame:
        # Running the cached SQL text skips Ibis' per-call compilation (milliseconds per query).
        try:
            if sql is not None:
                with self._lock:
                    cur = self.con.con.cursor()
                try:
                    return cur.execute(sql).df()
                finally:
                    cur.close()
            return self.con.execute(expr)
        except EngineError:
            raise
        except Exception as e:
            raise EngineError(f"Query failed on DuckDB: {str(e).splitlines()[0]}") from None

    def data_version(self) -> str:
        if self.path == ":memory:":
            return str(self._bump)
        parts = [str(self._bump)]
        for p in (self.path, self.path + ".wal"):
            try:
                st = os.stat(p)
                parts.append(f"{st.st_mtime_ns}:{st.st_size}")
            except FileNotFoundError:
                parts.append("-")
        return "|".join(parts)

    def invalidate(self) -> None:
        super().invalidate()
        self._bump += 1

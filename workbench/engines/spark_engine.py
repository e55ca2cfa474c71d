"""PySpark: the same models when data outgrows one machine.

Tables come from parquet: either a directory of `<table>.parquet` files/folders given in config,
or an export of the DuckDB warehouse made on first use and refreshed when the warehouse changes.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import ibis
import pandas as pd

from ..semantic.errors import EngineError
from .base import Engine, register_engine

_SESSION = None
_SESSION_LOCK = threading.Lock()


def spark_session(master: str | None = None, remote: str | None = None):
    """One shared session per process: starting Spark costs seconds."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            from pyspark.sql import SparkSession
            os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
            builder = SparkSession.builder.appName("workbench")
            if remote:
                builder = builder.remote(remote)
            else:
                builder = (builder.master(master or "local[*]")
                           .config("spark.ui.enabled", "false")
                           .config("spark.ui.showConsoleProgress", "false")
                           .config("spark.sql.shuffle.partitions", "4")
                           .config("spark.default.parallelism", "4")
                           .config("spark.driver.memory", "3g")
                           .config("spark.sql.session.timeZone", "UTC")
                           .config("spark.sql.ansi.enabled", "false"))
            _SESSION = builder.getOrCreate()
            _SESSION.sparkContext.setLogLevel("ERROR") if not remote else None
        return _SESSION


@register_engine
class SparkEngine(Engine):
    name = "spark"

    def __init__(self, warehouse: str | None = None, parquet_dir: str | None = None,
                 master: str | None = None, remote: str | None = None, **options):
        super().__init__(**options)
        self.warehouse = warehouse
        self.explicit_parquet = bool(parquet_dir)   # given parquet is trusted, never re-exported
        self.parquet_dir = Path(parquet_dir) if parquet_dir else (
            Path(warehouse).with_suffix("") .parent / "parquet" / Path(warehouse).stem
            if warehouse else None)
        self.master, self.remote = master, remote

    def _connect(self):
        try:
            return ibis.pyspark.connect(spark_session(self.master, self.remote))
        except Exception as e:
            raise EngineError(f"Cannot start Spark: {str(e).splitlines()[0]}") from None

    @property
    def dialect(self) -> str:
        return "pyspark"

    def _table(self, name: str, schema: str | None):
        view = f"{schema}__{name}" if schema else name
        path = self._parquet_for(name, schema)
        session = spark_session(self.master, self.remote)
        session.read.parquet(str(path)).createOrReplaceTempView(view)
        return self.con.table(view)

    def _parquet_for(self, name: str, schema: str | None) -> Path:
        if self.parquet_dir is None:
            raise EngineError("The Spark engine needs a warehouse or a parquet_dir.")
        folder = self.parquet_dir / schema if schema else self.parquet_dir
        for cand in (folder / f"{name}.parquet", folder / name):
            if cand.exists() and not self._stale(cand):
                return cand
        if not self.warehouse:
            raise EngineError(f"No parquet for table '{name}' in {folder}.")
        return self._export(name, schema, folder / f"{name}.parquet")

    def _stale(self, path: Path) -> bool:
        if self.explicit_parquet or not self.warehouse or not Path(self.warehouse).exists():
            return False
        return path.stat().st_mtime < Path(self.warehouse).stat().st_mtime

    def _export(self, name: str, schema: str | None, out: Path) -> Path:
        import duckdb
        out.parent.mkdir(parents=True, exist_ok=True)
        src = f'"{schema}"."{name}"' if schema else f'"{name}"'
        tmp = out.with_suffix(".tmp")
        with duckdb.connect(self.warehouse, read_only=True) as con:
            # identifiers come from the model file, quoted; the path is ours
            con.execute(f"COPY (SELECT * FROM {src}) TO '{tmp}' (FORMAT parquet)")
        tmp.replace(out)
        return out

    def execute(self, expr, sql: str | None = None) -> pd.DataFrame:
        try:
            return self.con.execute(expr)
        except Exception as e:
            raise EngineError(f"Query failed on Spark: {str(e).splitlines()[0]}") from None

    def data_version(self) -> str:
        if self.warehouse and Path(self.warehouse).exists():
            return str(Path(self.warehouse).stat().st_mtime_ns)
        return ""

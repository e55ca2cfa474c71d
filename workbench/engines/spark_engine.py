"""PySpark: the same models when data outgrows one machine.

Tables come from parquet: either a directory of `<table>.parquet` files/folders given in config,
or an export of the DuckDB warehouse made on first use and refreshed when the warehouse changes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import threading
from pathlib import Path

import ibis
import pandas as pd

from ..semantic.errors import EngineError
from ..semantic.model_sql import render
from .base import Engine, first_line
from .capabilities import ExportsParquet
from .duckdb_engine import open_error
from .errors import EngineUnavailable, MissingTable

_SESSION = None
_VIEW_TAGS = itertools.count(1)
_SESSION_LOCK = threading.Lock()


def spark_session(master: str | None = None, remote: str | None = None):
    """One shared session per process: starting Spark costs seconds."""
    global _SESSION
    with _SESSION_LOCK:
        if _SESSION is None:
            from pyspark.sql import SparkSession

            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = SparkSession.builder.appName("workbench")
            if remote:
                builder = builder.remote(remote)
            else:
                builder = (
                    builder.master(master or "local[*]")
                    .config("spark.ui.enabled", "false")
                    .config("spark.ui.showConsoleProgress", "false")
                    .config("spark.sql.shuffle.partitions", "4")
                    .config("spark.default.parallelism", "4")
                    .config("spark.driver.memory", "3g")
                    .config("spark.sql.session.timeZone", "UTC")
                    .config("spark.sql.ansi.enabled", "false")
                )
            _SESSION = builder.getOrCreate()
            _SESSION.sparkContext.setLogLevel("ERROR") if not remote else None
        return _SESSION


class SparkEngine(Engine, ExportsParquet):
    """PySpark, local or a cluster (`spark:` in workbench.yml). Warehouse tables are read from
    Parquet copies, exported from the DuckDB warehouse when missing or older than it."""

    name = "spark"
    settings_section = "spark"

    @classmethod
    def from_settings(cls, settings, **overrides) -> SparkEngine:
        warehouse = overrides.pop("warehouse", None) or settings.path(settings.warehouse)
        overrides.pop("read_only", None)
        opts = {
            "master": settings.spark.master,
            "remote": settings.spark.remote,
            "parquet_dir": settings.spark.parquet_dir,
            **overrides,
        }
        return cls(warehouse=str(warehouse), **opts)

    def __init__(
        self,
        warehouse: str | None = None,
        parquet_dir: str | None = None,
        master: str | None = None,
        remote: str | None = None,
        **options,
    ):
        super().__init__(**options)
        self.warehouse = warehouse
        self.explicit_parquet = bool(parquet_dir)  # given parquet is trusted, never re-exported
        self.parquet_dir = (
            Path(parquet_dir)
            if parquet_dir
            else (
                Path(warehouse).with_suffix("").parent / "parquet" / Path(warehouse).stem
                if warehouse
                else None
            )
        )
        self.master, self.remote = master, remote
        self._view_tag = next(_VIEW_TAGS)
        self._views: set[str] = set()

    def _connect(self):
        try:
            return ibis.pyspark.connect(spark_session(self.master, self.remote))
        except Exception as e:
            where = (
                f" at {self.remote}" if self.remote else f" on {self.master}" if self.master else ""
            )
            raise EngineUnavailable(f"Cannot start Spark{where}: {first_line(e)}") from None

    @property
    def dialect(self) -> str:
        return "pyspark"

    def view_name(self, name: str, schema: str | None) -> str:
        """The temporary view a warehouse table is registered as. Views live in the one shared
        session, so each engine gets its own prefix: two warehouses with an `orders` table (the
        shop and TPC-H, say) must not replace each other's view under a cached expression."""
        return f"wb{self._view_tag}_{schema}__{name}" if schema else f"wb{self._view_tag}_{name}"

    def model_sql_text(self, tree, schema: str | None) -> str:
        # sql_table has registered every table the query reads as a view (through table())
        return render(tree, self.con.dialect, schema=schema, rename=self.view_name)

    def _table(self, name: str, schema: str | None):
        view = self.view_name(name, schema)
        path = self.parquet_path(name, schema)
        session = spark_session(self.master, self.remote)
        session.read.parquet(str(path)).createOrReplaceTempView(view)
        self._views.add(view)
        return self.con.table(view)

    def close(self) -> None:
        # The session is shared by every Spark engine of the process (starting one costs
        # seconds), and Ibis' disconnect() stops it for all of them: drop only our views.
        with self._lock:
            if self._con is not None:
                session = spark_session(self.master, self.remote)
                for view in self._views:
                    with contextlib.suppress(Exception):  # already gone: nothing to drop
                        session.catalog.dropTempView(view)
            self._views.clear()
            self._con = None
            self._tables.clear()

    def parquet_path(self, name: str, schema: str | None = None) -> Path:
        if self.parquet_dir is None:
            raise EngineUnavailable("The Spark engine needs a warehouse or a parquet_dir.")
        folder = self.parquet_dir / schema if schema else self.parquet_dir
        for cand in (folder / f"{name}.parquet", folder / name):
            if cand.exists() and not self._stale(cand):
                return cand
        if not self.warehouse or not Path(self.warehouse).exists():
            raise MissingTable(
                f"{schema}.{name}" if schema else name,
                self.name,
                f"no {name}.parquet in {folder}"
                + (
                    f" and no warehouse {self.warehouse} to export it from"
                    if self.warehouse
                    else ""
                ),
            )
        return self._export(self.warehouse, name, schema, folder / f"{name}.parquet")

    def _stale(self, path: Path) -> bool:
        if self.explicit_parquet or not self.warehouse or not Path(self.warehouse).exists():
            return False
        return path.stat().st_mtime < Path(self.warehouse).stat().st_mtime

    def _export(self, warehouse: str, name: str, schema: str | None, out: Path) -> Path:
        import duckdb

        out.parent.mkdir(parents=True, exist_ok=True)
        src = f'"{schema}"."{name}"' if schema else f'"{name}"'
        tmp = out.with_suffix(".tmp")
        try:
            con = duckdb.connect(warehouse, read_only=True)
        except Exception as e:
            raise open_error(warehouse, e, read_only=True) from None
        try:
            # identifiers come from the model file, quoted; the path is ours
            con.execute(f"COPY (SELECT * FROM {src}) TO '{tmp}' (FORMAT parquet)")  # noqa: S608
        except duckdb.CatalogException:
            raise MissingTable(
                f"{schema}.{name}" if schema else name,
                self.name,
                f"not in the warehouse {warehouse}",
            ) from None
        finally:
            con.close()
        tmp.replace(out)
        return out

    def execute(self, expr, sql: str | None = None) -> pd.DataFrame:
        try:
            return self.con.execute(expr)
        except Exception as e:
            raise EngineError(f"Query failed on Spark: {first_line(e)}") from None

    def data_version(self) -> str:
        if self.warehouse and Path(self.warehouse).exists():
            return str(Path(self.warehouse).stat().st_mtime_ns)
        return ""

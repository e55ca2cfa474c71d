"""The Engine extension point: a small base class and a registry fed by entry points.

Built-in engines register through the same `workbench.engines` entry-point group a third-party
engine would use (see pyproject.toml).
"""
from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..semantic.errors import EngineError, closest

_REGISTRY: dict[str, type["Engine"]] = {}
_BUILTIN = {"duckdb": "workbench.engines.duckdb_engine:DuckDBEngine",
            "spark": "workbench.engines.spark_engine:SparkEngine",
            "postgres": "workbench.engines.postgres_engine:PostgresEngine"}


def register_engine(cls: type["Engine"]) -> type["Engine"]:
    _REGISTRY[cls.name] = cls
    return cls


def _discover() -> dict[str, str]:
    found = dict(_BUILTIN)
    for ep in entry_points(group="workbench.engines"):
        found[ep.name] = ep.value
    return found


def available_engines() -> list[str]:
    return sorted(set(_discover()) | set(_REGISTRY))


def get_engine_class(name: str) -> type["Engine"]:
    if name in _REGISTRY:
        return _REGISTRY[name]
    target = _discover().get(name)
    if target is None:
        raise EngineError(f"Unknown engine '{name}'. Available: {', '.join(available_engines())}."
                          + (f" Did you mean {closest(name, available_engines())[0]}?"
                             if closest(name, available_engines()) else ""))
    module, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module), attr)
    _REGISTRY[name] = cls
    return cls


class Engine:
    """One backend. Subclasses set `name` and implement `_connect` and `data_version`."""
    name: ClassVar[str] = ""

    def __init__(self, **options: Any):
        self.options = options
        self._con = None
        self._tables: dict[tuple, ir.Table] = {}
        self._lock = threading.RLock()

    # connection ---------------------------------------------------------------------------
    @property
    def con(self):
        with self._lock:
            if self._con is None:
                self._con = self._connect()
            return self._con

    def _connect(self):
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                try:
                    self._con.disconnect()
                except Exception:
                    pass
            self._con = None
            self._tables.clear()

    # tables -------------------------------------------------------------------------------
    def table(self, name: str, schema: str | None = None) -> ir.Table:
        key = (schema, name)
        with self._lock:
            if key not in self._tables:
                try:
                    self._tables[key] = self._table(name, schema)
                except EngineError:
                    raise
                except Exception as e:
                    where = f"{schema}.{name}" if schema else name
                    raise EngineError(f"Table '{where}' is not available on engine '{self.name}': "
                                      f"{str(e).splitlines()[0]}") from None
            return self._tables[key]

    def _table(self, name: str, schema: str | None) -> ir.Table:
        return self.con.table(name, database=schema) if schema else self.con.table(name)

    def sql_table(self, sql: str) -> ir.Table:
        """A model defined by SQL. The SQL is the model author's (reviewed YAML), never user text."""
        key = ("__sql__", sql)
        with self._lock:
            if key not in self._tables:
                try:
                    self._tables[key] = self.con.sql(sql)
                except Exception as e:
                    raise EngineError(f"Model SQL failed on engine '{self.name}': "
                                      f"{str(e).splitlines()[0]}") from None
            return self._tables[key]

    def has_table(self, name: str, schema: str | None = None) -> bool:
        try:
            self.table(name, schema)
            return True
        except EngineError:
            return False

    def schema_of(self, table: ir.Table) -> dict[str, str]:
        return {k: str(v) for k, v in table.schema().items()}

    # execution ----------------------------------------------------------------------------
    def to_sql(self, expr: ir.Table) -> str:
        return str(ibis.to_sql(expr, dialect=self.dialect))

    @property
    def dialect(self) -> str:
        return self.name

    def execute(self, expr: ir.Table, sql: str | None = None) -> pd.DataFrame:
        try:
            return self.con.execute(expr)
        except Exception as e:
            raise EngineError(f"Query failed on engine '{self.name}': {str(e).splitlines()[0]}") from None

    def data_version(self) -> str:
        """Changes whenever the data may have changed; part of every result-cache key."""
        return ""

    def invalidate(self) -> None:
        """Forget cached table handles (schemas may have changed after a refresh)."""
        with self._lock:
            self._tables.clear()

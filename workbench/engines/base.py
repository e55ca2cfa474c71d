"""The Engine extension point: a small base class and a registry fed by entry points.

Built-in engines are declared in the same `workbench.engines` entry-point group a third-party
engine uses (see pyproject.toml), and imported only when named (PySpark loads for Spark only).
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.common.exceptions import TableNotFound as IbisTableNotFound

from ..registry import Registry, UnknownPlugin
from ..semantic.errors import EngineError
from ..semantic.model_sql import ModelSQLError, parse_model_sql, render, source_tables
from .errors import EngineUnavailable, MissingTable, ModelSQLFailed


def first_line(error: BaseException) -> str:
    """A driver's message without its multi-line context (SQL echoes, hints, stack)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class Engine:
    """One backend. Subclasses set `name` and implement `_connect` and `data_version`;
    capability mixins (workbench.engines.capabilities) say what else they can do."""

    name: ClassVar[str] = ""
    #: The workbench.yml section `from_settings` reads (its fields are the engine's settings).
    settings_section: ClassVar[str | None] = None
    #: True for an embedded file only one process may open (DuckDB): while a Workbench server
    #: owns it, connect() elsewhere returns a session on that server.  Shared servers: False.
    single_process_file: ClassVar[bool] = False

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> Engine:
        """The engine as workbench.yml configures it; `overrides` (connect()'s keywords) win.
        `connect()` always passes `warehouse` (the resolved DuckDB file) and `read_only`;
        an engine that has no use for them ignores them."""
        overrides.pop("warehouse", None)
        overrides.pop("read_only", None)
        return cls(**overrides)

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
                try:
                    self._con = self._connect()
                except EngineError:
                    raise
                except Exception as e:
                    raise EngineUnavailable(
                        f"Cannot open engine '{self.name}': {first_line(e)}"
                    ) from None
            return self._con

    def _connect(self):
        """Open the backend. Failures to open (lock, connection, permission) raise
        EngineUnavailable naming the file or server, never a table error."""
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                try:
                    self._con.disconnect()
                except Exception:  # noqa: S110 - closing a connection that is already broken
                    pass
            self._con = None
            self._tables.clear()

    # tables -------------------------------------------------------------------------------
    def table(self, name: str, schema: str | None = None) -> ir.Table:
        key = (schema, name)
        with self._lock:
            if key not in self._tables:
                _ = self.con  # an engine that cannot be opened says so, whatever the table
                try:
                    self._tables[key] = self._table(name, schema)
                except EngineError:
                    raise
                except Exception as e:
                    raise self.table_error(f"{schema}.{name}" if schema else name, e) from None
            return self._tables[key]

    def _table(self, name: str, schema: str | None) -> ir.Table:
        return self.con.table(name, database=schema) if schema else self.con.table(name)

    def table_error(self, where: str, error: Exception) -> EngineError:
        """The error for a failed table lookup: MissingTable only when the table is absent.
        Engines whose driver reports lost connections here override this."""
        if isinstance(error, IbisTableNotFound):
            return MissingTable(where, self.name)
        return EngineError(
            f"Table '{where}' could not be read on engine '{self.name}': {first_line(error)}"
        )

    def sql_table(self, sql: str, schema: str | None = None) -> ir.Table:
        """A model defined by SQL. The SQL is the model author's (reviewed YAML), never user
        text; it must still be one SELECT. Unqualified tables are looked up in `schema`, like
        a `table:` model's."""
        key = ("__sql__", schema, sql)
        with self._lock:
            if key not in self._tables:
                try:
                    tree = parse_model_sql(sql)
                except ModelSQLError as e:
                    raise ModelSQLFailed(str(e)) from None
                # Each table the query reads is looked up first, so an absent one is a
                # MissingTable and a closed engine is EngineUnavailable, as for `table:` models.
                for t in source_tables(tree):
                    if not t.catalog:
                        self.table(t.name, t.db or schema)
                text = self.model_sql_text(tree, schema)
                try:
                    self._tables[key] = self.con.sql(text, schema=self.sql_schema(text))
                except EngineError:
                    raise
                except Exception as e:
                    raise ModelSQLFailed(
                        f"the model's SQL failed on engine '{self.name}': {first_line(e)}"
                    ) from None
            return self._tables[key]

    def model_sql_text(self, tree, schema: str | None) -> str:
        """The model's parsed SQL written for this engine (sqlglot transpiles the dialect)."""
        return render(tree, self.con.dialect, schema=schema)

    def sql_schema(self, sql: str):
        """The columns of a query, found without leaving a result open; None lets Ibis ask."""
        return None

    def has_table(self, name: str, schema: str | None = None) -> bool:
        try:
            self.table(name, schema)
            return True
        except MissingTable:
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
            raise EngineError(f"Query failed on engine '{self.name}': {first_line(e)}") from None

    def data_version(self) -> str:
        """Changes whenever the data may have changed; part of every result-cache key."""
        return ""

    def invalidate(self) -> None:
        """Forget cached table handles (schemas may have changed after a refresh)."""
        with self._lock:
            self._tables.clear()


class UnknownEngine(UnknownPlugin, EngineError):
    """No engine of that name (an EngineError, as it always was, and the registries' one error)."""


ENGINES: Registry[Engine] = Registry("engine", "workbench.engines", Engine, error=UnknownEngine)

#: ``@register_engine`` on an ``Engine`` subclass with a ``name`` (tests and notebooks; a package
#: declares a ``workbench.engines`` entry point instead).
register_engine = ENGINES.register


def available_engines() -> list[str]:
    return ENGINES.names()


def get_engine_class(name: str) -> type[Engine]:
    return ENGINES.get(name)

"""What went wrong with an engine, precisely enough that nobody mistakes one failure for another.

A lock, a refused connection or a permission says nothing about which tables exist; only
`MissingTable` does. Callers decide "missing tables" from that class alone.
"""

from __future__ import annotations

from ..semantic.errors import EngineError


class EngineUnavailable(EngineError):
    """The engine could not be opened or reached at all (lock, connection, permission, file)."""


class WarehouseLocked(EngineUnavailable):
    """Another process holds the DuckDB file's lock."""

    def __init__(self, message: str, path: str, holder_pid: int | None = None):
        self.path, self.holder_pid = path, holder_pid
        super().__init__(message)


class WarehousePermissionDenied(EngineUnavailable):
    """This process may not read (or write) the warehouse file or folder."""

    def __init__(self, message: str, path: str):
        self.path = path
        super().__init__(message)


class MissingTable(EngineError):
    """The engine is reachable and the table is not there."""

    def __init__(self, table: str, engine: str, detail: str = ""):
        self.table, self.engine = table, engine
        super().__init__(
            f"Table '{table}' is not in the warehouse (engine '{engine}')"
            + (f": {detail}" if detail else ".")
        )


class ModelSQLFailed(EngineError):
    """The engine rejected a model's SQL (a column it does not have, a function it lacks)."""

    def __init__(self, problem: str):
        self.problem = problem
        super().__init__(problem)

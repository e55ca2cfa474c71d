"""What an engine can do beyond running Ibis expressions, as mixins (Ibis' `CanCreateDatabase`
style). Callers ask `isinstance(engine, SupportsCursor)` instead of reaching into the driver
(`engine.con.con`) or an engine's private helpers."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class SupportsCursor:
    """Hands out a DB-API cursor on the engine's own connection: same file, same snapshot of
    the data the engine's queries see. The caller closes the cursor."""

    def cursor(self) -> Any:
        raise NotImplementedError

    def native_connection(self) -> Any:
        """The driver's connection itself, for a library that wants one (Great Expectations)."""
        raise NotImplementedError


class ExportsParquet:
    """Can name (exporting first, when stale or missing) a Parquet copy of a warehouse table,
    which is how Spark reads tables it does not own."""

    def parquet_path(self, name: str, schema: str | None = None) -> Path:
        raise NotImplementedError

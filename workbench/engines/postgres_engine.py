"""PostgreSQL through Ibis: the same models on the production database."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import ibis

from ..semantic.errors import EngineError
from .base import Engine, first_line
from .errors import EngineUnavailable


def redacted(url: str) -> str:
    """The URL without its password, fit for a message or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresEngine(Engine):
    """PostgreSQL through Ibis (`postgres.url` in workbench.yml); the password never appears in
    a message."""

    name = "postgres"
    settings_section = "postgres"

    @classmethod
    def from_settings(cls, settings, **overrides) -> PostgresEngine:
        overrides.pop("warehouse", None)
        overrides.pop("read_only", None)
        return cls(url=overrides.pop("url", settings.postgres.url), **overrides)

    def __init__(self, url: str | None = None, **options):
        super().__init__(**options)
        self.url = url or "postgres://postgres@127.0.0.1:5432/postgres"

    @property
    def server(self) -> str:
        parts = urlsplit(self.url)
        db = parts.path.strip("/").split("/")[0]
        return f"{parts.hostname or 'localhost'}:{parts.port or 5432}" + (f"/{db}" if db else "")

    def _connect(self):
        try:
            return ibis.connect(self.url)
        except Exception as e:
            raise EngineUnavailable(
                f"Cannot connect to the PostgreSQL server {self.server} ({redacted(self.url)}): "
                f"{_driver_message(e)}. Check that the server runs and accepts this user, and the "
                "URL (postgres.url in workbench.yml, or connect(url=...))."
            ) from None

    def table_error(self, where: str, error: Exception) -> EngineError:
        if self._lost(error):
            self.close()  # reconnect on the next use
            return EngineUnavailable(
                f"Lost the connection to the PostgreSQL server {self.server} "
                f"while reading table '{where}': {_driver_message(error)}."
            )
        return super().table_error(where, error)

    def sql_schema(self, sql: str):
        # Ibis 12 learns a query's columns from a temporary view that it then fails to drop
        # with today's sqlglot (it sends "DROP VIEW IF EXISTS" without the name). The same
        # idea, inside a transaction that is rolled back, so nothing is left behind.
        import psycopg

        name = f"wb_model_sql_{uuid.uuid4().hex[:12]}"
        con, schema = self.con.con, None
        with con.transaction():
            with con.cursor() as cur:
                cur.execute(f'CREATE TEMPORARY VIEW "{name}" AS {sql}')
            schema = self.con.get_schema(name)
            raise psycopg.Rollback()
        return schema

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
        except EngineError:
            raise
        except Exception as e:
            try:
                self.con.con.rollback()
            except Exception:  # noqa: S110 - the original error is what is reported below
                pass
            if self._lost(e):
                self.close()
                raise EngineUnavailable(
                    f"Lost the connection to the PostgreSQL server "
                    f"{self.server}: {_driver_message(e)}."
                ) from None
            raise EngineError(f"Query failed on PostgreSQL: {first_line(e)}") from None

    def _lost(self, error: Exception) -> bool:
        """Whether the server went away (not a timeout or a cancelled statement, which psycopg
        also reports as OperationalError): the driver's connection is closed then."""
        try:
            import psycopg
        except ImportError:
            return False
        if not isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)):
            return False
        driver = getattr(self._con, "con", None)
        return driver is None or bool(getattr(driver, "closed", True))

    def data_version(self) -> str:
        return str(getattr(self, "_bump", 0))

    def invalidate(self) -> None:
        super().invalidate()
        self._bump = getattr(self, "_bump", 0) + 1


def _driver_message(error: Exception) -> str:
    # psycopg: 'connection failed: connection to server at "h", port p failed: FATAL:  ...'
    text = first_line(error).removeprefix("connection failed: ")
    return " ".join(text.split())

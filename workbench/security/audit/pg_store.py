"""The PostgreSQL audit store: the same tables in a schema of their own, one connection per
process in autocommit (each append is one INSERT, one round trip).

Table and schema names go through psycopg2.sql.Identifier; values are always parameters."""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from ...engines.postgres_engine import redacted
from .chain import GENESIS, Entry
from .checkpoints import Checkpoint
from .errors import AuditError
from .store import COLUMNS, CP_COLUMNS, AuditStore, Search, filters

SCHEMA_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.audit_entries (
  seq bigint PRIMARY KEY, time text NOT NULL, user_name text, action text NOT NULL,
  outcome text NOT NULL, body text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL);
CREATE INDEX IF NOT EXISTS audit_entries_time ON {s}.audit_entries(time);
CREATE INDEX IF NOT EXISTS audit_entries_user ON {s}.audit_entries(user_name, time);
CREATE INDEX IF NOT EXISTS audit_entries_action ON {s}.audit_entries(action, time);
CREATE TABLE IF NOT EXISTS {s}.audit_checkpoints (
  seq bigint PRIMARY KEY, hash text NOT NULL, time text NOT NULL, key_id text NOT NULL,
  signature text NOT NULL);
CREATE OR REPLACE FUNCTION {s}.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'audit % are append-only', TG_TABLE_NAME; END $$;
"""
TRIGGERS = ("audit_entries", "audit_checkpoints")


class PostgresStore(AuditStore):
    def __init__(self, url: str, schema: str = "workbench_audit", synchronous: str = "normal"):
        if not SCHEMA_RE.match(schema or ""):
            raise AuditError(
                f"audit schema {schema!r} must be a plain identifier (letters, digits, _)"
            )
        import psycopg2
        import psycopg2.errors  # noqa: F401 (UniqueViolation, used by try_append_many)
        from psycopg2 import sql

        self._psycopg2, self._sql = psycopg2, sql
        self.url, self.schema, self.synchronous = url, schema, synchronous
        self.where = f"audit store {redacted(url)} (schema {schema})"
        self._lock = threading.Lock()
        self._conn: Any = None  # a psycopg2 connection (psycopg2 ships no type hints)
        self._pid: int | None = None
        s = sql.Identifier(schema)
        self._t = sql.SQL("{}.audit_entries").format(s)
        self._cp = sql.SQL("{}.audit_checkpoints").format(s)
        self._insert = sql.SQL(
            "INSERT INTO {} (" + COLUMNS + ") VALUES (%s,%s,%s,%s,%s,%s,%s,%s) "  # noqa: S608 - table names are sql.Identifier-composed, column list is a constant; values bound
            "ON CONFLICT (seq) DO NOTHING"
        ).format(self._t)
        self._create()

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._pid != os.getpid():
            try:
                conn = self._psycopg2.connect(
                    self.url, connect_timeout=5, application_name="workbench-audit"
                )
            except self._psycopg2.Error as e:
                raise AuditError(f"cannot connect to {self.where}: {str(e).strip()}") from None
            conn.autocommit = True
            if self.synchronous != "full":
                # commits stop waiting for the WAL flush (~1 ms per entry on a busy disk); order
                # and integrity are unchanged, only an OS or server crash can drop the newest
                # entries, the same promise as SQLite's synchronous=NORMAL
                with conn.cursor() as cur:
                    cur.execute("SET synchronous_commit = off")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _create(self) -> None:
        sql = self._sql
        s = sql.Identifier(self.schema)
        with self._lock:
            conn = self._connection()
            try:
                with conn.cursor() as cur:
                    cur.execute("BEGIN")
                    # concurrent CREATE ... IF NOT EXISTS can still collide in the catalog
                    cur.execute("SELECT pg_advisory_xact_lock(hashtext('workbench.audit.ddl'))")
                    cur.execute(sql.SQL(DDL).format(s=s))
                    for table in TRIGGERS:
                        cur.execute(
                            "SELECT 1 FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s "
                            "AND c.relname = %s AND t.tgname = %s",
                            (self.schema, table, table + "_append_only"),
                        )
                        if cur.fetchone() is None:
                            cur.execute(
                                sql.SQL(
                                    "CREATE TRIGGER {} BEFORE UPDATE OR DELETE OR TRUNCATE ON {}.{} "
                                    "FOR EACH STATEMENT EXECUTE FUNCTION {}.audit_append_only()"
                                ).format(
                                    sql.Identifier(table + "_append_only"),
                                    s,
                                    sql.Identifier(table),
                                    s,
                                )
                            )
                    cur.execute("COMMIT")
            except self._psycopg2.Error as e:
                if not conn.closed:
                    conn.cursor().execute("ROLLBACK")
                raise AuditError(
                    f"cannot create the tables of {self.where}: {str(e).strip()}"
                ) from None

    def _rows(self, query: Any, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._run(query, args, fetch=True)
        return rows

    def _count(self, query: Any, args: Sequence[Any] = ()) -> int:
        """Rows the statement changed."""
        return int(self._run(query, args, fetch=False))

    def _run(self, query: Any, args: Sequence[Any], fetch: bool) -> Any:
        """`query` is a psycopg2.sql Composable; the rows if `fetch`, else the row count."""
        with self._lock:
            conn = self._connection()
            try:
                with conn.cursor() as cur:
                    cur.execute(query, args)
                    return cur.fetchall() if fetch else cur.rowcount
            except self._psycopg2.OperationalError as e:
                self._conn = None  # a dropped connection is reopened on the next call
                raise AuditError(f"{self.where}: {str(e).strip()}") from None
            except self._psycopg2.Error as e:
                raise AuditError(f"{self.where}: {str(e).strip()}") from None

    def last(self) -> tuple[int, str]:
        rows = self._rows(
            self._sql.SQL("SELECT seq, hash FROM {} ORDER BY seq DESC LIMIT 1").format(self._t)
        )
        return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)

    def try_append(self, e: Entry) -> bool:
        n = self._count(
            self._insert,
            (e.seq, e.time, e.user, e.action, e.outcome, e.body, e.prev_hash, e.hash),
        )
        return n == 1

    def try_append_many(self, entries: list[Entry]) -> bool:
        from psycopg2.extras import execute_values

        rows = [
            (e.seq, e.time, e.user, e.action, e.outcome, e.body, e.prev_hash, e.hash)
            for e in entries
        ]
        q = self._sql.SQL("INSERT INTO {} (" + COLUMNS + ") VALUES %s").format(self._t)  # noqa: S608 - COLUMNS is a module constant, the table an sql.Identifier; values bound by execute_values
        with self._lock:
            conn = self._connection()
            try:
                with conn.cursor() as cur:
                    cur.execute("BEGIN")
                    execute_values(cur, q.as_string(conn), rows, page_size=1000)
                    cur.execute("COMMIT")
                return True
            except self._psycopg2.Error as e:
                if conn.closed:
                    self._conn = None
                else:
                    conn.cursor().execute("ROLLBACK")
                if isinstance(e, self._psycopg2.errors.UniqueViolation):
                    return False
                raise AuditError(f"{self.where}: {str(e).strip()}") from None

    def add_checkpoint(self, cp: Checkpoint) -> None:
        self._count(
            self._sql.SQL(
                "INSERT INTO {} (" + CP_COLUMNS + ") VALUES (%s,%s,%s,%s,%s) "  # noqa: S608 - table composed with sql.Identifier; values bound
                "ON CONFLICT (seq) DO NOTHING"
            ).format(self._cp),
            (cp.seq, cp.hash, cp.time, cp.key_id, cp.signature),
        )

    def entries(
        self,
        since: str | None = None,
        until: str | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Entry]:
        where, args = filters(since, until, user, action, "%s")
        q = "SELECT " + COLUMNS + " FROM {}" + where + " ORDER BY seq, ctid"  # noqa: S608 - fixed WHERE fragments with %s placeholders; values bound
        if limit is not None:
            q += " LIMIT %s"
            args.append(int(limit))
        return self._scan(self._sql.SQL(q).format(self._t), args)

    def _scan(self, query: Any, args: list[str | int]) -> Iterator[Entry]:
        """A server-side cursor on a connection of its own: one batch in memory at a time."""
        try:
            conn = self._psycopg2.connect(
                self.url, connect_timeout=5, application_name="workbench-audit"
            )
        except self._psycopg2.Error as e:
            raise AuditError(f"cannot connect to {self.where}: {str(e).strip()}") from None

        def rows() -> Iterator[Entry]:
            try:
                with conn.cursor(name=f"audit_scan_{uuid.uuid4().hex[:12]}") as cur:
                    cur.itersize = 2000
                    cur.execute(query, args)
                    yield from (Entry(*r) for r in cur)
            except self._psycopg2.Error as e:
                raise AuditError(f"{self.where}: {str(e).strip()}") from None
            finally:
                conn.close()

        return rows()

    def search(self, found: Search, limit: int, offset: int) -> tuple[int, list[Entry]]:
        where, args = found.where("%s")
        count = self._sql.SQL("SELECT count(*) FROM {}" + where).format(self._t)  # noqa: S608 - fixed WHERE fragments with %s placeholders; values bound
        total = self._rows(count, args)[0][0]
        q = "SELECT " + COLUMNS + " FROM {}" + where  # noqa: S608 - constant columns, fixed WHERE fragments; values bound
        q += " ORDER BY seq DESC, ctid DESC LIMIT %s OFFSET %s"
        page = self._rows(self._sql.SQL(q).format(self._t), [*args, int(limit), int(offset)])
        return int(total), [Entry(*r) for r in page]

    def hourly(self, found: Search) -> list[tuple[str, str, int]]:
        where, args = found.where("%s")
        q = "SELECT substr(time, 1, 13) AS hour, action, count(*) FROM {}" + where  # noqa: S608 - fixed WHERE fragments with %s placeholders; values bound
        q += " GROUP BY hour, action ORDER BY hour, action"
        rows = self._rows(self._sql.SQL(q).format(self._t), args)
        return [(str(h), str(a), int(n)) for h, a, n in rows]

    def checkpoints(self) -> list[Checkpoint]:
        q = self._sql.SQL("SELECT " + CP_COLUMNS + " FROM {} ORDER BY seq, ctid").format(self._cp)  # noqa: S608 - CP_COLUMNS is a module constant, the table an sql.Identifier
        rows = self._rows(q)
        return [Checkpoint(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

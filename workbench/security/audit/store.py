"""Where entries are kept: one small append-only interface, two implementations.

Linearity under several threads and processes comes from the database, not from a lock file:
every writer proposes the next seq after the last hash it knows, and the primary key on seq
lets exactly one proposal per position in. A writer that loses re-reads the newest entry and
proposes again, so each entry's prev_hash is always the hash of the entry just before it.
Triggers refuse UPDATE and DELETE, so the application itself can only append; someone with
the database's own rights can still edit rows, which is what verification is for.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .chain import GENESIS, Entry
from .checkpoints import Checkpoint
from .errors import AuditError

COLUMNS = "seq, time, user_name, action, outcome, body, prev_hash, hash"
CP_COLUMNS = "seq, hash, time, key_id, signature"


class AuditStore(ABC):
    """Append-only entries and checkpoints. `where` names the store in every error."""

    where: str

    @abstractmethod
    def last(self) -> tuple[int, str]:
        """(seq, hash) of the newest entry; (0, GENESIS) when the log is empty."""

    @abstractmethod
    def try_append(self, entry: Entry) -> bool:
        """Insert `entry`; False when its seq is already taken (another writer got there first)."""

    @abstractmethod
    def try_append_many(self, entries: list[Entry]) -> bool:
        """Insert all of `entries` in one transaction, or none (False) if a seq is taken."""

    @abstractmethod
    def add_checkpoint(self, cp: Checkpoint) -> None:
        """Keep `cp`; a second checkpoint for the same seq is ignored (the first one stands)."""

    @abstractmethod
    def entries(
        self,
        since: str | None = None,
        until: str | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Entry]:
        """Entries in seq order (ties in storage order), filtered by time text range, user, and
        action or action prefix ("auth." matches every auth action)."""

    @abstractmethod
    def search(self, found: Search, limit: int, offset: int) -> tuple[int, list[Entry]]:
        """(how many entries match, the page of them newest first: `offset` skipped, at most
        `limit`); see :class:`Search` for what matches."""

    @abstractmethod
    def hourly(self, found: Search) -> list[tuple[str, str, int]]:
        """(hour as "YYYY-MM-DDTHH", action, entries) for the entries that match."""

    @abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint in seq order."""

    @abstractmethod
    def close(self) -> None: ...


def filters(
    since: str | None, until: str | None, user: str | None, action: str | None, mark: str
) -> tuple[str, list[str | int]]:
    """WHERE text with placeholders (values are always parameters, never SQL text)."""
    where: list[str] = []
    args: list[str | int] = []
    if since is not None:
        where.append(f"time >= {mark}")
        args.append(since)
    if until is not None:
        where.append(f"time < {mark}")
        args.append(until)
    if user is not None:
        where.append(f"user_name = {mark}")
        args.append(user)
    if action is not None:
        if action.endswith("."):
            escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(f"action LIKE {mark} ESCAPE '\\'")
            args.append(escaped + "%")
        else:
            where.append(f"action = {mark}")
            args.append(action)
    return (" WHERE " + " AND ".join(where)) if where else "", args


@dataclass(frozen=True)
class Search:
    """What a search of the log matches (workbench.security.audit.search builds it from request
    parameters): a time text range [since, until), one user, an action (itself and its dotted
    family: "login" matches login.success; "login." only the family) and a text anywhere in the
    entry's JSON, case-insensitively."""

    since: str | None = None
    until: str | None = None
    user: str | None = None
    action: str | None = None
    text: str | None = None

    def where(self, mark: str) -> tuple[str, list[str | int]]:
        """WHERE text with placeholders `mark` (values are always parameters, never SQL text)."""
        where, args = filters(self.since, self.until, self.user, None, mark)
        parts = [where[len(" WHERE ") :]] if where else []
        if self.action is not None:
            family = _like_escaped(self.action.rstrip(".")) + ".%"
            if self.action.endswith("."):
                parts.append(f"action LIKE {mark} ESCAPE '\\'")
                args.append(family)
            else:
                parts.append(f"(action = {mark} OR action LIKE {mark} ESCAPE '\\')")
                args += [self.action, family]
        if self.text:
            parts.append(f"lower(body) LIKE {mark} ESCAPE '\\'")
            args.append("%" + _like_escaped(self.text.lower()) + "%")
        return (" WHERE " + " AND ".join(parts)) if parts else "", args


def _like_escaped(text: str) -> str:
    """`text` matched literally inside a LIKE pattern whose escape character is a backslash."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_entries (
  seq INTEGER PRIMARY KEY, time TEXT NOT NULL, user_name TEXT, action TEXT NOT NULL,
  outcome TEXT NOT NULL, body TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_entries_time ON audit_entries(time);
CREATE INDEX IF NOT EXISTS audit_entries_user ON audit_entries(user_name, time);
CREATE INDEX IF NOT EXISTS audit_entries_action ON audit_entries(action, time);
CREATE TABLE IF NOT EXISTS audit_checkpoints (
  seq INTEGER PRIMARY KEY, hash TEXT NOT NULL, time TEXT NOT NULL, key_id TEXT NOT NULL,
  signature TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS audit_entries_no_update BEFORE UPDATE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_entries_no_delete BEFORE DELETE ON audit_entries
  BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
  BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
"""


class SQLiteStore(AuditStore):
    """The embedded store: one SQLite file in WAL mode (readers never block the writer).

    synchronous=NORMAL survives a crash of any process; only an OS crash or power loss can drop
    the newest commits. FULL makes every entry durable at the cost of an fsync each."""

    def __init__(self, path: str | Path, synchronous: str = "normal"):
        self.path = Path(path)
        self.where = f"audit store {self.path}"
        self.synchronous = synchronous
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._connection()
            with self._lock:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in SQLITE_SCHEMA.split(";\n"):  # trigger bodies have no ";\n"
                        if stmt.strip():
                            conn.execute(stmt)
                    conn.execute("COMMIT")
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as e:
            raise AuditError(f"cannot open {self.where}: {e}") from None
        except OSError as e:
            raise AuditError(f"cannot create {self.where}: {e}") from None

    def _connection(self) -> sqlite3.Connection:
        # a connection inherited across fork() is unsafe to use: reopen in the child
        if self._conn is None or self._pid != os.getpid():
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={'FULL' if self.synchronous == 'full' else 'NORMAL'}")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _run(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            with self._lock:
                return self._connection().execute(sql, args)
        except sqlite3.Error as e:
            raise AuditError(f"{self.where}: {e}") from None

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                rows: list[tuple[Any, ...]] = self._connection().execute(sql, args).fetchall()
                return rows
        except sqlite3.Error as e:
            raise AuditError(f"{self.where}: {e}") from None

    def last(self) -> tuple[int, str]:
        rows = self._rows("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
        return (rows[0][0], rows[0][1]) if rows else (0, GENESIS)

    def try_append(self, e: Entry) -> bool:
        cur = self._run(
            f"INSERT INTO audit_entries ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?) "  # noqa: S608 - COLUMNS is a module constant; values bound (?)
            "ON CONFLICT(seq) DO NOTHING",
            (e.seq, e.time, e.user, e.action, e.outcome, e.body, e.prev_hash, e.hash),
        )
        return cur.rowcount == 1

    def try_append_many(self, entries: list[Entry]) -> bool:
        rows = [
            (e.seq, e.time, e.user, e.action, e.outcome, e.body, e.prev_hash, e.hash)
            for e in entries
        ]
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                insert = f"INSERT INTO audit_entries ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?)"  # noqa: S608 - COLUMNS is a module constant; values bound (?)
                conn.executemany(insert, rows)
                conn.execute("COMMIT")
                return True
            except sqlite3.Error as e:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if isinstance(e, sqlite3.IntegrityError) and "UNIQUE" in str(e):
                    return False
                raise AuditError(f"{self.where}: {e}") from None

    def add_checkpoint(self, cp: Checkpoint) -> None:
        self._run(
            f"INSERT INTO audit_checkpoints ({CP_COLUMNS}) VALUES (?,?,?,?,?) "  # noqa: S608 - CP_COLUMNS is a module constant; values bound (?)
            "ON CONFLICT(seq) DO NOTHING",
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
        where, args = filters(since, until, user, action, "?")
        sql = f"SELECT {COLUMNS} FROM audit_entries{where} ORDER BY seq, rowid"  # noqa: S608 - constant columns, WHERE built from fixed fragments with ? placeholders
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return self._scan(sql, args)

    def _scan(self, sql: str, args: list[str | int]) -> Iterator[Entry]:
        """Rows streamed from a read-only connection of their own: verifying or exporting a
        large log holds one batch in memory, and writers are not blocked meanwhile (WAL)."""
        try:
            conn = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=ro", uri=True, timeout=30.0
            )
        except sqlite3.Error as e:
            raise AuditError(f"cannot read {self.where}: {e}") from None

        def rows() -> Iterator[Entry]:
            try:
                cur = conn.execute(sql, args)
                while batch := cur.fetchmany(2000):
                    yield from (Entry(*r) for r in batch)
            except sqlite3.Error as e:
                raise AuditError(f"{self.where}: {e}") from None
            finally:
                conn.close()

        return rows()

    def search(self, found: Search, limit: int, offset: int) -> tuple[int, list[Entry]]:
        where, args = found.where("?")
        total = self._rows(f"SELECT count(*) FROM audit_entries{where}", args)[0][0]  # noqa: S608 - WHERE from fixed fragments with ? placeholders
        page = self._rows(
            f"SELECT {COLUMNS} FROM audit_entries{where} ORDER BY seq DESC, rowid DESC "  # noqa: S608 - constant columns, WHERE from fixed fragments; values bound
            "LIMIT ? OFFSET ?",
            [*args, int(limit), int(offset)],
        )
        return int(total), [Entry(*r) for r in page]

    def hourly(self, found: Search) -> list[tuple[str, str, int]]:
        where, args = found.where("?")
        rows = self._rows(
            f"SELECT substr(time, 1, 13) AS hour, action, count(*) FROM audit_entries{where} "  # noqa: S608 - WHERE from fixed fragments with ? placeholders
            "GROUP BY hour, action ORDER BY hour, action",
            args,
        )
        return [(str(h), str(a), int(n)) for h, a, n in rows]

    def checkpoints(self) -> list[Checkpoint]:
        query = f"SELECT {CP_COLUMNS} FROM audit_checkpoints ORDER BY seq, rowid"  # noqa: S608 - CP_COLUMNS is a module constant
        rows = self._rows(query)
        return [Checkpoint(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

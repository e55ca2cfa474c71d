"""The small sqlite files of the security services (users, sessions): private on disk, one
connection per thread and process, reused, because access-token validation reads them on
every request and opening a connection costs more than the look-up itself."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def secure_file(path: Path) -> None:
    """Create ``path``'s folder (0700) and the file itself (0600) before sqlite opens it, so it
    is never readable by others, not even for a moment. (sqlite gives its -wal and -shm files
    the database file's permissions.)"""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


class SQLiteFile:
    def __init__(self, path: Path, schema: str):
        self.path = path
        secure_file(path)
        self._local = threading.local()
        with self.connection() as db:
            db.execute("pragma journal_mode=wal")
            db.executescript(schema)

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        con = getattr(self._local, "con", None)
        # A connection must not cross a fork: a child process opens its own.
        if con is None or self._local.pid != os.getpid():
            con = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self._local.con, self._local.pid = con, os.getpid()
        yield con

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction (the write lock taken at once, so read-then-write races
        between processes are serialised)."""
        with self.connection() as db:
            db.execute("begin immediate")
            try:
                yield db
                db.execute("commit")
            except BaseException:
                db.execute("rollback")
                raise

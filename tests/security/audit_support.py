"""Audit logs on both stores for the audit tests, and an "attacker" that edits a store the way
someone with the database's own rights could (triggers dropped, constraints removed)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.support.prerequisites import require_service
from workbench.config import AuditSettings
from workbench.security.audit import AuditLog

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"
PG_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/{PG_DB}"
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.services)]


def sha256_link(prev_hex: str, body: str) -> str:
    """The chain rule written out independently of the code under test."""
    return hashlib.sha256(bytes.fromhex(prev_hex) + body.encode("utf-8")).hexdigest()


def canonical(obj) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Attacker:
    """Raw SQL on a store, behind the log's back. `{e}`/`{c}` are the entry and checkpoint
    tables, `{p}` a parameter placeholder."""

    def __init__(self, kind: str, target: str, schema: str | None = None):
        self.kind, self.target, self.schema = kind, target, schema
        if kind == "sqlite":
            self.conn = sqlite3.connect(target, isolation_level=None)
            self.e, self.c, self.p = "audit_entries", "audit_checkpoints", "?"
            for t in (
                "audit_entries_no_update",
                "audit_entries_no_delete",
                "audit_checkpoints_no_update",
                "audit_checkpoints_no_delete",
            ):
                self.conn.execute(f"DROP TRIGGER IF EXISTS {t}")
        else:
            import psycopg2

            self.conn = psycopg2.connect(target)
            self.conn.autocommit = True
            self.e, self.c, self.p = f"{schema}.audit_entries", f"{schema}.audit_checkpoints", "%s"
            for t in ("audit_entries", "audit_checkpoints"):
                self.run(f"DROP TRIGGER IF EXISTS {t}_append_only ON {schema}.{t}")

    def run(self, sql: str, args=()):
        text = sql.format(e=self.e, c=self.c, p=self.p)
        if self.kind == "sqlite":
            return self.conn.execute(text, args).fetchall()
        with self.conn.cursor() as cur:
            cur.execute(text, args)
            return cur.fetchall() if cur.description else []

    def row(self, seq: int) -> dict:
        cols = ["seq", "time", "user_name", "action", "outcome", "body", "prev_hash", "hash"]
        (r,) = self.run("SELECT " + ", ".join(cols) + " FROM {e} WHERE seq = {p}", (seq,))
        return dict(zip(cols, r, strict=True))

    def insert(self, row: dict, table: str = "e") -> None:
        cols = list(row)
        self.run(
            "INSERT INTO {"
            + table
            + "} ("
            + ", ".join(cols)
            + ") VALUES ("
            + ", ".join(["{p}"] * len(cols))
            + ")",
            tuple(row.values()),
        )

    def drop_unique_seq(self, table: str) -> None:
        """Remove the primary key on seq, as a DBA could, so duplicates can be stored."""
        if self.kind == "postgres":
            self.run(f"ALTER TABLE {self.schema}.{table} DROP CONSTRAINT {table}_pkey")
            return
        cols = self.conn.execute(f"PRAGMA table_info({table})").fetchall()
        names = ", ".join(c[1] for c in cols)
        self.conn.execute(f"CREATE TABLE {table}_copy AS SELECT * FROM {table}")
        self.conn.execute(f"DROP TABLE {table}")
        self.conn.execute(f"ALTER TABLE {table}_copy RENAME TO {table}")
        assert names

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def audit_env(request, tmp_path: Path):
    """make(**settings) -> (AuditLog, Attacker factory); one scratch store per test."""
    kind = request.param
    made, attackers, schemas = [], [], []

    def make(checkpoint_every: int = 10, checkpoint_minutes: float = 60.0, key_path=None):
        if kind == "sqlite":
            s = AuditSettings(
                path=str(tmp_path / "audit.sqlite"),
                checkpoint_every=checkpoint_every,
                checkpoint_minutes=checkpoint_minutes,
                key_path=str(key_path or tmp_path / "keys" / "audit.pem"),
            )
        else:
            require_service("PostgreSQL", PG_HOST, PG_PORT)
            if not schemas:
                schemas.append(f"wb_audit_test_{uuid.uuid4().hex[:10]}")
            s = AuditSettings(
                url=PG_URL,
                pg_schema=schemas[0],
                checkpoint_every=checkpoint_every,
                checkpoint_minutes=checkpoint_minutes,
                key_path=str(key_path or tmp_path / "keys" / "audit.pem"),
            )
        log = AuditLog.open(s)
        made.append(log)

        def attacker() -> Attacker:
            a = Attacker(kind, s.path if kind == "sqlite" else PG_URL, s.pg_schema)
            attackers.append(a)
            return a

        return log, attacker

    make.kind = kind
    try:
        yield make
    finally:
        for closable in attackers + made:
            # a broken connection must not keep the scratch schema alive
            with contextlib.suppress(Exception):
                closable.close()
        _drop(schemas)


def _drop(schemas: list[str]) -> None:
    if schemas:
        import psycopg2

        conn = psycopg2.connect(PG_URL)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schemas[0]} CASCADE")
        conn.close()


def fill(log: AuditLog, n: int = 25) -> list:
    """n entries of mixed actions by two users."""
    actions = ["auth.login.success", "semantic.query", "token.issue", "authz.deny", "export"]
    out = []
    for i in range(n):
        action = actions[i % len(actions)]
        out.append(
            log.record(
                action,
                actor={"user": "ann" if i % 2 else "bob", "roles": ["analyst"]},
                resource="retail",
                outcome="denied" if action == "authz.deny" else "success",
                source=f"10.0.0.{i % 7 + 1}",
                i=i,
            )
        )
    return out

"""Both audit stores when things go wrong underneath them: a writer that loses a batch race, tables
dropped behind the log's back, a dropped database connection, a schema that holds something else.
Each store is the real one (SQLite file, PostgreSQL on 127.0.0.1)."""

from __future__ import annotations

import uuid

import pytest

from workbench.security.audit import AuditError, AuditLog
from workbench.security.audit.pg_store import PostgresStore
from workbench.security.audit.store import AuditStore, SQLiteStore

from .audit_support import PG_URL, STORES

POSTGRES = [STORES[1]]  # the PostgreSQL store only (needs the service)


def second_store(log: AuditLog) -> AuditStore:
    """Another process's handle on the same store."""
    s = log.store
    return PostgresStore(s.url, s.schema) if isinstance(s, PostgresStore) else SQLiteStore(s.path)


def buffered(store: AuditStore, key_path, checkpoint_every: int = 4) -> AuditLog:
    """A buffered log whose thread does not wake during the test (flushes are explicit)."""
    return AuditLog(store, key_path, checkpoint_every=checkpoint_every, buffer_ms=600_000)


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_a_batch_that_loses_the_race_follows_the_other_writers_entries(audit_env):
    log, _ = audit_env(checkpoint_every=4)
    a, b = buffered(log.store, log.key_path), buffered(second_store(log), log.key_path)
    try:
        a.record("export", actor="ann", n=1)
        a.flush()
        b.record("export", actor="bob", n=2)
        b.flush()  # b has now cached seq 2 as the tail
        for n in (3, 4):
            a.record("export", actor="ann", n=n)
        a.flush()  # a appends 3 and 4 after b's entry
        for n in (5, 6):
            b.record("export", actor="bob", n=n)
        b.flush()  # seq 3 is taken: b re-reads the tail and appends 5 and 6 after it
        entries = list(log.entries())
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
        assert [e.data["details"]["n"] for e in entries] == [1, 2, 3, 4, 5, 6]
        assert all(x.prev_hash == y.hash for y, x in zip(entries, entries[1:], strict=False))
        report = log.verify()
        assert report.ok and report.checkpoints == 1  # seq 4, signed by whoever wrote it
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_dropped_tables_are_reported_naming_the_store(audit_env):
    log, attacker = audit_env(checkpoint_every=1)
    log.record("export", actor="ann")
    lazy = log.entries()  # nothing is read until iterated
    attacker().run("DROP TABLE {e}")
    with pytest.raises(AuditError, match=r"audit store .*audit_entries.* does not exist|no such"):
        log.record("export", actor="ann")
    with pytest.raises(AuditError, match="audit store"):
        list(lazy)
    with pytest.raises(AuditError, match="audit store"):
        log.store.last()


@pytest.mark.parametrize("audit_env", POSTGRES, indirect=True)
def test_a_dropped_postgres_connection_fails_one_call_then_reconnects(audit_env):
    log, attacker = audit_env()
    log.record("export", actor="ann", n=1)
    pid = log.store._connection().get_backend_pid()
    attacker().run("SELECT pg_terminate_backend({p})", (pid,))
    with pytest.raises(AuditError, match="audit store postgresql://"):
        log.record("export", actor="ann", n=2)
    log.record("export", actor="ann", n=3)  # a new connection
    assert [e.data["details"]["n"] for e in log.entries()] == [1, 3]
    assert log.store._connection().get_backend_pid() != pid
    assert log.verify().ok


@pytest.mark.parametrize("audit_env", POSTGRES, indirect=True)
def test_a_postgres_batch_refused_by_the_database_is_not_half_stored(audit_env):
    log, attacker = audit_env(checkpoint_every=100)
    log.record("export", actor="ann", n=1)
    schema = log.store.schema
    a = attacker()
    a.run(
        f"CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN IF NEW.seq = 3 THEN RAISE EXCEPTION 'refused by policy'; END IF; "
        "RETURN NEW; END $$"
    )
    a.run(
        f"CREATE TRIGGER refuse BEFORE INSERT ON {schema}.audit_entries "
        f"FOR EACH ROW EXECUTE FUNCTION {schema}.refuse()"
    )
    batch = buffered(log.store, log.key_path, checkpoint_every=100)
    batch.record("export", actor="ann", n=2)
    batch.record("export", actor="ann", n=3)
    with pytest.raises(AuditError, match="refused by policy"):
        batch.flush()
    assert [e.seq for e in log.entries()] == [1]  # seq 2 was rolled back with seq 3
    a.run(f"DROP TRIGGER refuse ON {schema}.audit_entries")
    batch.flush()  # the queue was kept, in order
    assert [e.data["details"]["n"] for e in log.entries()] == [1, 2, 3]
    batch.close()


@pytest.mark.parametrize("audit_env", POSTGRES, indirect=True)
def test_a_schema_whose_tables_are_something_else_is_reported(audit_env):
    audit_env()  # only for the PostgreSQL check and clean-up of its own schema
    schema = f"wb_audit_test_{uuid.uuid4().hex[:10]}"
    import psycopg2

    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE SCHEMA {schema}")
            cur.execute(f"CREATE VIEW {schema}.audit_entries AS SELECT 1 AS seq")
        with pytest.raises(AuditError, match=f"cannot create the tables of audit store .*{schema}"):
            PostgresStore(PG_URL, schema)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.close()


def test_a_schema_name_that_is_no_identifier_is_refused_before_connecting():
    with pytest.raises(AuditError, match="must be a plain identifier"):
        PostgresStore("postgresql://nobody@127.0.0.1:1/none", "audit; drop table x")

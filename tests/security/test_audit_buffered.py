"""Buffered writing (audit.buffer_ms > 0): record() queues, a thread appends batches in one
transaction each; the chain is the same linear, verifiable chain, and a storage failure is
reported at the next call instead of being lost."""

from __future__ import annotations

import threading

import pytest

from workbench.config import AuditSettings
from workbench.security.audit import AuditError, AuditLog

from .audit_support import PG_URL, STORES, Attacker, sha256_link


def buffered(audit_env, log):
    """The same store, opened again with buffering on."""
    s = log.store
    if audit_env.kind == "sqlite":
        a = AuditSettings(
            path=str(s.path), key_path=str(log.key_path), checkpoint_every=10, buffer_ms=20
        )
    else:
        a = AuditSettings(
            url=PG_URL,
            pg_schema=s.schema,
            key_path=str(log.key_path),
            checkpoint_every=10,
            buffer_ms=20,
        )
    return AuditLog.open(a)


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_buffered_entries_form_the_same_chain(audit_env):
    direct, _ = audit_env(checkpoint_every=10)
    direct.record("pipeline.start", actor="setup")
    log = buffered(audit_env, direct)
    try:

        def work(name):
            for i in range(50):
                assert log.record("semantic.query", actor=name, resource="retail", i=i) is None

        ts = [threading.Thread(target=work, args=(f"t{j}",)) for j in range(3)]
        for t in ts:
            t.start()
        for i in range(20):  # a direct writer on the same store at the same time
            direct.record("export", actor="direct", i=i)
        for t in ts:
            t.join()
        log.flush()
        entries = list(direct.entries())
        assert [e.seq for e in entries] == list(range(1, 1 + 1 + 150 + 20))
        prev = "00" * 32
        for e in entries:  # the chain rule, checked by hand
            assert e.prev_hash == prev and e.hash == sha256_link(prev, e.body)
            prev = e.hash
        report = direct.verify()
        assert report.ok, report.problems
        assert [c.seq for c in direct.store.checkpoints()][:17] == list(range(10, 171, 10))
    finally:
        log.close()


def test_a_storage_failure_surfaces_at_the_next_call(tmp_path):
    path = tmp_path / "a.sqlite"
    log = AuditLog.open(
        AuditSettings(path=str(path), key_path=str(tmp_path / "k.pem"), buffer_ms=10)
    )
    log.record("export", actor="ann")
    log.flush()
    a = Attacker("sqlite", str(path))
    a.run("ALTER TABLE {e} RENAME TO gone")
    log.record("export", actor="bob")  # queued: the failure is not known yet
    with pytest.raises(AuditError, match="no such table"):
        log.flush()
    with pytest.raises(AuditError, match="not being stored: .*no such table.*1 waiting"):
        log.record("export", actor="carl")
    a.run("ALTER TABLE gone RENAME TO audit_entries")
    log.flush()  # the queued entry is stored once the store is back, nothing lost
    assert [e.user for e in log.entries()] == ["ann", "bob"]
    a.close()
    log.close()


def test_close_stores_what_is_queued(tmp_path):
    s = AuditSettings(
        path=str(tmp_path / "a.sqlite"), key_path=str(tmp_path / "k.pem"), buffer_ms=1000
    )
    log = AuditLog.open(s)
    for i in range(30):
        log.record("export", actor="ann", i=i)
    log.close()
    again = AuditLog.open(s.model_copy(update={"buffer_ms": 0}))
    assert len(list(again.entries())) == 30 and again.verify().ok

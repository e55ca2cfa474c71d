"""The audit trail's edges: details that are not plain JSON, actors, public keys given every way
verify() takes them, stores that cannot be opened or read, times, and checkpoints written by a
log that has not recorded anything itself.  Oracles are the standard library and cryptography."""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from decimal import Decimal

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workbench.config import AuditSettings
from workbench.security.audit import AuditError, AuditLog
from workbench.security.audit.export import endpoint
from workbench.security.audit.keys import load_public_key
from workbench.security.audit.log import outcome_of
from workbench.security.audit.store import SQLiteStore
from workbench.security.audit.timeparse import parse_since

from .audit_support import Attacker


def _settings(tmp_path, **kw) -> AuditSettings:
    return AuditSettings(
        path=str(tmp_path / "audit.sqlite"), key_path=str(tmp_path / "keys" / "audit.pem"), **kw
    )


def _buffered(tmp_path, checkpoint_every: int = 100) -> AuditLog:
    """A buffered log whose thread does not wake during the test (flushes are explicit)."""
    return AuditLog(
        SQLiteStore(tmp_path / "audit.sqlite"),
        tmp_path / "keys" / "audit.pem",
        checkpoint_every=checkpoint_every,
        buffer_ms=600_000,
    )


# -- what an entry holds -------------------------------------------------------------------------
def test_details_are_stored_as_json_data_not_python_reprs(tmp_path):
    log = AuditLog.open(_settings(tmp_path))
    e = log.record(
        "export",
        actor="ann",
        when=dt.datetime(2026, 12, 1, 8, 30, tzinfo=dt.UTC),
        day=dt.date(2026, 12, 1),
        amount=Decimal("12.50"),
        tags={"b", "a"},
        pair=(1, 2),
        nested={1: {"rows": np.int64(3)}},
        share=np.float64(0.25),
    )
    assert e.data["details"] == {
        "when": "2026-12-01T08:30:00+00:00",
        "day": "2026-12-01",
        "amount": "12.50",  # exact, not a float
        "tags": ["a", "b"],  # sets in sorted order, so equal sets hash equally
        "pair": [1, 2],
        "nested": {"1": {"rows": 3}},
        "share": 0.25,
    }
    # what was hashed is what is read back
    assert [s.data["details"] for s in log.entries()] == [e.data["details"]]


def test_an_actor_mapping_with_other_keys_is_refused(tmp_path):
    log = AuditLog.open(_settings(tmp_path))
    with pytest.raises(AuditError, match=r"unknown keys \['password'\]; use user and roles"):
        log.record("export", actor={"user": "ann", "password": "x"})
    e = log.record("export", actor={"user": "ann", "roles": ("viewer", "admin")})
    assert e.data["actor"] == {"user": "ann", "roles": ["admin", "viewer"]}
    assert log.record("export").data["actor"] == {"user": None, "roles": []}


@pytest.mark.parametrize(
    "action, outcome",
    [
        ("authz.deny", "denied"),
        ("login.failure", "failure"),
        ("token.reject", "failure"),
        ("token.reuse", "failure"),
        ("oidc.jwks_error", "failure"),
        ("token.issue", "success"),
        ("user.add", "success"),
    ],
)
def test_hook_events_get_the_outcome_their_name_says(action, outcome):
    assert outcome_of(action) == outcome


def test_bad_log_parameters_are_refused(tmp_path):
    store = SQLiteStore(tmp_path / "a.sqlite")
    for kw in ({"checkpoint_every": 0}, {"checkpoint_minutes": 0}, {"buffer_ms": -1}):
        with pytest.raises(AuditError, match="checkpoint_every must be >= 1"):
            AuditLog(store, None, **kw)
    with pytest.raises(AuditError, match="takes Settings, AuditSettings, a URL or a path, not int"):
        AuditLog.open(42)


def test_open_without_a_target_reads_workbench_yml(tmp_path, monkeypatch):
    (tmp_path / "workbench.yml").write_text("audit:\n  path: trail/audit.sqlite\n")
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    log = AuditLog.open()
    log.record("export", actor="ann")
    assert (tmp_path / "trail" / "audit.sqlite").is_file()


# -- keys ------------------------------------------------------------------------------------------
def test_verify_takes_the_public_key_as_a_path_pem_text_bytes_or_key(tmp_path):
    log = AuditLog.open(_settings(tmp_path, checkpoint_every=1))
    log.record("export", actor="ann")
    pub_path = tmp_path / "keys" / "audit.pem.pub"
    pem = pub_path.read_bytes()
    private = serialization.load_pem_private_key(
        (tmp_path / "keys" / "audit.pem").read_bytes(), None
    )
    for given in (pub_path, str(pub_path), pem, pem.decode(), private, private.public_key()):
        report = log.verify(given)
        assert report.ok and report.checkpoints == 1, type(given)


def test_bad_public_keys_are_refused_naming_where(tmp_path):
    log = AuditLog.open(_settings(tmp_path, checkpoint_every=1))
    log.record("export", actor="ann")
    with pytest.raises(AuditError, match=r"does not exist \(it is written beside the signing key"):
        log.verify(tmp_path / "nowhere.pub")
    with pytest.raises(AuditError, match="the given public key is not a PEM public key"):
        log.verify(b"not a key at all")
    (tmp_path / "junk.pub").write_text(
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
    )
    with pytest.raises(AuditError, match=r"junk\.pub is not a PEM public key"):
        log.verify(tmp_path / "junk.pub")
    rsa_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(AuditError, match="is not an Ed25519 public key"):
        load_public_key(rsa_pem)
    # a log without a signing key has no default public key
    with pytest.raises(AuditError, match="verify needs the audit public key"):
        AuditLog(SQLiteStore(tmp_path / "other.sqlite"), None).verify()


@pytest.mark.parametrize(
    "content, match",
    [
        (b"garbage", r"is not a PEM private key \(ValueError\)"),
        ("rsa", "is not an Ed25519 key"),
    ],
)
def test_a_signing_key_file_that_is_no_ed25519_key_is_refused(tmp_path, content, match):
    key = tmp_path / "keys" / "audit.pem"
    key.parent.mkdir()
    if content == "rsa":
        content = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    fd = os.open(key, os.O_CREAT | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(content)
    log = AuditLog.open(_settings(tmp_path))
    with pytest.raises(AuditError, match=match):
        log.record("export", actor="ann")
    assert list(log.entries()) == []  # nothing is appended that could not be signed


def test_a_key_created_meanwhile_by_another_process_is_used_not_overwritten(tmp_path, monkeypatch):
    """Two processes start at once: the one that loses the O_EXCL race loads the winner's key."""
    from workbench.security.audit import keys

    path = tmp_path / "keys" / "audit.pem"
    winner = Ed25519PrivateKey.generate()
    real_open = os.open

    def racing_open(p, flags, mode=0o777):
        if str(p) == str(path) and flags & os.O_EXCL and not path.exists():
            fd = real_open(p, os.O_WRONLY | os.O_CREAT, 0o600)  # the other process wins
            os.write(
                fd,
                winner.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                ),
            )
            os.close(fd)
        return real_open(p, flags, mode)

    monkeypatch.setattr(keys.os, "open", racing_open)
    got = keys.load_or_create_private_key(path)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert got.public_key().public_bytes(*raw) == winner.public_key().public_bytes(*raw)


# -- checkpoints -----------------------------------------------------------------------------------
def test_a_reader_signs_the_tail_with_the_projects_key_on_request(tmp_path):
    writer = AuditLog.open(_settings(tmp_path, checkpoint_every=100))
    for i in range(3):
        writer.record("export", actor="ann", i=i)
    assert writer.verify().unsigned_tail == 3
    other = AuditLog.open(_settings(tmp_path, checkpoint_every=100))  # has not loaded the key
    other.checkpoint()
    report = other.verify()
    assert report.ok and report.unsigned_tail == 0 and report.checkpoints == 1
    # without a signing key there is nothing to sign with: checkpoint() leaves the store alone
    keyless = AuditLog(SQLiteStore(tmp_path / "audit.sqlite"), None)
    keyless.record("export", actor="bob")
    keyless.checkpoint()
    assert len(other.store.checkpoints()) == 1


def test_a_log_that_can_never_win_the_next_seq_gives_up_with_a_clear_error(tmp_path):
    class AlwaysTaken(SQLiteStore):
        def try_append(self, e):
            return False

    log = AuditLog(AlwaysTaken(tmp_path / "a.sqlite"), None)
    with pytest.raises(AuditError, match="could not append after 1000 attempts"):
        log.record("export", actor="ann")


def test_flush_quietly_swallows_only_storage_errors(tmp_path):
    log = _buffered(tmp_path)
    log.record("export", actor="ann")
    Attacker("sqlite", str(tmp_path / "audit.sqlite")).run("DROP TABLE {e}")
    with pytest.raises(AuditError, match="no such table: audit_entries"):
        log.flush()
    log.flush_quietly()  # at interpreter exit nobody is left to tell: no exception
    with pytest.raises(AuditError, match="no such table"):
        log.close()  # closing still tries to store the queue, and says that it could not
    log.store.close()


# -- stores that cannot be opened or read ----------------------------------------------------------
def test_an_sqlite_store_that_cannot_be_created_or_is_no_database(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(AuditError, match=r"cannot create audit store .*file/a\.sqlite"):
        SQLiteStore(tmp_path / "file" / "a.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"this is not an sqlite database file at all" * 50)
    with pytest.raises(AuditError, match=r"cannot open audit store .*junk\.sqlite: file is not a"):
        SQLiteStore(tmp_path / "junk.sqlite")


def test_a_removed_store_file_is_not_recreated_by_a_reader(tmp_path):
    store = SQLiteStore(tmp_path / "a.sqlite")
    store.close()
    for f in tmp_path.glob("a.sqlite*"):
        f.unlink()
    with pytest.raises(AuditError, match=r"cannot read audit store .*a\.sqlite"):
        store.entries()
    assert not (tmp_path / "a.sqlite").exists()


def test_a_failing_batch_is_not_half_stored(tmp_path):
    log = _buffered(tmp_path)
    log.record("export", actor="ann", n=1)
    log.flush()
    conn = sqlite3.connect(tmp_path / "audit.sqlite", isolation_level=None)
    conn.execute(  # a DBA's trigger refuses the third entry, after the second was inserted
        "CREATE TRIGGER refuse_third BEFORE INSERT ON audit_entries WHEN NEW.seq = 3 "
        "BEGIN SELECT RAISE(ABORT, 'refused by policy'); END"
    )
    conn.close()
    log.record("export", actor="ann", n=2)
    log.record("export", actor="ann", n=3)
    with pytest.raises(AuditError, match="refused by policy"):
        log.flush()
    assert [e.seq for e in log.entries()] == [1]  # seq 2 was rolled back with seq 3
    with pytest.raises(AuditError, match="refused by policy"):
        log.close()
    log.store.close()


def test_entries_filter_by_time_range_user_and_action_family(tmp_path):
    log = AuditLog.open(_settings(tmp_path))
    log.record("auth.login.success", actor="ann")
    log.record("auth.login_x", actor="ann")  # '_' must not act as a LIKE wildcard
    log.record("semantic.query", actor="bob")
    times = [e.time for e in log.entries()]
    assert [e.action for e in log.entries(action="auth.")] == ["auth.login.success", "auth.login_x"]
    assert [e.action for e in log.entries(action="auth.login.")] == ["auth.login.success"]
    assert [e.user for e in log.entries(user="bob")] == ["bob"]
    until = dt.datetime.strptime(times[2], "%Y-%m-%dT%H:%M:%S.%fZ")  # naive: read as UTC
    assert [e.seq for e in log.entries(until=until)] == [1, 2]
    assert [e.seq for e in log.entries(since=until.date(), limit=1)] == [1]
    with pytest.raises(AuditError, match="must be an ISO time, a duration"):
        list(log.entries(since=12345))


# -- time and endpoint text -------------------------------------------------------------------------
def test_since_durations_and_iso_times():
    now = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)
    assert parse_since("15m", now) == now - dt.timedelta(minutes=15)
    assert parse_since("7d", now) == now - dt.timedelta(days=7)
    assert parse_since("2026-12-01T08:00Z") == dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    assert parse_since("2026-12-01") == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    with pytest.raises(AuditError, match="neither an ISO date/time"):
        parse_since("yesterday")


@pytest.mark.parametrize(
    "source, expected",
    [
        (None, {"name": "unknown"}),
        ("10.0.0.7", {"ip": "10.0.0.7"}),
        ("10.0.0.7:5432", {"ip": "10.0.0.7", "port": 5432}),
        ("::1", {"ip": "::1"}),
        ("gateway.internal:8888", {"hostname": "gateway.internal", "port": 8888}),
        ("security", {"hostname": "security"}),
    ],
)
def test_ocsf_source_endpoint(source, expected):
    assert endpoint(source) == expected

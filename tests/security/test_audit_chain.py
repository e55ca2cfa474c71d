"""Audit entries, the hash chain, checkpoints and keys: what record() writes and what verify()
accepts, checked against hashlib and cryptography directly."""

from __future__ import annotations

import json
import os
import stat
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from workbench.config import AuditSettings, Settings
from workbench.security.audit import AuditError, AuditLog
from workbench.security.principal import Principal

from .audit_support import STORES, fill, sha256_link


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_entries_chain_by_sha256_of_previous_hash_and_canonical_json(audit_env):
    log, _ = audit_env()
    p = Principal.of("ann", ["analyst", "admin"], region="EU")
    e1 = log.record(
        "semantic.query",
        actor=p,
        resource="retail",
        source="10.1.1.1",
        namespace="retail",
        members=["revenue", "region"],
        filters=["region = 'EU'"],
        rows=3,
        ms=4.25,
    )
    e2 = log.record("auth.login.failure", actor="bob", outcome="failure", source="10.1.1.2")
    assert e1.seq == 1 and e2.seq == 2
    assert e1.hash == sha256_link("00" * 32, e1.body) and e1.prev_hash == "00" * 32
    assert e2.hash == sha256_link(e1.hash, e2.body) and e2.prev_hash == e1.hash
    d = json.loads(e1.body)
    # canonical: sorted keys, no whitespace
    assert e1.body == json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert d["actor"] == {"user": "ann", "roles": ["admin", "analyst"]}
    assert d["details"] == {
        "namespace": "retail",
        "members": ["revenue", "region"],
        "filters": ["region = 'EU'"],
        "rows": 3,
        "ms": 4.25,
    }
    assert (d["seq"], d["action"], d["resource"], d["outcome"], d["source"]) == (
        1,
        "semantic.query",
        "retail",
        "success",
        "10.1.1.1",
    )
    stored = list(log.entries())
    assert [(s.seq, s.body, s.hash) for s in stored] == [
        (1, e1.body, e1.hash),
        (2, e2.body, e2.hash),
    ]
    assert [s.seq for s in log.entries(user="bob")] == [2]
    assert [s.seq for s in log.entries(action="auth.")] == [2]
    assert [s.seq for s in log.entries(action="semantic.query")] == [1]
    assert log.verify().ok


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_checkpoints_every_n_entries_signed_with_ed25519(audit_env):
    log, _ = audit_env(checkpoint_every=4)
    entries = fill(log, 10)
    cps = log.store.checkpoints()
    assert [c.seq for c in cps] == [4, 8]
    pub = serialization.load_pem_public_key(log.public_key_path.read_bytes())
    for c in cps:
        assert c.hash == entries[c.seq - 1].hash
        pub.verify(bytes.fromhex(c.signature), c.signed_text.encode())  # raises if invalid
        assert json.loads(c.signed_text)["hash"] == c.hash


def test_checkpoint_after_m_minutes(tmp_path):
    log = AuditLog.open(
        AuditSettings(
            path=str(tmp_path / "a.sqlite"),
            checkpoint_every=1000,
            checkpoint_minutes=0.3 / 60,
            key_path=str(tmp_path / "k.pem"),
        )
    )
    log.record("export", actor="ann")
    log.record("export", actor="ann")
    assert log.store.checkpoints() == []
    time.sleep(0.35)
    log.record("export", actor="ann")
    assert [c.seq for c in log.store.checkpoints()] == [3]


def test_signing_key_file_is_private_and_verification_needs_only_the_public_key(tmp_path):
    key = tmp_path / "keys" / "audit.pem"
    log = AuditLog.open(
        AuditSettings(path=str(tmp_path / "a.sqlite"), checkpoint_every=2, key_path=str(key))
    )
    fill(log, 4)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    pub_text = log.public_key_path.read_text()
    assert "PRIVATE" not in pub_text
    assert isinstance(serialization.load_pem_public_key(pub_text.encode()), Ed25519PublicKey)
    # a reader without the private key: a fresh log on the same store, no key path at all
    reader = AuditLog.open(
        AuditSettings(path=str(tmp_path / "a.sqlite"), key_path=str(tmp_path / "nowhere.pem"))
    )
    key.rename(tmp_path / "moved.pem")
    assert reader.verify(pub_text).ok
    assert not (tmp_path / "nowhere.pem").exists()


def test_a_readable_signing_key_is_refused(tmp_path):
    key = tmp_path / "audit.pem"
    log = AuditLog.open(
        AuditSettings(path=str(tmp_path / "a.sqlite"), checkpoint_every=1, key_path=str(key))
    )
    log.record("export", actor="ann")
    os.chmod(key, 0o644)
    log2 = AuditLog.open(
        AuditSettings(path=str(tmp_path / "a.sqlite"), checkpoint_every=1, key_path=str(key))
    )
    with pytest.raises(AuditError, match=r"mode 0644.*chmod 600"):
        log2.record("export", actor="ann")


@pytest.mark.parametrize(
    "call, match",
    [
        (dict(action="Login"), "dotted lower-case"),
        (dict(action="auth.login", outcome="ok"), "outcome 'ok' must be one of"),
        (dict(action="semantic.query", ms=float("nan")), "'details.ms' is nan"),
        (dict(action="semantic.query", rows=object()), "'details.rows' has type object"),
        (dict(action="export", actor=42), "actor must be"),
    ],
)
def test_bad_input_is_refused_naming_what(tmp_path, call, match):
    log = AuditLog.open(str(tmp_path / "a.sqlite"))
    action = call.pop("action")
    with pytest.raises(AuditError, match=match):
        log.record(action, **call)
    assert list(log.entries()) == []  # nothing half-written


def test_open_from_settings_resolves_paths_under_the_project_root(tmp_path):
    s = Settings(root=str(tmp_path))
    log = AuditLog.open(s)
    log.record("pipeline.start", actor="ann", resource="demo")
    log.checkpoint()
    assert (tmp_path / ".workbench" / "audit" / "audit.sqlite").exists()
    assert (tmp_path / ".workbench" / "keys" / "audit_ed25519.pem").exists()
    assert log.verify().ok


def test_unreachable_postgres_is_reported_as_such():
    with pytest.raises(
        AuditError,
        match=r"cannot connect to audit store postgresql://postgres:\*\*\*@127\.0\.0\.1:1/",
    ):
        AuditLog.open("postgresql://postgres:secret@127.0.0.1:1/test")


def test_bad_schema_name_is_refused():
    with pytest.raises(Exception, match="pg_schema"):
        AuditSettings(url="postgresql://x/y", pg_schema="a; drop table b")


def test_a_bare_path_log_keeps_its_key_beside_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    log = AuditLog.open(str(tmp_path / "scratch" / "a.sqlite"))
    log.record("export", actor="ann")
    assert (tmp_path / "scratch" / "keys" / "audit_ed25519.pem").exists()
    assert not (tmp_path / ".workbench").exists()  # the project's key is never created or used

"""Refresh-token families: rotation, hash-only storage, grace window, reuse, lifetimes."""

from __future__ import annotations

import hashlib
import sqlite3
import threading

import pytest

from workbench.security.auth_errors import RefreshRejected, RefreshReuseDetected
from workbench.security.refresh import SessionStore

from .auth_support import Clock


def test_each_use_rotates(sessions, clock, audit):
    s = sessions.start("ann")
    clock.advance(5)
    r1 = sessions.refresh(s.refresh_token)
    assert (
        r1.sid == s.sid and r1.sub == "ann" and r1.refresh_token != s.refresh_token and not r1.grace
    )
    clock.advance(30)
    r2 = sessions.refresh(r1.refresh_token)
    assert len({s.refresh_token, r1.refresh_token, r2.refresh_token}) == 3
    assert [d["grace"] for d in audit.of("token.refresh")] == [False, False]
    assert "refresh_token" not in repr(r2) and r2.refresh_token not in repr(r2)


def test_only_hashes_are_stored(sessions, tmp_path):
    s = sessions.start("ann")
    r = sessions.refresh(s.refresh_token)
    with sqlite3.connect(tmp_path / "sessions.sqlite") as con:
        stored = {row[0] for row in con.execute("select hash from refresh_tokens")}
        dump = "\n".join(con.iterdump())
    assert stored == {
        hashlib.sha256(t.encode()).hexdigest() for t in (s.refresh_token, r.refresh_token)
    }
    for t in (s.refresh_token, r.refresh_token):
        assert t not in dump
    assert len(s.refresh_token) >= 43  # 32 random bytes, base64url


def test_reuse_after_grace_revokes_the_family(sessions, clock, audit):
    s = sessions.start("ann")
    r1 = sessions.refresh(s.refresh_token)
    r2 = sessions.refresh(r1.refresh_token)
    clock.advance(11)  # the grace window is 10 s
    with pytest.raises(RefreshReuseDetected):
        sessions.refresh(s.refresh_token)
    assert audit.of("token.reuse")[0]["sid"] == s.sid
    for t in (r1.refresh_token, r2.refresh_token):
        with pytest.raises(RefreshRejected) as e:
            sessions.refresh(t)
        assert e.value.reason == "revoked"
    assert sessions.sessions("ann")[0]["revoked_reason"] == "reuse_detected"
    assert sessions.revoked_reason(sid=s.sid, jti=None, sub="ann", iat=0) == "reuse_detected"


def test_grace_window_allows_two_honest_concurrent_refreshes(sessions, clock, audit):
    s = sessions.start("ann")
    a = sessions.refresh(s.refresh_token)  # tab 1
    clock.advance(3)
    b = sessions.refresh(s.refresh_token)  # tab 2, a moment later
    assert b.grace and not a.grace and b.refresh_token != a.refresh_token
    # both tabs go on independently
    sessions.refresh(a.refresh_token)
    sessions.refresh(b.refresh_token)
    # but a third copy of the same parent is not an honest client
    with pytest.raises(RefreshReuseDetected):
        sessions.refresh(s.refresh_token)


def test_concurrent_refreshes_in_threads_are_serialised(sessions):
    s = sessions.start("ann")
    results, errors = [], []
    barrier = threading.Barrier(2)

    def go():
        barrier.wait()
        try:
            results.append(sessions.refresh(s.refresh_token))
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(results) == 2
    assert sorted(r.grace for r in results) == [False, True]  # exactly one saw it unused


def test_idle_lifetime(sessions, clock, audit):
    s = sessions.start("ann")
    clock.advance(3599)
    r = sessions.refresh(s.refresh_token)  # used just in time: idle clock restarts
    clock.advance(3600)
    with pytest.raises(RefreshRejected) as e:
        sessions.refresh(r.refresh_token)
    assert e.value.reason == "session_idle" and audit.last[1]["reason"] == "session_idle"


def test_absolute_lifetime(sessions, clock):
    s = sessions.start("ann")
    token = s.refresh_token
    for _ in range(47):  # busy all day, every 30 minutes
        clock.advance(1800)
        token = sessions.refresh(token).refresh_token
    clock.advance(1800)  # 24 h after log-in
    with pytest.raises(RefreshRejected) as e:
        sessions.refresh(token)
    assert e.value.reason == "session_expired"


def test_unknown_token(sessions, audit):
    for bad in ("nope", "", None, "x" * 100_000):
        with pytest.raises(RefreshRejected) as e:
            sessions.refresh(bad)
        assert e.value.reason == "unknown"
    assert audit.last == ("token.reject", {"kind": "refresh", "reason": "unknown"})


def test_purge_forgets_old_sessions(tmp_path):
    clock = Clock()
    store = SessionStore(tmp_path / "s.sqlite", idle_s=60, absolute_s=120, clock=clock)
    old = store.start("ann")
    clock.advance(120 + 86400 + 1)
    new = store.start("ann")
    assert store.purge() == 1
    assert [s["sid"] for s in store.sessions()] == [new.sid]
    assert store.revoked_reason(sid=old.sid, jti=None, sub="ann", iat=0) == "unknown_session"


def test_store_file_is_private(sessions, tmp_path):
    assert oct((tmp_path / "sessions.sqlite").stat().st_mode & 0o777) == "0o600"

"""Log-in sessions and their opaque refresh tokens, and the revocation list access tokens check.

- A log-in starts a session (a token *family*, id ``sid``) and hands out a refresh token
  (``secrets.token_urlsafe``). Only its SHA-256 is stored: a copy of the file logs nobody in.
  SHA-256 without salt is enough here because the token has 256 random bits, not a password's few.
- Each use rotates: the token is marked used and a new one is returned.
- A used token presented again after ``grace_s`` means two parties hold it, so one stole it: the
  whole family is revoked and ``RefreshReuseDetected`` is raised (audited as ``token.reuse``).
  Within ``grace_s`` (two honest concurrent refreshes, e.g. two tabs) one sibling token is issued.
- A session ends after ``idle_s`` without use and ``absolute_s`` after log-in, whatever happens.
- Revocation: log-out (one session), admin revoke of a session or of every session of a user, or
  of one access token by jti. ``revoked_reason`` is what access-token validation asks on every
  request, so a revocation takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import AuthSettings
from .audit_hook import Audit, no_audit
from .auth_errors import RefreshRejected, RefreshReuseDetected
from .sqlite_files import SQLiteFile
from .tokens import ActiveUsers

SCHEMA = """
create table if not exists families (
    sid text primary key,
    sub text not null,
    created_at real not null,
    last_used_at real not null,
    absolute_expires_at real not null,
    revoked_at real,
    revoked_reason text,
    revoked_by text
);
create index if not exists families_sub on families(sub);
create table if not exists refresh_tokens (
    hash text primary key,
    sid text not null references families(sid),
    parent_hash text,
    issued_at real not null,
    used_at real
);
create index if not exists refresh_parent on refresh_tokens(parent_hash);
create table if not exists revoked_jti (
    jti text primary key,
    until real not null
);
"""
#: Siblings one used token may get within the grace window: two honest concurrent refreshes.
GRACE_SIBLINGS = 2


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    sid: str
    sub: str
    refresh_token: str = field(repr=False)  # a credential: never in a repr or a log


@dataclass(frozen=True)
class Refreshed(Session):
    grace: bool = False  # issued within the grace window for a concurrent refresh


class SessionStore:
    def __init__(
        self,
        path: str | Path,
        *,
        idle_s: float = 8 * 3600,
        absolute_s: float = 7 * 86400,
        grace_s: float = 10,
        users: ActiveUsers | None = None,
        audit: Audit | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.path = Path(path)
        self.idle_s, self.absolute_s, self.grace_s = idle_s, absolute_s, grace_s
        self.users = users
        self.audit = audit or no_audit
        self.clock = clock
        self._file = SQLiteFile(self.path, SCHEMA)

    @classmethod
    def from_settings(cls, auth: AuthSettings, path: str | Path, **kwargs: Any) -> SessionStore:
        """From workbench.config.AuthSettings; kwargs: users, audit, clock."""
        return cls(
            path,
            idle_s=auth.refresh_idle_s,
            absolute_s=auth.refresh_absolute_s,
            grace_s=auth.refresh_grace_s,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"SessionStore({str(self.path)!r})"

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.connection()

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One IMMEDIATE transaction: two concurrent refreshes of one token are serialised, so
        exactly one sees it unused."""
        return self._file.transaction()

    def _mint(self, db: sqlite3.Connection, sid: str, parent: str | None, now: float) -> str:
        token = secrets.token_urlsafe(32)
        db.execute(
            "insert into refresh_tokens values (?, ?, ?, ?, null)",
            (token_hash(token), sid, parent, now),
        )
        return token

    # ---- log-in and refresh ---------------------------------------------------------------
    def start(self, sub: str) -> Session:
        """A new log-in session for ``sub`` with its first refresh token."""
        now, sid = self.clock(), secrets.token_urlsafe(16)
        with self._write() as db:
            db.execute(
                "insert into families values (?, ?, ?, ?, ?, null, null, null)",
                (sid, sub, now, now, now + self.absolute_s),
            )
            token = self._mint(db, sid, None, now)
        self.audit("session.start", sub=sub, sid=sid)
        return Session(sid, sub, token)

    def refresh(self, token: str) -> Refreshed:
        """Rotate: the next refresh token of the same session. Raises RefreshRejected (unknown,
        revoked, session_idle, session_expired, user_disabled) or RefreshReuseDetected."""
        # Ours are 43 characters; anything far longer is not one of them and is not hashed.
        h = token_hash(token) if isinstance(token, str) and len(token) <= 256 else ""
        with self._write() as db:
            # The transaction commits whatever _rotate decided, revocations included; only then
            # is the outcome raised and reported, so an audit hook that writes elsewhere never
            # runs while this database's write lock is held.
            result, action, details = self._rotate(db, h, self.clock())
        self.audit(action, **details)
        if isinstance(result, Exception):
            raise result
        return result

    def _rotate(
        self, db: sqlite3.Connection, h: str, now: float
    ) -> tuple[Refreshed | RefreshRejected, str, dict[str, Any]]:
        """(the new token or the refusal to raise, the audit action, its details)."""
        row = db.execute(
            "select t.sid, t.used_at, f.sub, f.last_used_at, f.absolute_expires_at, "
            "f.revoked_at from refresh_tokens t join families f on f.sid = t.sid "
            "where t.hash = ?",
            (h,),
        ).fetchone()
        if row is None:
            return (
                RefreshRejected("unknown"),
                "token.reject",
                {"kind": "refresh", "reason": "unknown"},
            )
        sid, used_at, sub, last_used, absolute_end, revoked_at = row
        who = {"sub": sub, "sid": sid}
        if revoked_at is not None:
            return (
                RefreshRejected("revoked"),
                "token.reject",
                {"kind": "refresh", "reason": "revoked", **who},
            )
        ended = (
            "session_expired"
            if now >= absolute_end
            else "session_idle"
            if now - last_used >= self.idle_s
            else "user_disabled"
            if self.users is not None and not self.users.is_active(sub)
            else None
        )
        if ended:
            self._revoke(db, sid, now, ended, None)
            return (
                RefreshRejected(ended),
                "token.reject",
                {"kind": "refresh", "reason": ended, **who},
            )
        grace = used_at is not None
        if grace:
            siblings = db.execute(
                "select count(*) from refresh_tokens where parent_hash = ?", (h,)
            ).fetchone()[0]
            if now - used_at > self.grace_s or siblings >= GRACE_SIBLINGS:
                self._revoke(db, sid, now, "reuse_detected", None)
                return (
                    RefreshReuseDetected(sid, sub),
                    "token.reuse",
                    {**who, "seconds_since_use": round(now - used_at, 3)},
                )
        else:
            db.execute("update refresh_tokens set used_at = ? where hash = ?", (now, h))
        db.execute("update families set last_used_at = ? where sid = ?", (now, sid))
        new = self._mint(db, sid, h, now)
        return Refreshed(sid, sub, new, grace), "token.refresh", {**who, "grace": grace}

    # ---- revocation -----------------------------------------------------------------------
    @staticmethod
    def _revoke(
        db: sqlite3.Connection, sid: str, now: float, reason: str, actor: str | None
    ) -> int:
        return db.execute(
            "update families set revoked_at = ?, revoked_reason = ?, revoked_by = ? "
            "where sid = ? and revoked_at is null",
            (now, reason, actor, sid),
        ).rowcount

    def logout(self, refresh_token: str) -> bool:
        """End the session the refresh token belongs to. False if the token is unknown."""
        with self._db() as db:
            row = db.execute(
                "select sid from refresh_tokens where hash = ?", (token_hash(refresh_token),)
            ).fetchone()
        return row is not None and self.revoke_session(row[0], reason="logout")

    def revoke_session(self, sid: str, *, actor: str | None = None, reason: str = "admin") -> bool:
        with self._write() as db:
            sub = db.execute("select sub from families where sid = ?", (sid,)).fetchone()
            n = self._revoke(db, sid, self.clock(), reason, actor)
        if n:
            self.audit(
                "token.revoke",
                scope="session",
                sid=sid,
                sub=sub[0] if sub else None,
                reason=reason,
                actor=actor,
            )
        return bool(n)

    def revoke_user(self, sub: str, *, actor: str | None = None, reason: str = "admin") -> int:
        """Revoke every live session of ``sub``. Returns how many."""
        now = self.clock()
        with self._write() as db:
            n = db.execute(
                "update families set revoked_at = ?, revoked_reason = ?, revoked_by = ? "
                "where sub = ? and revoked_at is null",
                (now, reason, actor, sub),
            ).rowcount
        self.audit("token.revoke", scope="user", sub=sub, sessions=n, reason=reason, actor=actor)
        return n

    def revoke_jti(self, jti: str, until: float, *, actor: str | None = None) -> None:
        """Revoke one access token; kept until ``until`` (its exp), after which it is dead anyway."""
        with self._write() as db:
            db.execute("insert or replace into revoked_jti values (?, ?)", (jti, until))
        self.audit("token.revoke", scope="token", jti=jti, actor=actor)

    def revoked_reason(
        self, *, sid: str | None, jti: str | None, sub: str, iat: float
    ) -> str | None:
        """Why an access token may no longer be used, or None. An unknown session counts as
        revoked: our tokens always name a session that this store made."""
        with self._db() as db:
            if (
                jti is not None
                and db.execute("select 1 from revoked_jti where jti = ?", (jti,)).fetchone()
            ):
                return "token_revoked"
            if sid is None:
                return None
            row = db.execute(
                "select sub, revoked_reason, revoked_at from families where sid = ?", (sid,)
            ).fetchone()
        if row is None or row[0] != sub:
            return "unknown_session"
        return (row[1] or "revoked") if row[2] is not None else None

    def sessions(self, sub: str | None = None) -> list[dict[str, Any]]:
        """Sessions (newest first), for an admin view: never a token or a hash."""
        q = (
            "select sid, sub, created_at, last_used_at, absolute_expires_at, revoked_at, "  # noqa: S608 - fixed SQL, the optional filter is a constant with a ? placeholder
            "revoked_reason from families"
            + (" where sub = ?" if sub else "")
            + " order by created_at desc"
        )
        with self._db() as db:
            rows = db.execute(q, (sub,) if sub else ()).fetchall()
        cols = (
            "sid",
            "sub",
            "created_at",
            "last_used_at",
            "absolute_expires_at",
            "revoked_at",
            "revoked_reason",
        )
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def purge(self) -> int:
        """Forget sessions past their absolute end (plus a day, for incident review) and expired
        jti revocations. Returns the sessions removed."""
        now = self.clock()
        with self._write() as db:
            old = [
                r[0]
                for r in db.execute(
                    "select sid from families where absolute_expires_at < ?", (now - 86400,)
                )
            ]
            for sid in old:
                db.execute("delete from refresh_tokens where sid = ?", (sid,))
                db.execute("delete from families where sid = ?", (sid,))
            db.execute("delete from revoked_jti where until < ?", (now - 3600,))
        return len(old)

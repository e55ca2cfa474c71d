"""The users store: people who may log in, with argon2id password hashes, roles and attributes.

A small sqlite file (``.workbench/security/users.sqlite`` by default, mode 0600 because the
hashes are still worth protecting). Hashing is argon2-cffi's ``PasswordHasher`` (argon2id);
a stored hash made with older parameters is replaced on the next successful log-in.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .audit_hook import Audit, no_audit, safe_text
from .auth_errors import LoginFailed, UserStoreError
from .principal import Principal
from .sqlite_files import SQLiteFile


class Role(str, Enum):
    """The roles a user may have (the choices `workbench users add --role` offers)."""

    viewer = "viewer"
    analyst = "analyst"
    data_scientist = "data_scientist"
    admin = "admin"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")
ATTR_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: Demo users made by `make up`: one per role, with the attributes the row policies use.
DEMO_USERS = {
    "viewer": ("viewer", {"region": "North"}),
    "analyst": ("analyst", {}),
    "data_scientist": ("data_scientist", {}),
    "admin": ("admin", {}),
}

SCHEMA = """
create table if not exists users (
    name text primary key,
    hash text not null,
    roles text not null,
    attributes text not null,
    disabled integer not null default 0,
    created_at real not null,
    updated_at real not null
);
"""


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    disabled: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0

    def principal(self) -> Principal:
        return Principal.of(self.name, self.roles, **self.attributes)


class UserStore:
    def __init__(
        self,
        path: str | Path,
        *,
        hasher: PasswordHasher | None = None,
        min_password_length: int = 10,
        audit: Audit | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.path = Path(path)
        self.hasher = hasher or PasswordHasher()
        self.min_password_length = min_password_length
        self.audit = audit or no_audit
        self.clock = clock
        self._file = SQLiteFile(self.path, SCHEMA)
        self._dummy: str | None = None

    def __repr__(self) -> str:
        return f"UserStore({str(self.path)!r})"

    @property
    def _dummy_hash(self) -> str:
        """Verifying against this for unknown names costs what a real verify costs, so response
        time does not tell which names exist. Made on first need: a CLI command that never
        authenticates should not pay for an argon2 hash."""
        if self._dummy is None:
            self._dummy = self.hasher.hash(secrets.token_urlsafe(16))
        return self._dummy

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return self._file.connection()

    # ---- validation -----------------------------------------------------------------------
    def _check_name(self, name: str) -> str:
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise UserStoreError(
                f"Invalid user name {name!r}: use 1-64 lower-case letters, digits "
                "and _ . @ -, starting with a letter or digit.",
                "bad_name",
            )
        return name

    def _check_password(self, password: str) -> str:
        if not isinstance(password, str) or len(password) < self.min_password_length:
            raise UserStoreError(
                f"Password too short: at least {self.min_password_length} characters.",
                "weak_password",
            )
        if len(password) > 1024:  # argon2 would take it, but nobody types this: a mistake or a DoS
            raise UserStoreError("Password too long: at most 1024 characters.", "bad_password")
        return password

    @staticmethod
    def _check_roles(roles: Iterable[str]) -> tuple[str, ...]:
        unique = tuple(dict.fromkeys(roles))
        if not unique:
            raise UserStoreError(f"A user needs at least one role: {', '.join(ROLES)}.", "bad_role")
        for r in unique:
            if r not in ROLES:
                raise UserStoreError(
                    f"Unknown role {r!r}; roles are {', '.join(ROLES)}.", "bad_role"
                )
        return unique

    @staticmethod
    def _check_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
        attributes = dict(attributes or {})
        for k, v in attributes.items():
            if not isinstance(k, str) or not ATTR_RE.match(k):
                raise UserStoreError(
                    f"Invalid attribute name {k!r}: lower-case letters, digits, _.", "bad_attribute"
                )
            if not isinstance(v, (str, int, float, bool)):
                raise UserStoreError(f"Attribute {k!r} must be text or a number.", "bad_attribute")
        return attributes

    # ---- commands -------------------------------------------------------------------------
    def add(
        self,
        name: str,
        password: str,
        roles: Iterable[str],
        attributes: dict[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> User:
        name, checked = self._check_name(name), self._check_roles(roles)
        attributes = self._check_attributes(attributes)
        digest = self.hasher.hash(self._check_password(password))
        now = self.clock()
        with self._db() as db:
            try:
                db.execute(
                    "insert into users values (?, ?, ?, ?, 0, ?, ?)",
                    (name, digest, json.dumps(list(checked)), json.dumps(attributes), now, now),
                )
            except sqlite3.IntegrityError:
                raise UserStoreError(f"User {name!r} already exists.", "exists") from None
        self.audit("user.add", user=name, roles=list(checked), attributes=attributes, actor=actor)
        return self._existing(name)

    def set_password(self, name: str, password: str, *, actor: str | None = None) -> None:
        digest = self.hasher.hash(self._check_password(password))
        self._update(name, "hash = ?", digest)
        self.audit("user.passwd", user=name, actor=actor)

    def set_disabled(self, name: str, disabled: bool, *, actor: str | None = None) -> None:
        self._update(name, "disabled = ?", int(disabled))
        self.audit("user.disable" if disabled else "user.enable", user=name, actor=actor)

    def set_roles(self, name: str, roles: Iterable[str], *, actor: str | None = None) -> None:
        checked = self._check_roles(roles)
        self._update(name, "roles = ?", json.dumps(list(checked)))
        self.audit("user.roles", user=name, roles=list(checked), actor=actor)

    def _update(self, name: str, assignment: str, value: str | int) -> None:
        # `assignment` is one of the fixed strings above, never user text.
        with self._db() as db:
            cur = db.execute(
                f"update users set {assignment}, updated_at = ? where name = ?",  # noqa: S608 - `assignment` is one of this module's fixed strings; values bound (?)
                (value, self.clock(), name),
            )
            if cur.rowcount == 0:
                raise UserStoreError(f"No user {name!r}.", "unknown_user")

    # ---- queries --------------------------------------------------------------------------
    def get(self, name: str) -> User | None:
        with self._db() as db:
            row = db.execute(
                "select name, roles, attributes, disabled, created_at, updated_at "
                "from users where name = ?",
                (name,),
            ).fetchone()
        return None if row is None else self._user(row)

    def _existing(self, name: str) -> User:
        """A user this store has just written or checked (users are never deleted)."""
        user = self.get(name)
        if user is None:
            raise UserStoreError(f"No user {name!r}.", "unknown_user")
        return user

    def list(self) -> list[User]:
        with self._db() as db:
            rows = db.execute(
                "select name, roles, attributes, disabled, created_at, updated_at "
                "from users order by name"
            ).fetchall()
        return [self._user(r) for r in rows]

    @staticmethod
    def _user(row: tuple[Any, ...]) -> User:
        return User(
            row[0], tuple(json.loads(row[1])), json.loads(row[2]), bool(row[3]), row[4], row[5]
        )

    def is_active(self, name: str) -> bool:
        """Exists and is not disabled: what token validation asks on every request."""
        with self._db() as db:
            row = db.execute("select disabled from users where name = ?", (name,)).fetchone()
        return row is not None and not row[0]

    def is_disabled(self, name: str) -> bool:
        """A local user of this name exists and is disabled: what resource-server mode asks, where
        most people from the external IdP have no local entry at all."""
        with self._db() as db:
            row = db.execute("select disabled from users where name = ?", (name,)).fetchone()
        return row is not None and bool(row[0])

    def authenticate(self, name: str, password: str) -> User:
        """The user, if name and password match and the user is enabled; else LoginFailed with
        one message for every cause. Audited as login.success / login.failure with the reason."""
        with self._db() as db:
            row = db.execute(
                "select hash, disabled from users where name = ?",
                (name if isinstance(name, str) else "",),
            ).fetchone()
        stored = row[0] if row else self._dummy_hash
        try:
            self.hasher.verify(stored, password if isinstance(password, str) else "")
            ok = row is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            ok = False
        if not ok:
            reason = "unknown_user" if row is None else "bad_password"
            self.audit("login.failure", user=safe_text(name, 64), reason=reason)
            raise LoginFailed(reason)
        if row[1]:
            self.audit("login.failure", user=name, reason="user_disabled")
            raise LoginFailed("user_disabled")
        if self.hasher.check_needs_rehash(stored):
            # Parameters were raised since this hash was made; the plain password is at hand
            # only now, so this is the one moment to upgrade it.
            with self._db() as db:
                db.execute(
                    "update users set hash = ? where name = ? and hash = ?",
                    (self.hasher.hash(password), name, stored),
                )
            self.audit("user.rehash", user=name)
        self.audit("login.success", user=name)
        return self._existing(name)


def create_demo_users(store: UserStore, *, actor: str = "make up") -> dict[str, str]:
    """One demo user per role with a random password. Returns {name: password} for the users it
    created, so the caller prints them once; users that already exist keep their password and are
    not returned (the passwords were shown when they were made)."""
    made: dict[str, str] = {}
    for name, (role, attributes) in DEMO_USERS.items():
        if store.get(name) is not None:
            continue
        password = secrets.token_urlsafe(15)  # 120 bits, 20 characters
        store.add(name, password, [role], attributes, actor=actor)
        made[name] = password
    return made

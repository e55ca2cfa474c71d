"""Fixtures for the log-in and token tests: a controllable clock, an audit recorder, a real key
ring, users store and session store in a temporary folder, and hand-made tokens signed with the
ring's real key for the attack tests. Registered by this folder's conftest."""

from __future__ import annotations

import base64
import json

import pytest
from argon2 import PasswordHasher
from jwt.algorithms import RSAAlgorithm

from workbench.security.auth_errors import TokenRejected
from workbench.security.keyring import KeyRing
from workbench.security.refresh import SessionStore
from workbench.security.tokens import AccessTokens
from workbench.security.users import UserStore

T0 = 1_800_000_000.0
PASSWORD = "correct horse battery staple"


class Clock:
    """Time that moves only when a test says so."""

    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class AuditRecorder:
    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def __call__(self, action: str, **details) -> None:
        self.events.append((action, details))

    def of(self, action: str) -> list[dict]:
        return [d for a, d in self.events if a == action]

    @property
    def last(self) -> tuple[str, dict]:
        return self.events[-1]


def cheap_hasher() -> PasswordHasher:
    # argon2id still, with small costs so the suite stays fast; the default parameters are
    # exercised by the timing and rehash tests.
    return PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def audit() -> AuditRecorder:
    return AuditRecorder()


@pytest.fixture
def ring(tmp_path, clock, audit) -> KeyRing:
    return KeyRing(tmp_path / "keys", clock=clock, audit=audit, publish_lead_s=300, leeway_s=30)


@pytest.fixture
def users(tmp_path, clock, audit) -> UserStore:
    store = UserStore(tmp_path / "users.sqlite", hasher=cheap_hasher(), clock=clock, audit=audit)
    store.add("ann", PASSWORD, ["analyst"], {"region": "North"})
    store.add("vic", PASSWORD, ["viewer"], {"region": "South"})
    return store


@pytest.fixture
def sessions(tmp_path, clock, audit, users) -> SessionStore:
    return SessionStore(
        tmp_path / "sessions.sqlite",
        idle_s=3600,
        absolute_s=86400,
        grace_s=10,
        users=users,
        audit=audit,
        clock=clock,
    )


@pytest.fixture
def tokens(ring, users, sessions, clock, audit) -> AccessTokens:
    return AccessTokens(
        ring,
        issuer="https://workbench.test",
        audience="workbench",
        lifetime_s=600,
        leeway_s=30,
        users=users,
        revocations=sessions,
        audit=audit,
        clock=clock,
    )


def login(tokens: AccessTokens, sessions: SessionStore, name: str = "ann"):
    """What the log-in page does after a correct password: a session and its first access token."""
    user = tokens.users.get(name) if hasattr(tokens.users, "get") else None
    s = sessions.start(name)
    access = tokens.issue(
        name,
        roles=user.roles if user else ["analyst"],
        attributes=user.attributes if user else {},
        sid=s.sid,
    )
    return s, access


# ---- hand-made tokens for the attack tests ----------------------------------------------------
def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(tokens, session_id, **over):
    now = int(tokens.clock())
    c = {
        "iss": tokens.issuer,
        "aud": tokens.audience,
        "sub": "ann",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "j-" + str(now),
        "sid": session_id,
        "roles": ["analyst"],
        "attributes": {"region": "North"},
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def sign_ours(tokens, claims, **headers) -> str:
    """A token signed with our real current key, to prove the claim checks (not the signature)
    reject it."""
    kid, key = tokens.keyring.signing_key()
    h = {"typ": "at+jwt", "kid": kid}
    h.update(headers)
    h = {"alg": "RS256", **{k: v for k, v in h.items() if v is not None}}
    # Signed by hand so headers PyJWT's encoder would refuse (a numeric kid) can be sent too.
    signing_input = f"{b64(json.dumps(h).encode())}.{b64(json.dumps(claims).encode())}"
    signature = RSAAlgorithm(RSAAlgorithm.SHA256).sign(signing_input.encode(), key)
    return f"{signing_input}.{b64(signature)}"


def rejected(tokens, audit, token, reason):
    with pytest.raises(TokenRejected) as e:
        tokens.validate(token)
    assert e.value.reason == reason, e.value
    action, details = audit.last
    assert action == "token.reject" and details["reason"] == reason, audit.last
    return details

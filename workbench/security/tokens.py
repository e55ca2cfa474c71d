"""Access tokens: short-lived RS256 JWTs (RFC 9068 profile, RFC 8725 rules) signed by the key ring.

Claims: iss, aud, exp, iat, nbf, jti, sub, roles, attributes and sid (the log-in session, so a
revoked session stops its access tokens at once). Header: alg=RS256, typ=at+jwt, kid.

Validation (``AccessTokens.validate``) rejects with a reason code and reports every rejection to
the audit hook as ``token.reject``: see jwt_checks.py for the header and claim rules; on top of
them the user must still exist and be enabled, and the session or jti must not be revoked.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from cachetools import LRUCache

from ..config import AuthSettings
from .audit_hook import Audit, no_audit, safe_text
from .auth_errors import AuthError, TokenRejected
from .jwt_checks import MAX_TOKEN_BYTES, CheckFailed, verify_rs256
from .keyring import ACCESS_TOKEN_MAX_S, KeyRing
from .principal import Principal

TYP = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "jti", "sub", "roles", "attributes", "sid")
# Tokens whose signature and claims were verified, by SHA-256 of the token: an API client sends
# the same token on every request, and the RS256 verification cost ~0.3 ms of each.
VERIFIED_KEPT = 1024


class ActiveUsers(Protocol):
    def is_active(self, name: str) -> bool: ...


class RevocationCheck(Protocol):
    def revoked_reason(
        self, *, sid: str | None, jti: str | None, sub: str, iat: float
    ) -> str | None: ...


@dataclass(frozen=True)
class AccessClaims:
    """A validated token's identity. ``issuer`` tells ours from an external IdP's."""

    sub: str
    roles: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    sid: str | None = None
    jti: str | None = None
    iat: float = 0.0
    exp: float = 0.0
    issuer: str = ""
    kid: str = ""

    def principal(self) -> Principal:
        return Principal.of(self.sub, self.roles, **self.attributes)


def check_identity_claims(claims: dict[str, Any]) -> None:
    """roles is a list of text, attributes an object: anything else is a forged or broken token."""
    roles, attributes = claims.get("roles"), claims.get("attributes")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise CheckFailed("bad_claim", "roles")
    if not isinstance(attributes, dict):
        raise CheckFailed("bad_claim", "attributes")


class AccessTokens:
    def __init__(
        self,
        keyring: KeyRing,
        *,
        issuer: str,
        audience: str,
        lifetime_s: int = 600,
        leeway_s: float = 30,
        users: ActiveUsers | None = None,
        revocations: RevocationCheck | None = None,
        audit: Audit | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if not 0 < lifetime_s <= ACCESS_TOKEN_MAX_S:
            raise AuthError(
                f"Access-token lifetime must be 1..{ACCESS_TOKEN_MAX_S} seconds, not {lifetime_s}.",
                "bad_config",
            )
        self.keyring, self.issuer, self.audience = keyring, issuer, audience
        self.lifetime_s, self.leeway_s = lifetime_s, leeway_s
        self.users, self.revocations = users, revocations
        self.audit = audit or no_audit
        self.clock = clock
        self._verified: LRUCache[bytes, tuple[dict[str, Any], dict[str, Any]]] = LRUCache(
            VERIFIED_KEPT
        )
        self._verified_lock = threading.Lock()

    @classmethod
    def from_settings(cls, auth: AuthSettings, keyring: KeyRing, **kwargs: Any) -> AccessTokens:
        """From workbench.config.AuthSettings; kwargs: users, revocations, audit, clock."""
        return cls(
            keyring,
            issuer=auth.issuer,
            audience=auth.audience,
            lifetime_s=auth.access_token_s,
            leeway_s=auth.leeway_s,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"AccessTokens(iss={self.issuer!r}, aud={self.audience!r}, lifetime_s={self.lifetime_s})"

    def issue(
        self,
        sub: str,
        *,
        roles: Iterable[str],
        attributes: dict[str, Any] | None = None,
        sid: str,
    ) -> str:
        """A signed access token for ``sub`` in log-in session ``sid``."""
        if self.users is not None and not self.users.is_active(sub):
            self.audit("token.reject", kind="issue", reason="user_disabled", sub=sub, sid=sid)
            raise TokenRejected("user_disabled")
        now = int(self.clock())
        kid, private = self.keyring.signing_key()
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_s,
            "jti": secrets.token_urlsafe(16),
            "sid": sid,
            "roles": list(roles),
            "attributes": dict(attributes or {}),
        }
        token = jwt.encode(claims, private, algorithm="RS256", headers={"typ": TYP, "kid": kid})
        self.audit(
            "token.issue",
            sub=sub,
            sid=sid,
            jti=claims["jti"],
            kid=kid,
            exp=claims["exp"],
            roles=claims["roles"],
        )
        return token

    def _known(
        self, token: Any
    ) -> tuple[bytes | None, tuple[dict[str, Any], dict[str, Any]] | None]:
        """(digest, (header, claims)) of a token verified before that is still within its
        lifetime and whose signing key is still published; (digest, None) otherwise.  What can
        change meanwhile is checked on every request by validate(): the user still enabled, the
        session and jti not revoked."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            return None, None
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        with self._verified_lock:
            known = self._verified.get(digest)
        if known is None:
            return digest, None
        header, claims = known
        if (
            float(claims["exp"]) <= self.clock() - self.leeway_s
            or self.keyring.public_key(header["kid"]) is None
        ):
            with self._verified_lock:
                self._verified.pop(digest, None)
            return digest, None  # verified again in full: the rejection is reported with its reason
        return digest, known

    def validate(self, token: Any) -> AccessClaims:
        """The token's claims if it is ours, valid now, of an enabled user and not revoked;
        else TokenRejected(reason), reported to the audit hook as token.reject."""
        header: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        try:
            digest, known = self._known(token)
            if known is not None:
                header, claims = known
            else:
                header, claims = verify_rs256(
                    token,
                    key_for_kid=self.keyring.public_key,
                    issuer=self.issuer,
                    audience=self.audience,
                    accepted_typ=(TYP,),
                    required=REQUIRED_CLAIMS,
                    leeway_s=self.leeway_s,
                    clock=self.clock,
                    max_lifetime_s=ACCESS_TOKEN_MAX_S,
                )
                check_identity_claims(claims)
                if digest is not None:
                    with self._verified_lock:
                        self._verified[digest] = (header, claims)
            if not isinstance(claims["sid"], str):
                raise CheckFailed("bad_claim", "sid")
            if self.users is not None and not self.users.is_active(claims["sub"]):
                raise CheckFailed("user_disabled")
            if self.revocations is not None:
                why = self.revocations.revoked_reason(
                    sid=claims["sid"],
                    jti=claims["jti"],
                    sub=claims["sub"],
                    iat=float(claims["iat"]),
                )
                if why:
                    raise CheckFailed("revoked", why)
        except CheckFailed as e:
            header = e.header or header
            # sub is only reported once the signature held: before that it is attacker text.
            self.audit(
                "token.reject",
                kind="access",
                reason=e.reason,
                detail=safe_text(e.detail),
                kid=safe_text(header.get("kid", "")),
                sub=claims.get("sub"),
                sid=claims.get("sid"),
                ignored_headers=sorted(h for h in ("jku", "x5u", "jwk", "x5c") if h in header),
            )
            raise TokenRejected(e.reason, e.detail) from None
        return AccessClaims(
            claims["sub"],
            tuple(claims["roles"]),
            dict(claims["attributes"]),
            claims["sid"],
            claims["jti"],
            float(claims["iat"]),
            float(claims["exp"]),
            self.issuer,
            header["kid"],
        )

"""Resource-server mode: accept RS256 access tokens of an external OIDC issuer, verified with the
keys of its JWKS URL.

The JWKS is cached for ``cache_ttl_s``. A token whose kid is not in the cache may mean the issuer
rotated, so the JWKS is fetched again, but at most once per ``refetch_cooldown_s``: tokens with
random kids cannot make us hammer the issuer. PyJWT's PyJWKClient refetches on every unknown kid
with no such limit, which is why this small fetcher is hand-written. Redirects are not followed and
the URL must be https (plain http only on loopback, for tests and a local IdP).
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import IO, Any, Protocol
from urllib.parse import urlsplit

import jwt
from jwt.algorithms import RSAAlgorithm

from ..config import ExternalIdPSettings
from .audit_hook import Audit, no_audit, safe_text
from .auth_errors import AuthError, TokenRejected
from .jwt_checks import CheckFailed, verify_rs256
from .tokens import AccessClaims, check_identity_claims
from .users import ROLES

REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "sub")
MAX_JWKS_BYTES = 1024 * 1024


class DisabledUsers(Protocol):
    def is_disabled(self, name: str) -> bool: ...


def check_jwks_url(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http":
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return url
    raise AuthError(
        f"JWKS URL {url!r} must be https (http only on 127.0.0.1/localhost).", "bad_config"
    )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:  # a redirect could lead anywhere: refuse it
        return None


class ExternalIssuer:
    def __init__(
        self,
        issuer: str,
        jwks_url: str,
        *,
        audience: str,
        accepted_typ: tuple[str, ...] = ("at+jwt", "JWT"),
        roles_claim: str = "roles",
        attribute_claims: tuple[str, ...] = ("region",),
        cache_ttl_s: float = 3600,
        refetch_cooldown_s: float = 60,
        leeway_s: float = 30,
        timeout_s: float = 5,
        users: DisabledUsers | None = None,
        audit: Audit | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.issuer, self.jwks_url = issuer, check_jwks_url(jwks_url)
        self.audience, self.accepted_typ = audience, tuple(accepted_typ)
        self.roles_claim, self.attribute_claims = roles_claim, tuple(attribute_claims)
        self.cache_ttl_s, self.refetch_cooldown_s = cache_ttl_s, refetch_cooldown_s
        self.leeway_s, self.timeout_s = leeway_s, timeout_s
        self.users = users
        self.audit = audit or no_audit
        self.clock = clock
        self.fetches = 0  # how many times we asked the issuer
        self._keys: dict[str, Any] | None = None
        self._fetched_at = float("-inf")
        self._last_attempt = float("-inf")
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(_NoRedirect)

    @classmethod
    def from_settings(
        cls, idp: ExternalIdPSettings, *, leeway_s: float = 30, **kwargs: Any
    ) -> ExternalIssuer:
        """From workbench.config.ExternalIdPSettings; kwargs: users, audit, clock, timeout_s."""
        return cls(
            idp.issuer,
            idp.jwks_url,
            audience=idp.audience,
            accepted_typ=tuple(idp.accepted_typ),
            roles_claim=idp.roles_claim,
            attribute_claims=tuple(idp.attribute_claims),
            cache_ttl_s=idp.cache_ttl_s,
            refetch_cooldown_s=idp.refetch_cooldown_s,
            leeway_s=leeway_s,
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"ExternalIssuer({self.issuer!r}, {self.jwks_url!r})"

    # ---- JWKS -----------------------------------------------------------------------------
    def _fetch(self) -> None:
        self._last_attempt = self.clock()
        self.fetches += 1
        try:
            req = urllib.request.Request(self.jwks_url, headers={"Accept": "application/json"})  # noqa: S310 - jwks_url is checked to be https (http only on loopback) in the constructor
            with self._opener.open(req, timeout=self.timeout_s) as resp:
                body = resp.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise ValueError("JWKS larger than 1 MiB")
            keys = {}
            for jwk in json.loads(body)["keys"]:
                if (
                    jwk.get("kty") == "RSA"
                    and isinstance(jwk.get("kid"), str)
                    and jwk.get("use", "sig") == "sig"
                    and jwk.get("alg", "RS256") == "RS256"
                ):
                    key = RSAAlgorithm.from_jwk(jwk)
                    if key.key_size >= 2048:  # shorter RSA keys are forgeable (RFC 7518 §3.3)
                        keys[jwk["kid"]] = key
        except (
            OSError,
            urllib.error.URLError,
            ValueError,
            KeyError,
            TypeError,
            jwt.InvalidKeyError,
        ) as e:
            # Keep the keys we had: an issuer outage must not log everybody out at once.
            self.audit(
                "oidc.jwks_error",
                issuer=self.issuer,
                url=self.jwks_url,
                error=safe_text(f"{type(e).__name__}: {e}", 200),
            )
            return
        self._keys, self._fetched_at = keys, self._last_attempt

    def key_for_kid(self, kid: str) -> Any:
        with self._lock:  # one fetch at a time: concurrent unknown kids share it
            now = self.clock()
            cooled = now - self._last_attempt >= self.refetch_cooldown_s
            if self._keys is None or now - self._fetched_at >= self.cache_ttl_s:
                if self._keys is None or cooled:
                    self._fetch()
            if self._keys is not None and kid in self._keys:
                return self._keys[kid]
            if self.clock() - self._last_attempt >= self.refetch_cooldown_s:
                self._fetch()
                return (self._keys or {}).get(kid)
            return None

    # ---- validation -----------------------------------------------------------------------
    def validate(self, token: Any) -> AccessClaims:
        """The identity in an external token; else TokenRejected, audited as token.reject.
        Only roles that exist here are kept (an IdP knows many more)."""
        header: dict[str, Any] = {}
        claims: dict[str, Any] = {}
        try:
            header, claims = verify_rs256(
                token,
                key_for_kid=self.key_for_kid,
                issuer=self.issuer,
                audience=self.audience,
                accepted_typ=self.accepted_typ,
                required=REQUIRED_CLAIMS,
                leeway_s=self.leeway_s,
                clock=self.clock,
            )
            roles = claims.get(self.roles_claim, [])
            # Top-level claims (most IdPs), or a Workbench issuer's `attributes` object.
            given = claims.get("attributes")
            nested: dict[str, Any] = given if isinstance(given, dict) else {}
            source = {**nested, **claims}
            attributes = {k: source[k] for k in self.attribute_claims if k in source}
            check_identity_claims({"roles": roles, "attributes": attributes})
            if self.users is not None and self.users.is_disabled(claims["sub"]):
                raise CheckFailed("user_disabled")
        except CheckFailed as e:
            header = e.header or header
            self.audit(
                "token.reject",
                kind="external",
                issuer=self.issuer,
                reason=e.reason,
                detail=safe_text(e.detail),
                kid=safe_text(header.get("kid", "")),
                sub=claims.get("sub"),
            )
            raise TokenRejected(e.reason, e.detail) from None
        return AccessClaims(
            claims["sub"],
            tuple(r for r in roles if r in ROLES),
            attributes,
            claims.get("sid"),
            claims.get("jti"),
            float(claims["iat"]),
            float(claims["exp"]),
            self.issuer,
            header["kid"],
        )

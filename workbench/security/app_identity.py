"""Signed identities for the published apps: the gateway says who is looking, the app checks it.

The apps behind jupyter-server-proxy trust no network and no header as such.  For every request
it forwards, the gateway (workbench.server.app_proxy) drops whatever identity headers the client
sent (:data:`CLIENT_IDENTITY_HEADERS`) and adds :data:`IDENTITY_HEADER`: a short-lived RS256 JWS
signed with the server's key ring, whose audience is the one app it is for.  The app verifies it
itself (:class:`IdentityVerifier`) with the public keys the gateway writes to a JWKS file in the
apps' private folder, so it needs neither a network fetch nor the private keys.

An identity is not an access token: its ``typ`` is :data:`TYP`, not ``at+jwt``, and its audience
is an app name, so the server's API refuses it and the app refuses an access token.
"""

from __future__ import annotations

import json
import os
import secrets
import stat
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from .jwt_checks import CheckFailed, verify_rs256
from .principal import Principal

IDENTITY_HEADER = "X-Workbench-Identity"
#: Identity headers some proxies and apps trust; a client's copies never reach an app.
CLIENT_IDENTITY_HEADERS = (
    IDENTITY_HEADER,
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Preferred-Username",
    "X-Remote-User",
    "Remote-User",
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
)
TYP = "workbench-identity+jwt"
#: Long enough for a page's first request to reach its websocket on a loaded machine; each
#: forwarded request gets a fresh one, and the app checks it when a session starts.
LIFETIME_S = 120
MAX_LIFETIME_S = 300
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "nbf", "jti", "sub", "roles", "attributes")

# The environment the gateway gives each app process (workbench.server.apps).
ENV_APP = "WORKBENCH_APP_NAME"
ENV_JWKS = "WORKBENCH_IDENTITY_JWKS"
ENV_ISSUER = "WORKBENCH_IDENTITY_ISSUER"

REFUSALS = {
    "missing": "The request brought no signed identity: it did not come through the Workbench.",
    "no_verifier": "This app was not started by the Workbench, so it cannot check who is asking.",
    "jwks": "The Workbench's public keys for this app cannot be read.",
    "expired": "The signed identity has expired; reload the page.",
}


class IdentityRefused(Exception):
    """A missing, forged, expired or misdirected identity; ``reason`` is a short code."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason, self.detail = reason, detail
        super().__init__(REFUSALS.get(reason, f"The signed identity was refused ({reason})."))


@dataclass(frozen=True)
class AppIdentity:
    """Who is looking, as the gateway signed it for one app."""

    sub: str
    roles: tuple[str, ...]
    attributes: dict[str, Any] = field(default_factory=dict)
    app: str = ""
    sid: str | None = None
    jti: str = ""
    exp: float = 0.0
    #: how the person logged in: ``password`` or ``bearer`` (a person, their own principal) or
    #: ``owner`` (the server's token; the server maps it to principals.yml's default)
    via: str = ""

    @property
    def is_person(self) -> bool:
        return self.via != "owner"

    def principal(self) -> Principal:
        return Principal.of(self.sub, self.roles, **self.attributes)


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


class IdentitySigner:
    """The gateway's side: signs identities with the key ring's current key and keeps the JWKS
    file the apps verify with up to date (written before the first identity a new key signs)."""

    def __init__(
        self,
        keyring: Any,
        *,
        issuer: str,
        jwks_path: str | Path,
        lifetime_s: int = LIFETIME_S,
        clock: Callable[[], float] = time.time,
    ):
        if not 0 < lifetime_s <= MAX_LIFETIME_S:
            raise ValueError(f"identity lifetime must be 1..{MAX_LIFETIME_S} s, not {lifetime_s}")
        self.keyring, self.issuer, self.lifetime_s, self.clock = keyring, issuer, lifetime_s, clock
        self.jwks_path = Path(jwks_path)
        self._published: dict[str, Any] | None = None

    def publish(self) -> None:
        """Write the key ring's public JWKS to ``jwks_path`` (0600) if it changed or is gone."""
        jwks = self.keyring.jwks()
        if jwks == self._published and self.jwks_path.exists():
            return
        _write_private(self.jwks_path, json.dumps(jwks))
        self._published = jwks

    def sign(
        self,
        app: str,
        sub: str,
        *,
        roles: Any = (),
        attributes: Mapping[str, Any] | None = None,
        sid: str | None = None,
        via: str | None = None,
    ) -> str:
        self.publish()
        now = int(self.clock())
        kid, private = self.keyring.signing_key()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": app,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_s,
            "jti": secrets.token_urlsafe(12),
            "roles": list(roles),
            "attributes": dict(attributes or {}),
        }
        if sid:
            claims["sid"] = sid
        if via:
            claims["via"] = via
        return jwt.encode(claims, private, algorithm="RS256", headers={"typ": TYP, "kid": kid})


class IdentityVerifier:
    """The app's side: checks an identity against the JWKS file, for one audience (this app)."""

    def __init__(
        self,
        jwks_path: str | Path,
        *,
        issuer: str,
        audience: str,
        leeway_s: float = 30,
        clock: Callable[[], float] = time.time,
    ):
        self.jwks_path = Path(jwks_path)
        self.issuer, self.audience, self.leeway_s, self.clock = issuer, audience, leeway_s, clock
        self._keys: dict[str, Any] = {}
        self._stamp: tuple[int, ...] | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IdentityVerifier | None:
        """The verifier the gateway configured for this app process; None when not started by it."""
        env = os.environ if environ is None else environ
        path, issuer, app = env.get(ENV_JWKS), env.get(ENV_ISSUER), env.get(ENV_APP)
        if not (path and issuer and app):
            return None
        return cls(path, issuer=issuer, audience=app)

    def _load(self) -> None:
        try:
            st = self.jwks_path.stat()
        except OSError:
            raise IdentityRefused("jwks", f"{self.jwks_path}: missing") from None
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        # Whoever may write this file may mint identities: only its owner (the server's user).
        if not stat.S_ISREG(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise IdentityRefused("jwks", f"{self.jwks_path}: not a private file")
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise IdentityRefused("jwks", f"{self.jwks_path}: owned by another user")
        try:
            doc = json.loads(self.jwks_path.read_text())
            keys = {}
            for jwk in doc["keys"]:
                if jwk.get("kty") == "RSA" and jwk.get("alg", "RS256") == "RS256":
                    keys[str(jwk["kid"])] = jwt.PyJWK(jwk, algorithm="RS256").key
        except (OSError, ValueError, KeyError, TypeError, jwt.PyJWKError):
            raise IdentityRefused("jwks", f"{self.jwks_path}: not a JWKS document") from None
        self._keys, self._stamp = keys, stamp

    def key_for_kid(self, kid: str) -> Any:
        return self._keys.get(kid)

    def verify(self, token: Any) -> AppIdentity:
        """The identity in ``token`` if the gateway signed it for this app and it is valid now;
        else :class:`IdentityRefused`."""
        if not token:
            raise IdentityRefused("missing")
        if isinstance(token, (list, tuple)):  # a header sent twice is a forgery, not a choice
            raise IdentityRefused("malformed", "several identity headers")
        self._load()
        try:
            _, claims = verify_rs256(
                token,
                key_for_kid=self.key_for_kid,
                issuer=self.issuer,
                audience=self.audience,
                accepted_typ=(TYP,),
                required=REQUIRED_CLAIMS,
                leeway_s=self.leeway_s,
                clock=self.clock,
                max_lifetime_s=MAX_LIFETIME_S,
            )
        except CheckFailed as e:
            raise IdentityRefused(e.reason, e.detail) from None
        roles, attributes, sub = claims["roles"], claims["attributes"], claims["sub"]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise IdentityRefused("bad_claim", "roles")
        if not isinstance(attributes, dict) or not isinstance(sub, str) or not sub:
            raise IdentityRefused("bad_claim", "attributes or sub")
        sid, via = claims.get("sid"), claims.get("via")
        return AppIdentity(
            sub,
            tuple(roles),
            dict(attributes),
            self.audience,
            sid if isinstance(sid, str) else None,
            str(claims["jti"]),
            float(claims["exp"]),
            via if isinstance(via, str) else "",
        )

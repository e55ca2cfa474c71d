"""The checks every RS256 access token goes through, ours or an external issuer's (RFC 8725).

PyJWT verifies the signature, ``iss``, ``aud`` and the presence of every required claim, with
the algorithm list pinned to RS256. Times are checked here instead, against an injectable clock,
so tests can move time without mocks. Header rules:

- ``alg`` must be RS256: ``none`` and HMAC algorithms never reach a key;
- ``typ`` is required and must be one the caller accepts (RFC 8725 §3.11, RFC 9068 ``at+jwt``);
- ``kid`` is required, bounded and looked up only by the caller's ``key_for_kid`` (a key ring or a
  cached JWKS): never a file path, never a URL;
- ``jku``, ``x5u``, ``jwk`` and ``x5c`` are never read, so a token cannot bring its own key;
- ``crit`` is refused: we understand no extension, and RFC 7515 says to reject what we don't.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import jwt

KID_TEXT_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MAX_TOKEN_BYTES = 16 * 1024

_PYJWT_REASONS = (
    (jwt.InvalidAlgorithmError, "alg_not_allowed"),
    (jwt.InvalidSignatureError, "bad_signature"),
    (jwt.InvalidAudienceError, "wrong_aud"),
    (jwt.InvalidIssuerError, "wrong_iss"),
    (jwt.MissingRequiredClaimError, "missing_claim"),
    (jwt.DecodeError, "malformed"),
)


class CheckFailed(Exception):
    def __init__(self, reason: str, detail: str = "", header: dict[str, Any] | None = None):
        self.reason, self.detail, self.header = reason, detail, header or {}
        super().__init__(reason)


def normal_typ(value: str) -> str:
    """Media types compare case-insensitively, and "application/" may be omitted (RFC 7515 §4.1.9)."""
    v = value.strip().lower()
    return v[len("application/") :] if v.startswith("application/") else v


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, read without trusting it. Hand-written rather than PyJWT's
    get_unverified_header, which refuses odd kid/crit values with one generic error: here each
    gets its own reason for the audit trail."""
    if token.count(".") != 2:
        raise CheckFailed("malformed", "not three parts")
    part = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, TypeError):
        raise CheckFailed("malformed", "header") from None
    if not isinstance(header, dict):
        raise CheckFailed("malformed", "header")
    return header


def verify_rs256(
    token: Any,
    *,
    key_for_kid: Callable[[str], Any],
    issuer: str,
    audience: str,
    accepted_typ: tuple[str, ...],
    required: tuple[str, ...],
    leeway_s: float,
    clock: Callable[[], float],
    max_lifetime_s: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a valid token; else CheckFailed with a reason code."""
    if isinstance(token, bytes):
        token = token.decode("ascii", "replace")
    if not isinstance(token, str) or not token:
        raise CheckFailed("malformed", "no token")
    if len(token) > MAX_TOKEN_BYTES:
        raise CheckFailed("too_large", f"{len(token)} bytes")
    header = unverified_header(token)
    if header.get("alg") != "RS256":
        raise CheckFailed("alg_not_allowed", str(header.get("alg"))[:20], header)
    typ = header.get("typ")
    if not isinstance(typ, str) or not typ:
        raise CheckFailed("missing_typ", header=header)
    if normal_typ(typ) not in {normal_typ(t) for t in accepted_typ}:
        raise CheckFailed("bad_typ", typ[:40], header)
    if "crit" in header:
        raise CheckFailed("unsupported_crit", header=header)
    kid = header.get("kid")
    if kid is None:
        raise CheckFailed("missing_kid", header=header)
    if not isinstance(kid, str) or not KID_TEXT_RE.match(kid):
        raise CheckFailed("malformed_kid", header=header)
    key = key_for_kid(kid)
    if key is None:
        raise CheckFailed("unknown_kid", header=header)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            issuer=issuer,
            options={
                "require": list(required),
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError as e:
        reason = next((r for cls, r in _PYJWT_REASONS if isinstance(e, cls)), "invalid")
        detail = getattr(e, "claim", "") if reason == "missing_claim" else ""
        raise CheckFailed(reason, detail, header) from None
    now = clock()
    times = {}
    for name in ("exp", "iat", "nbf"):
        if name in claims:
            v = claims[name]
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise CheckFailed("bad_claim", name, header)
            times[name] = float(v)
    if "exp" in times and times["exp"] <= now - leeway_s:
        raise CheckFailed("expired", header=header)
    if "nbf" in times and times["nbf"] > now + leeway_s:
        raise CheckFailed("not_yet_valid", header=header)
    if "iat" in times and times["iat"] > now + leeway_s:
        raise CheckFailed("issued_in_future", header=header)
    if (
        max_lifetime_s is not None
        and "exp" in times
        and "iat" in times
        and times["exp"] - times["iat"] > max_lifetime_s + leeway_s
    ):
        raise CheckFailed("lifetime_too_long", header=header)
    return header, claims

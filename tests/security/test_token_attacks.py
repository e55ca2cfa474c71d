"""The attack suite of issue 11 §2: every forged, stale or misdirected token is rejected AND the
rejection reaches the audit hook with its reason. Real RSA keys and real signatures throughout;
time moves through the injected clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from workbench.security.auth_errors import RefreshRejected, RefreshReuseDetected, TokenRejected
from workbench.security.keyring import jwk_thumbprint

from .auth_support import b64, claims_for, login, rejected, sign_ours


def attacker_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def session_and_token(tokens, sessions):
    return login(tokens, sessions)


def test_a_genuine_token_passes(tokens, session_and_token):
    s, access = session_and_token
    c = tokens.validate(access)
    assert (c.sub, c.roles, c.attributes, c.sid) == (
        "ann",
        ("analyst",),
        {"region": "North"},
        s.sid,
    )


def test_alg_none(tokens, audit, session_and_token):
    s, _ = session_and_token
    forged = jwt.encode(
        claims_for(tokens, s.sid, roles=["admin"]),
        None,
        algorithm="none",
        headers={"typ": "at+jwt", "kid": tokens.keyring.current_kid},
    )
    assert forged.endswith(".")  # really unsigned
    rejected(tokens, audit, forged, "alg_not_allowed")
    # "None", "NONE": the check is on the exact value, not a case-folded one
    header = b64(
        json.dumps({"alg": "None", "typ": "at+jwt", "kid": tokens.keyring.current_kid}).encode()
    )
    rejected(
        tokens,
        audit,
        f"{header}.{b64(json.dumps(claims_for(tokens, s.sid)).encode())}.",
        "alg_not_allowed",
    )


def test_hs256_signed_with_our_public_key(tokens, audit, session_and_token):
    s, _ = session_and_token
    kid = tokens.keyring.current_kid
    pem = tokens.keyring.public_key(kid).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Hand-made: PyJWT itself refuses to use a PEM as an HMAC secret, an attacker does not.
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "at+jwt", "kid": kid}).encode())
        + "."
        + b64(json.dumps(claims_for(tokens, s.sid, roles=["admin"])).encode())
    )
    for secret in (pem, pem.strip()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        rejected(tokens, audit, f"{signing_input}.{b64(mac)}", "alg_not_allowed")


def test_unknown_kid(tokens, audit, session_and_token):
    s, _ = session_and_token
    evil = attacker_key()
    forged = jwt.encode(
        claims_for(tokens, s.sid),
        evil,
        algorithm="RS256",
        headers={"typ": "at+jwt", "kid": jwk_thumbprint(evil.public_key())},
    )
    rejected(tokens, audit, forged, "unknown_kid")
    # and with our kid but the attacker's key: the signature fails
    forged = jwt.encode(
        claims_for(tokens, s.sid),
        evil,
        algorithm="RS256",
        headers={"typ": "at+jwt", "kid": tokens.keyring.current_kid},
    )
    rejected(tokens, audit, forged, "bad_signature")


@pytest.mark.parametrize(
    "kid",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "..\\..\\keys\\x.pem",
        "x' OR '1'='1",
        "1; DROP TABLE users--",
        "kid\x00.pem",
        "a" * 500,
        "",
        12345,
        {"kid": "x"},
        None,
    ],
)
def test_injected_or_path_like_kid(tokens, audit, session_and_token, kid):
    s, _ = session_and_token
    token = sign_ours(tokens, claims_for(tokens, s.sid), kid=kid)
    details = rejected(tokens, audit, token, "missing_kid" if kid is None else "malformed_kid")
    # what reaches the audit trail is bounded, printable text
    assert len(details["kid"]) <= 81 and details["kid"].isprintable()


def test_key_file_planted_in_the_keys_folder_is_not_used(tokens, audit, session_and_token):
    """A kid that looks fine and names a PEM file in our own keys folder is still only looked up
    in the ring's own list."""
    s, _ = session_and_token
    evil = attacker_key()
    planted = tokens.keyring.directory / "planted.pem"
    planted.write_bytes(
        evil.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    planted.chmod(0o600)
    forged = jwt.encode(
        claims_for(tokens, s.sid, roles=["admin"]),
        evil,
        algorithm="RS256",
        headers={"typ": "at+jwt", "kid": "planted"},
    )
    rejected(tokens, audit, forged, "unknown_kid")


class _CountingJWKS(BaseHTTPRequestHandler):
    body = b"{}"
    hits = 0

    def do_GET(self):  # noqa: N802
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def test_jku_x5u_and_jwk_headers_are_ignored(tokens, audit, session_and_token):
    s, _ = session_and_token
    evil = attacker_key()
    evil_kid = jwk_thumbprint(evil.public_key())
    evil_jwk = {**RSAAlgorithm.to_jwk(evil.public_key(), as_dict=True), "kid": evil_kid}
    handler = type(
        "H", (_CountingJWKS,), {"body": json.dumps({"keys": [evil_jwk]}).encode(), "hits": 0}
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        claims = claims_for(tokens, s.sid, roles=["admin"])
        for extra in ({"jku": url}, {"x5u": url}, {"jwk": evil_jwk}, {"jku": url, "x5u": url}):
            for kid in (evil_kid, tokens.keyring.current_kid):
                forged = jwt.encode(
                    claims, evil, algorithm="RS256", headers={"typ": "at+jwt", "kid": kid, **extra}
                )
                details = rejected(
                    tokens, audit, forged, "unknown_kid" if kid == evil_kid else "bad_signature"
                )
                assert details["ignored_headers"] == sorted(extra)
        assert handler.hits == 0  # the advertised URL was never even fetched
    finally:
        server.shutdown()
        server.server_close()


def test_expired(tokens, audit, session_and_token, clock):
    _, access = session_and_token
    clock.advance(600 + 29)  # within the 30 s leeway: still accepted
    tokens.validate(access)
    clock.advance(2)
    rejected(tokens, audit, access, "expired")


def test_nbf_in_the_future(tokens, audit, session_and_token):
    s, _ = session_and_token
    now = int(tokens.clock())
    rejected(
        tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid, nbf=now + 120)), "not_yet_valid"
    )
    tokens.validate(
        sign_ours(tokens, claims_for(tokens, s.sid, nbf=now + 20))
    )  # skew within leeway


def test_iat_in_the_future_and_overlong_lifetime(tokens, audit, session_and_token):
    s, _ = session_and_token
    now = int(tokens.clock())
    rejected(
        tokens,
        audit,
        sign_ours(tokens, claims_for(tokens, s.sid, iat=now + 3600, nbf=now)),
        "issued_in_future",
    )
    rejected(
        tokens,
        audit,
        sign_ours(tokens, claims_for(tokens, s.sid, exp=now + 86400)),
        "lifetime_too_long",
    )


def test_wrong_audience(tokens, audit, session_and_token):
    s, _ = session_and_token
    for aud in ("other-service", ["other-service"], "workbench-admin"):
        rejected(tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid, aud=aud)), "wrong_aud")


def test_wrong_issuer(tokens, audit, session_and_token):
    s, _ = session_and_token
    for iss in ("https://evil.test", "https://workbench.test/", "HTTPS://WORKBENCH.TEST"):
        rejected(tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid, iss=iss)), "wrong_iss")


def test_missing_or_wrong_typ(tokens, audit, session_and_token):
    s, _ = session_and_token
    rejected(tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid), typ=None), "missing_typ")
    for typ in ("JWT", "id_token", "dpop+jwt"):
        rejected(tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid), typ=typ), "bad_typ")
    tokens.validate(
        sign_ours(tokens, claims_for(tokens, s.sid), typ="application/AT+JWT")
    )  # RFC 7515 §4.1.9


def test_missing_claims(tokens, audit, session_and_token):
    s, _ = session_and_token
    for claim in ("iss", "aud", "exp", "iat", "nbf", "jti", "sub", "roles", "attributes", "sid"):
        details = rejected(
            tokens,
            audit,
            sign_ours(tokens, claims_for(tokens, s.sid, **{claim: None})),
            "missing_claim",
        )
        assert details["detail"] == claim
    rejected(
        tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid, roles="admin")), "bad_claim"
    )
    rejected(tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid, exp="never")), "bad_claim")


def test_tampered_payload(tokens, audit, session_and_token):
    _, access = session_and_token
    header, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["admin"]
    forged = ".".join([header, b64(json.dumps(claims).encode()), signature])
    rejected(tokens, audit, forged, "bad_signature")
    flipped = access[:-5] + ("A" if access[-5] != "A" else "B") + access[-4:]
    rejected(tokens, audit, flipped, "bad_signature")
    rejected(tokens, audit, "not.a.jwt", "malformed")
    rejected(tokens, audit, "", "malformed")


def test_unknown_user_and_session(tokens, audit, session_and_token):
    s, _ = session_and_token
    rejected(
        tokens, audit, sign_ours(tokens, claims_for(tokens, s.sid, sub="mallory")), "user_disabled"
    )
    rejected(tokens, audit, sign_ours(tokens, claims_for(tokens, "made-up-session")), "revoked")
    # a real session of another user does not carry ann's token
    other = tokens.revocations.start("vic")
    rejected(tokens, audit, sign_ours(tokens, claims_for(tokens, other.sid)), "revoked")


def test_reused_refresh_token_revokes_the_family(tokens, sessions, audit, session_and_token, clock):
    s, access = session_and_token
    stolen = s.refresh_token
    clock.advance(60)
    honest = sessions.refresh(stolen)  # the real client rotates
    clock.advance(60)  # past the 10 s grace window
    with pytest.raises(RefreshReuseDetected) as e:
        sessions.refresh(stolen)  # the thief replays the old token
    assert e.value.reason == "reuse_detected" and e.value.sid == s.sid
    assert audit.last == ("token.reuse", {"sub": "ann", "sid": s.sid, "seconds_since_use": 60.0})
    # the whole family is dead: the legitimate client's newer token fails too ...
    with pytest.raises(RefreshRejected) as e2:
        sessions.refresh(honest.refresh_token)
    assert e2.value.reason == "revoked" and audit.last[1]["reason"] == "revoked"
    # ... and so does the access token of that session, on its next request
    details = rejected(tokens, audit, access, "revoked")
    assert details["detail"] == "reuse_detected"


def test_token_of_a_disabled_user(tokens, users, sessions, audit, session_and_token):
    s, access = session_and_token
    tokens.validate(access)
    users.set_disabled("ann", True)
    rejected(tokens, audit, access, "user_disabled")
    with pytest.raises(RefreshRejected) as e:
        sessions.refresh(s.refresh_token)
    assert e.value.reason == "user_disabled"
    with pytest.raises(TokenRejected):
        tokens.issue("ann", roles=["analyst"], sid=s.sid)
    assert audit.last == (
        "token.reject",
        {"kind": "issue", "reason": "user_disabled", "sub": "ann", "sid": s.sid},
    )


def test_unsupported_crit_header(tokens, audit, session_and_token):
    s, _ = session_and_token
    rejected(
        tokens,
        audit,
        sign_ours(tokens, claims_for(tokens, s.sid), crit=["exp"]),
        "unsupported_crit",
    )

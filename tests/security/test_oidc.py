"""Resource-server mode against a second issuer on 127.0.0.1: a second Workbench key ring whose
JWKS is served by a tiny http.server in a thread, which counts every request it gets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from workbench.config import ExternalIdPSettings
from workbench.security.auth_errors import AuthError, TokenRejected
from workbench.security.keyring import KeyRing
from workbench.security.oidc import ExternalIssuer, check_jwks_url
from workbench.security.tokens import AccessTokens
from workbench.security.users import UserStore

from .auth_support import cheap_hasher


class IdP:
    """The external identity provider: its own key ring, its own issuer name, its JWKS on HTTP."""

    def __init__(self, tmp_path, clock):
        self.ring = KeyRing(tmp_path / "idp-keys", clock=clock, publish_lead_s=0)
        self.hits = {"/jwks.json": 0, "/redirect": 0, "/broken": 0}
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                idp.hits[self.path] = idp.hits.get(self.path, 0) + 1
                if self.path == "/jwks.json":
                    body = json.dumps(idp.ring.jwks()).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                elif self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/jwks.json")
                    self.end_headers()
                else:
                    self.send_error(500)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.issuer = self.base + "/"
        self.tokens = AccessTokens(self.ring, issuer=self.issuer, audience="workbench", clock=clock)

    def token(self, sub="zoe", roles=("analyst", "idp-only-role"), **attributes):
        return self.tokens.issue(
            sub, roles=list(roles), attributes=attributes or {"region": "West"}, sid="idp-session"
        )

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def idp(tmp_path, clock):
    p = IdP(tmp_path, clock)
    yield p
    p.stop()


@pytest.fixture
def external(idp, clock, audit):
    return ExternalIssuer(
        idp.issuer,
        idp.base + "/jwks.json",
        audience="workbench",
        refetch_cooldown_s=60,
        cache_ttl_s=3600,
        clock=clock,
        audit=audit,
    )


def rejected(external, audit, token, reason):
    with pytest.raises(TokenRejected) as e:
        external.validate(token)
    assert e.value.reason == reason, e.value
    assert audit.last[0] == "token.reject" and audit.last[1]["reason"] == reason
    assert audit.last[1]["kind"] == "external"


def test_external_token_is_accepted(idp, external):
    c = external.validate(idp.token())
    assert (c.sub, c.roles, c.attributes, c.issuer) == (
        "zoe",
        ("analyst",),
        {"region": "West"},
        idp.issuer,
    )
    assert c.principal().attrs == {"region": "West"}
    external.validate(idp.token("yan"))
    assert idp.hits["/jwks.json"] == 1 and external.fetches == 1  # cached


def test_random_kids_do_not_hammer_the_issuer(idp, external, audit, clock):
    external.validate(idp.token())
    _, key = idp.ring.signing_key()
    claims = jwt.decode(idp.token(), options={"verify_signature": False})

    def random_kid_token():
        return jwt.encode(
            claims,
            key,
            algorithm="RS256",
            headers={"typ": "at+jwt", "kid": secrets.token_urlsafe(32)},
        )

    for _ in range(50):
        rejected(external, audit, random_kid_token(), "unknown_kid")
    assert idp.hits["/jwks.json"] == 1  # within the cooldown: no request at all
    clock.advance(61)
    for _ in range(50):
        rejected(external, audit, random_kid_token(), "unknown_kid")
    assert idp.hits["/jwks.json"] == 2  # one refetch per cooldown, however many kids


def test_issuer_rotation(idp, external, clock):
    external.validate(idp.token())
    idp.ring.rotate()
    # the new signing key was published as "next" before it signed: no refetch needed
    external.validate(idp.token())
    assert idp.hits["/jwks.json"] == 1
    idp.ring.rotate()  # now a key we have never seen signs
    with pytest.raises(TokenRejected, match="unknown_kid"):
        external.validate(idp.token())
    clock.advance(61)
    assert external.validate(idp.token()).sub == "zoe"
    assert idp.hits["/jwks.json"] == 2


def test_wrong_issuer_audience_and_forged_tokens(idp, external, audit, tmp_path, clock):
    other = AccessTokens(
        idp.ring, issuer="https://someone-else/", audience="workbench", clock=clock
    )
    rejected(external, audit, other.issue("zoe", roles=["admin"], sid="s"), "wrong_iss")
    other = AccessTokens(idp.ring, issuer=idp.issuer, audience="another-app", clock=clock)
    rejected(external, audit, other.issue("zoe", roles=["admin"], sid="s"), "wrong_aud")
    # our own local issuer's tokens are not the IdP's
    local = AccessTokens(
        KeyRing(tmp_path / "local-keys", clock=clock),
        issuer=idp.issuer,
        audience="workbench",
        clock=clock,
    )
    rejected(external, audit, local.issue("zoe", roles=["admin"], sid="s"), "unknown_kid")
    # HS256 with the IdP's own public key as the secret
    kid = idp.ring.current_kid
    pem = idp.ring.public_key(kid).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()  # noqa: E731
    body = jwt.decode(idp.token(), options={"verify_signature": False})
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        + "."
        + b64(json.dumps({**body, "roles": ["admin"]}).encode())
    )
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    rejected(external, audit, f"{signing_input}.{b64(mac)}", "alg_not_allowed")
    token = idp.token()
    clock.advance(600 + 31)  # its lifetime plus our leeway
    rejected(external, audit, token, "expired")


def test_a_disabled_local_user_is_refused(idp, tmp_path, clock, audit):
    users = UserStore(tmp_path / "u.sqlite", hasher=cheap_hasher())
    users.add("zoe", "correct horse battery", ["analyst"])
    users.set_disabled("zoe", True)
    external = ExternalIssuer(
        idp.issuer,
        idp.base + "/jwks.json",
        audience="workbench",
        clock=clock,
        users=users,
        audit=audit,
    )
    rejected(external, audit, idp.token("zoe"), "user_disabled")
    assert external.validate(idp.token("yan")).sub == "yan"  # no local entry: the IdP vouches


def test_issuer_outage_keeps_the_cached_keys(idp, external, clock, audit):
    external.validate(idp.token())
    idp.stop()
    clock.advance(3601)  # cache expired, cooldown over: a refetch is tried
    assert external.validate(idp.token()).sub == "zoe"
    assert external.fetches == 2 and audit.of("oidc.jwks_error")


def test_redirects_are_not_followed(idp, clock, audit):
    external = ExternalIssuer(
        idp.issuer, idp.base + "/redirect", audience="workbench", clock=clock, audit=audit
    )
    with pytest.raises(TokenRejected, match="unknown_kid"):
        external.validate(idp.token())
    assert idp.hits["/redirect"] == 1 and idp.hits["/jwks.json"] == 0
    assert "302" in audit.of("oidc.jwks_error")[0]["error"]


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://idp.example.com/jwks", True),
        ("http://127.0.0.1:9/j", True),
        ("http://localhost/j", True),
        ("http://[::1]:8/j", True),
        ("http://idp.example.com/jwks", False),
        ("file:///etc/passwd", False),
        ("http://10.0.0.1/jwks", False),
        ("ftp://idp/jwks", False),
    ],
)
def test_jwks_url_must_be_https_off_loopback(url, ok):
    if ok:
        assert check_jwks_url(url) == url
    else:
        with pytest.raises(AuthError, match="must be https"):
            check_jwks_url(url)


def test_from_settings(idp, clock):
    s = ExternalIdPSettings(
        issuer=idp.issuer, jwks_url=idp.base + "/jwks.json", refetch_cooldown_s=5
    )
    external = ExternalIssuer.from_settings(s, clock=clock)
    assert external.refetch_cooldown_s == 5 and external.validate(idp.token()).sub == "zoe"


@pytest.mark.filterwarnings("ignore:The RSA key is 1024 bits")  # the attacker's own encode warns
def test_short_rsa_keys_in_the_jwks_are_ignored(idp, clock, audit):
    """An IdP (or whoever controls its JWKS) publishing a 1024-bit key cannot get tokens signed
    with it accepted: such keys are factorable."""
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - the test needs a weak key: it checks such a key is refused
    jwk = {**RSAAlgorithm.to_jwk(weak.public_key(), as_dict=True), "kid": "weak-key"}
    real_jwks = idp.ring.jwks
    idp.ring.jwks = lambda: {"keys": real_jwks()["keys"] + [jwk]}
    external = ExternalIssuer(
        idp.issuer, idp.base + "/jwks.json", audience="workbench", clock=clock, audit=audit
    )
    assert external.validate(idp.token()).sub == "zoe"  # the JWKS was read ...
    claims = jwt.decode(idp.token(), options={"verify_signature": False})
    forged = jwt.encode(
        claims, weak, algorithm="RS256", headers={"typ": "at+jwt", "kid": "weak-key"}
    )
    rejected(external, audit, forged, "unknown_kid")  # ... but not its weak key


def test_an_oversized_jwks_is_not_read(idp, clock, audit):
    real_jwks = idp.ring.jwks
    idp.ring.jwks = lambda: {**real_jwks(), "padding": "x" * (1 << 20)}
    url = idp.base + "/jwks.json"
    external = ExternalIssuer(idp.issuer, url, audience="workbench", clock=clock, audit=audit)
    assert repr(external) == f"ExternalIssuer({idp.issuer!r}, {url!r})"
    rejected(external, audit, idp.token(), "unknown_kid")
    assert "JWKS larger than 1 MiB" in audit.of("oidc.jwks_error")[0]["error"]


def test_keys_of_another_type_or_use_are_ignored_even_under_a_known_kid(idp, clock, audit):
    """A symmetric key, an encryption key or an ES256 key published under the signing key's kid
    must not replace the RSA signing key (nor let HS256 tokens in)."""
    real_jwks = idp.ring.jwks
    kid = idp.ring.current_kid
    other = RSAAlgorithm.to_jwk(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(), as_dict=True
    )
    decoys = [  # listed after the real key: accepting one would replace it under that kid
        {"kty": "oct", "kid": kid, "k": "c2VjcmV0"},
        {**other, "kid": kid, "use": "enc"},
        {**other, "kid": kid, "alg": "RS512"},
        {**other, "kid": 12345},  # a kid that is not text
    ]
    idp.ring.jwks = lambda: {"keys": real_jwks()["keys"] + decoys}
    external = ExternalIssuer(
        idp.issuer, idp.base + "/jwks.json", audience="workbench", clock=clock, audit=audit
    )
    assert external.validate(idp.token()).sub == "zoe"
    assert not audit.of("oidc.jwks_error")

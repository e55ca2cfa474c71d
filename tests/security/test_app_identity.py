"""Signed identities for the published apps (workbench.security.app_identity): what the gateway
signs, the app accepts; everything else is refused with its reason.  Real key rings in a
temporary folder, a clock that moves only when told; forgeries made with PyJWT directly."""

from __future__ import annotations

import base64
import json
import os
import stat

import jwt
import pytest

from tests.security.auth_support import T0, Clock
from workbench.security.app_identity import (
    TYP,
    IdentityRefused,
    IdentitySigner,
    IdentityVerifier,
)
from workbench.security.keyring import KeyRing
from workbench.security.tokens import AccessTokens

APP = "workbench-catalog"


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def ring(tmp_path, clock):
    return KeyRing(tmp_path / "keys", clock=clock)


@pytest.fixture
def signer(tmp_path, ring, clock):
    private = tmp_path / "apps"
    private.mkdir(mode=0o700)
    return IdentitySigner(ring, issuer="workbench", jwks_path=private / "jwks.json", clock=clock)


@pytest.fixture
def verifier(signer, clock):
    return IdentityVerifier(signer.jwks_path, issuer="workbench", audience=APP, clock=clock)


def sign(signer, sub="vera", **kw):
    return signer.sign(APP, sub, roles=["viewer"], attributes={"region": "North"}, sid="s1", **kw)


def refusal(verifier, token) -> str:
    with pytest.raises(IdentityRefused) as e:
        verifier.verify(token)
    return e.value.reason


def test_the_app_accepts_what_the_gateway_signed_for_it(signer, verifier):
    identity = verifier.verify(sign(signer))
    assert (identity.sub, identity.roles, identity.attributes) == (
        "vera",
        ("viewer",),
        {"region": "North"},
    )
    assert identity.app == APP and identity.sid == "s1"
    assert identity.is_person and identity.via == ""
    owner = verifier.verify(signer.sign(APP, "owner", roles=["admin"], via="owner"))
    assert owner.via == "owner" and not owner.is_person
    assert dict(identity.principal().attributes) == {"region": "North"}


def test_the_jwks_file_is_private_and_public_keys_only(signer):
    sign(signer)
    mode = stat.S_IMODE(signer.jwks_path.stat().st_mode)
    assert mode == 0o600
    doc = json.loads(signer.jwks_path.read_text())
    assert doc["keys"] and all(
        set(k) == {"kty", "use", "alg", "kid", "n", "e"} for k in doc["keys"]
    )


def test_an_identity_for_another_app_is_refused(signer, clock):
    token = sign(signer)
    other = IdentityVerifier(
        signer.jwks_path, issuer="workbench", audience="workbench-quality", clock=clock
    )
    assert refusal(other, token) == "wrong_aud"


def test_an_expired_identity_is_refused(signer, verifier, clock):
    token = sign(signer)
    clock.advance(signer.lifetime_s + 31)  # past the lifetime and the 30 s leeway
    assert refusal(verifier, token) == "expired"


def test_an_identity_signed_with_another_key_is_refused(tmp_path, signer, verifier, clock):
    sign(signer)  # publishes the real JWKS
    stranger = KeyRing(tmp_path / "stranger", clock=clock)
    kid, private = stranger.signing_key()
    claims = {
        "iss": "workbench",
        "aud": APP,
        "sub": "admin",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + 60,
        "jti": "x",
        "roles": ["admin"],
        "attributes": {},
    }
    forged = jwt.encode(claims, private, algorithm="RS256", headers={"typ": TYP, "kid": kid})
    assert refusal(verifier, forged) == "unknown_kid"
    # the real kid on a stranger's signature
    real_kid = signer.keyring.current_kid
    forged = jwt.encode(claims, private, algorithm="RS256", headers={"typ": TYP, "kid": real_kid})
    assert refusal(verifier, forged) == "bad_signature"


def test_a_tampered_payload_is_refused(signer, verifier):
    header, payload, signature = sign(signer).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert refusal(verifier, f"{header}.{payload}.{signature}") == "bad_signature"


def test_alg_none_and_missing_identity_are_refused(signer, verifier):
    sign(signer)
    unsigned = jwt.encode(
        {"sub": "admin", "aud": APP}, None, algorithm="none", headers={"typ": TYP}
    )
    assert refusal(verifier, unsigned) == "alg_not_allowed"
    assert refusal(verifier, None) == "missing"
    assert refusal(verifier, "") == "missing"


def test_an_access_token_is_not_an_identity(signer, verifier, ring, clock):
    sign(signer)
    access = AccessTokens(ring, issuer="workbench", audience=APP, clock=clock).issue(
        "vera", roles=["viewer"], sid="s1"
    )
    assert refusal(verifier, access) == "bad_typ"


def test_a_new_key_is_published_before_it_signs(signer, verifier, ring, clock):
    verifier.verify(sign(signer))
    ring.rotate(force=True)
    clock.advance(1)
    identity = verifier.verify(sign(signer))  # the app re-reads the JWKS file it sees changed
    assert identity.sub == "vera"


def test_a_jwks_file_others_may_write_is_refused(signer, verifier):
    token = sign(signer)
    os.chmod(signer.jwks_path, 0o622)  # noqa: S103  the point: others may write it
    assert refusal(verifier, token) == "jwks"


def test_no_verifier_outside_the_gateway():
    assert IdentityVerifier.from_env({}) is None
    v = IdentityVerifier.from_env(
        {
            "WORKBENCH_IDENTITY_JWKS": "/x",
            "WORKBENCH_IDENTITY_ISSUER": "workbench",
            "WORKBENCH_APP_NAME": APP,
        }
    )
    assert v is not None and v.audience == APP

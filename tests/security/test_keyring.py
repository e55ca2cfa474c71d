"""The signing key ring: RFC 7638 kids, private files, rotation that never breaks a live token."""

from __future__ import annotations

import json
import stat

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from workbench.security.auth_errors import KeyRingError, TokenRejected
from workbench.security.keyring import ACCESS_TOKEN_MAX_S, KeyRing, jwk_thumbprint

from .auth_support import login

# RFC 7638 §3.1: this JWK's SHA-256 thumbprint is NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs.
RFC7638_JWK = {
    "kty": "RSA",
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
    "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM"
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
}


def test_kid_is_the_rfc7638_thumbprint():
    assert (
        jwk_thumbprint(RSAAlgorithm.from_jwk(RFC7638_JWK))
        == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )


def test_files_are_private(ring):
    assert stat.S_IMODE(ring.directory.stat().st_mode) == 0o700
    files = sorted(p.name for p in ring.directory.iterdir())
    assert files == sorted(
        [".lock", "ring.json", f"{ring.current_kid}.pem", f"{ring.next_kid}.pem"]
    )
    for p in ring.directory.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    # each PEM really is the private key its kid names
    for kid in (ring.current_kid, ring.next_kid):
        key = serialization.load_pem_private_key((ring.directory / f"{kid}.pem").read_bytes(), None)
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
        assert jwk_thumbprint(key.public_key()) == kid


def test_a_key_readable_by_others_is_refused(ring, clock):
    pem = ring.directory / f"{ring.current_kid}.pem"
    pem.chmod(0o644)
    with pytest.raises(KeyRingError) as e:
        KeyRing(ring.directory, clock=clock)
    assert str(pem) in str(e.value) and "chmod 600" in str(e.value) and e.value.reason == "bad_mode"


def test_a_key_file_swapped_for_another_key_is_refused(ring, clock):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = ring.directory / f"{ring.next_kid}.pem"
    pem.write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(KeyRingError, match="does not match its kid"):
        KeyRing(ring.directory, clock=clock)


def test_weak_keys_are_refused(tmp_path):
    with pytest.raises(KeyRingError, match="2048"):
        KeyRing(tmp_path / "k", key_bits=1024)


def test_no_key_material_in_repr_or_jwks(ring):
    kid, private = ring.signing_key()
    numbers = private.private_numbers()
    secrets_text = [str(numbers.d), str(numbers.p), str(numbers.q), "PRIVATE KEY"]
    shown = repr(ring) + json.dumps(ring.jwks())
    for s in secrets_text:
        assert s not in shown
    for k in ring.jwks()["keys"]:
        assert set(k) == {"kty", "use", "alg", "kid", "n", "e"}


def test_jwks_verifies_our_tokens_independently(tokens, sessions):
    """A third party with only the JWKS document (PyJWT's PyJWKSet) verifies our token."""
    _, access = login(tokens, sessions)
    jwks = jwt.PyJWKSet.from_dict(tokens.keyring.jwks())
    kid = jwt.get_unverified_header(access)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
    claims = jwt.decode(
        access,
        key.key,
        algorithms=["RS256"],
        audience="workbench",
        issuer="https://workbench.test",
        options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
    )
    assert claims["sub"] == "ann"


def test_rotation_publishes_before_signing_and_keeps_old_tokens_valid(
    tokens, sessions, clock, audit
):
    ring = tokens.keyring
    s, old_access = login(tokens, sessions)
    first, upcoming = ring.current_kid, ring.next_kid
    assert {k["kid"] for k in ring.jwks()["keys"]} == {first, upcoming}  # next is published already

    with pytest.raises(KeyRingError) as e:  # published for 0 s only: verifiers may not have it
        ring.rotate()
    assert e.value.reason == "too_early" and ring.current_kid == first
    clock.advance(300)
    assert ring.rotate() == upcoming
    assert ring.current_kid == upcoming and ring.states()[first] == "retired"
    assert audit.of("key.rotate")[-1]["kid"] == upcoming

    new_access = tokens.issue("ann", roles=["analyst"], sid=s.sid)
    assert jwt.get_unverified_header(new_access)["kid"] == upcoming
    assert jwt.get_unverified_header(old_access)["kid"] == first
    assert {k["kid"] for k in ring.jwks()["keys"]} == {first, upcoming, ring.next_kid}
    assert tokens.validate(old_access).sub == "ann"  # still valid after the rotation

    # The retired key stays until every token it signed has expired (longest lifetime + leeway) ...
    clock.advance(ACCESS_TOKEN_MAX_S + 30 - 1)
    assert first in {k["kid"] for k in ring.jwks()["keys"]}
    clock.advance(2)
    # ... and then leaves the JWKS and the disk.
    assert first not in {k["kid"] for k in ring.jwks()["keys"]}
    assert not (ring.directory / f"{first}.pem").exists()
    assert audit.of("key.remove") == [{"kid": first}]
    with pytest.raises(TokenRejected) as e:
        tokens.validate(old_access)
    assert e.value.reason == "unknown_kid"


def test_another_process_sees_a_rotation(ring, clock):
    other = KeyRing(ring.directory, clock=clock)
    assert other.current_kid == ring.current_kid
    clock.advance(301)
    new = ring.rotate()
    assert other.current_kid == new and other.signing_key()[0] == new
    assert other.public_key(new) is not None


def test_forced_rotation_and_public_key_lookup_only_by_exact_kid(ring):
    first = ring.current_kid
    ring.rotate(force=True)
    assert ring.public_key(first) is not None
    for probe in (
        first.lower() if first.lower() != first else first.upper(),
        first + "=",
        f"../{first}",
        f"{first}.pem",
        "",
    ):
        assert ring.public_key(probe) is None

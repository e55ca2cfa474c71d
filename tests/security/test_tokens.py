"""Access tokens as issued, and revocation taking effect on the next request."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from workbench.config import AuthSettings
from workbench.security.auth_errors import AuthError, TokenRejected
from workbench.security.tokens import AccessTokens

from .auth_support import T0, login


def parts(token):
    def dec(p):
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))

    h, c, _ = token.split(".")
    return dec(h), dec(c)


def test_issued_token_has_every_claim_and_header(tokens, sessions, audit):
    s, access = login(tokens, sessions)
    header, claims = parts(access)
    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": tokens.keyring.current_kid}
    assert set(claims) == {
        "iss",
        "aud",
        "exp",
        "iat",
        "nbf",
        "jti",
        "sub",
        "roles",
        "attributes",
        "sid",
    }
    assert claims["iss"] == "https://workbench.test" and claims["aud"] == "workbench"
    assert claims["iat"] == claims["nbf"] == int(T0) and claims["exp"] - claims["iat"] == 600
    assert (claims["sub"], claims["roles"], claims["attributes"], claims["sid"]) == (
        "ann",
        ["analyst"],
        {"region": "North"},
        s.sid,
    )
    issued = audit.of("token.issue")[-1]
    assert issued["jti"] == claims["jti"] and issued["kid"] == header["kid"]
    other = tokens.issue("ann", roles=["analyst"], sid=s.sid)
    assert parts(other)[1]["jti"] != claims["jti"]


def test_principal_carries_roles_and_attributes(tokens, sessions):
    _, access = login(tokens, sessions)
    p = tokens.validate(access).principal()
    assert p.user == "ann" and p.roles == {"analyst"} and p.attrs == {"region": "North"}


def test_lifetime_is_capped_at_15_minutes(ring):
    with pytest.raises(AuthError, match="1..900"):
        AccessTokens(ring, issuer="x", audience="y", lifetime_s=901)
    with pytest.raises(ValidationError):
        AuthSettings(access_token_s=901)
    t = AccessTokens.from_settings(AuthSettings(access_token_s=900), ring)
    assert t.lifetime_s == 900


def test_logout_revokes_that_session_only(tokens, sessions, audit):
    s1, a1 = login(tokens, sessions)
    s2, a2 = login(tokens, sessions)
    assert sessions.logout(s1.refresh_token) is True
    assert audit.of("token.revoke")[-1] == {
        "scope": "session",
        "sid": s1.sid,
        "sub": "ann",
        "reason": "logout",
        "actor": None,
    }
    with pytest.raises(TokenRejected) as e:
        tokens.validate(a1)
    assert e.value.reason == "revoked" and e.value.detail == "logout"
    assert tokens.validate(a2).sid == s2.sid
    assert sessions.logout("not-a-token") is False


def test_admin_revokes_every_session_of_a_user(tokens, sessions):
    ann = [login(tokens, sessions, "ann") for _ in range(3)]
    _, vic_access = login(tokens, sessions, "vic")
    assert sessions.revoke_user("ann", actor="admin") == 3
    for _, access in ann:
        with pytest.raises(TokenRejected, match="revoked"):
            tokens.validate(access)
    assert tokens.validate(vic_access).sub == "vic"
    assert sessions.revoke_user("ann") == 0  # nothing left to revoke


def test_admin_revokes_one_session_and_one_token(tokens, sessions, audit):
    s, access = login(tokens, sessions)
    spare = tokens.issue("ann", roles=["analyst"], sid=s.sid)
    claims = tokens.validate(spare)
    sessions.revoke_jti(claims.jti, claims.exp, actor="admin")
    with pytest.raises(TokenRejected) as e:
        tokens.validate(spare)
    assert e.value.detail == "token_revoked"
    assert tokens.validate(access).sub == "ann"  # the session itself lives on
    assert sessions.revoke_session(s.sid, actor="admin") is True
    with pytest.raises(TokenRejected):
        tokens.validate(access)
    assert sessions.revoke_session(s.sid) is False  # already revoked: not reported twice
    assert [d["scope"] for d in audit.of("token.revoke")] == ["token", "session"]


def test_an_audit_hook_that_fails_fails_the_operation(ring, sessions, clock):
    """A security event that cannot be recorded does not pass silently."""

    def broken(action, **details):
        raise RuntimeError("audit store down")

    t = AccessTokens(
        ring, issuer="i", audience="a", revocations=sessions, audit=broken, clock=clock
    )
    s = sessions.start("ann")
    with pytest.raises(RuntimeError, match="audit store down"):
        t.issue("ann", roles=["analyst"], sid=s.sid)
    with pytest.raises(RuntimeError, match="audit store down"):
        t.validate("not.a.token")


def test_revocation_in_another_process_takes_effect_on_the_next_request(tokens, sessions):
    """The server validates with long-lived connections; an admin revokes from a CLI process."""
    import subprocess
    import sys

    s, access = login(tokens, sessions)
    tokens.validate(access)
    code = (
        "import sys; from workbench.security.refresh import SessionStore; "
        "print(SessionStore(sys.argv[1]).revoke_user('ann', actor='admin'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(sessions.path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.strip() == "1"
    with pytest.raises(TokenRejected) as e:
        tokens.validate(access)
    assert e.value.detail == "admin"


def test_a_token_verified_before_is_checked_again_on_every_use(
    tokens, sessions, users, clock, audit
):
    """Verified tokens are remembered (by hash) to spare the RS256 check, never their validity:
    expiry, a disabled user and a tampered copy are refused on the next use, each audited."""
    _, access = login(tokens, sessions)
    assert [tokens.validate(access).sub for _ in range(3)] == ["ann"] * 3
    head, body, sig = access.split(".")
    with pytest.raises(TokenRejected) as e:
        tokens.validate(f"{head}.{body}.{sig[:-2]}AA")
    assert e.value.reason == "bad_signature"
    clock.advance(600 + 30)  # lifetime and leeway: expired
    with pytest.raises(TokenRejected) as e:
        tokens.validate(access)
    assert e.value.reason == "expired" and audit.of("token.reject")[-1]["reason"] == "expired"
    clock.advance(-(600 + 30))
    assert tokens.validate(access).sub == "ann"
    users.set_disabled("ann", True)
    with pytest.raises(TokenRejected) as e:
        tokens.validate(access)
    assert e.value.reason == "user_disabled" and audit.of("token.reject")[-1]["sub"] == "ann"

"""The apps' Bokeh auth module (workbench/ui/app_auth.py), loaded the way `panel serve
--auth-module` loads it (Bokeh's AuthModule), asked about real tornado requests: the gateway's
identity makes the person Panel's user; anything else is a 403 that says why."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest
from tornado.web import HTTPError, decode_signed_value

from workbench.security.app_identity import IDENTITY_HEADER, IdentitySigner
from workbench.security.keyring import KeyRing

AUTH_MODULE = Path(__file__).resolve().parents[2] / "workbench" / "ui" / "app_auth.py"
APP = "workbench-quality"


class Handler:
    """What get_user reads of a tornado RequestHandler: its request."""

    def __init__(self, headers: dict[str, str] | list[tuple[str, str]]):
        h = HTTPHeaders()
        for k, v in headers.items() if isinstance(headers, dict) else headers:
            h.add(k, v)
        self.request = HTTPServerRequest(method="GET", uri=f"/{APP}/", headers=h)


@pytest.fixture
def setup(tmp_path, monkeypatch):
    from bokeh.server.auth_provider import AuthModule

    private = tmp_path / "apps"
    private.mkdir(mode=0o700)
    signer = IdentitySigner(
        KeyRing(tmp_path / "keys"), issuer="workbench", jwks_path=private / "jwks.json"
    )
    signer.publish()
    cookie_secret = secrets.token_urlsafe(32)
    monkeypatch.setenv("WORKBENCH_APP_NAME", APP)
    monkeypatch.setenv("WORKBENCH_IDENTITY_JWKS", str(signer.jwks_path))
    monkeypatch.setenv("WORKBENCH_IDENTITY_ISSUER", "workbench")
    monkeypatch.setenv("PANEL_COOKIE_SECRET", cookie_secret)
    return AuthModule(str(AUTH_MODULE)), signer, cookie_secret


def test_the_gateways_identity_makes_the_person_panels_user(setup):
    auth, signer, cookie_secret = setup
    token = signer.sign(APP, "vera", roles=["viewer"], attributes={"region": "North"})
    handler = Handler({IDENTITY_HEADER: token, "Cookie": "user=forged; is_guest=1"})
    assert auth.get_user(handler) == "vera"
    cookies = handler.request.cookies
    assert "is_guest" not in cookies
    # exactly what Panel's pn.state.user and pn.state.user_info decode
    assert decode_signed_value(cookie_secret, "user", cookies["user"].value) == b"vera"
    assert (
        decode_signed_value(cookie_secret, "id_token", cookies["id_token"].value) == token.encode()
    )


@pytest.mark.parametrize(
    "headers, why",
    [
        ({}, "did not come through the Workbench"),
        ({IDENTITY_HEADER: "vera"}, "malformed"),
        ({"X-Forwarded-User": "vera"}, "did not come through the Workbench"),
    ],
)
def test_no_valid_identity_is_a_403_that_says_why(setup, headers, why):
    auth, _, _ = setup
    with pytest.raises(HTTPError) as e:
        auth.get_user(Handler(headers))
    assert e.value.status_code == 403 and why in e.value.reason


def test_an_identity_for_another_app_or_sent_twice_is_refused(setup):
    auth, signer, _ = setup
    with pytest.raises(HTTPError, match="403"):
        auth.get_user(Handler({IDENTITY_HEADER: signer.sign("workbench-catalog", "vera")}))
    token = signer.sign(APP, "vera")
    with pytest.raises(HTTPError) as e:
        auth.get_user(Handler([(IDENTITY_HEADER, token), (IDENTITY_HEADER, token)]))
    assert "malformed" in e.value.reason

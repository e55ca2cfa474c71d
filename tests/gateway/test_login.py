"""Real log-in, cookies, bearer tokens, the owner's token and the policy on jupyter_server's own APIs."""

from __future__ import annotations

import re
import time
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import PASSWORDS

pytestmark = pytest.mark.usefixtures("jp_serverapp")


async def status(jp_fetch, *parts, **kw) -> int:
    try:
        r = await jp_fetch(*parts, follow_redirects=False, **kw)
        return r.code
    except HTTPClientError as e:
        return e.code


def cookies_of(response) -> dict[str, str]:
    jar = SimpleCookie()
    for header in response.headers.get_list("Set-Cookie"):
        jar.load(header)
    return {k: m.value for k, m in jar.items()}


async def login(jp_fetch, name: str, password: str | None = None):
    page = await jp_fetch("login", method="GET")
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.body.decode()).group(1)
    jar = cookies_of(page)
    body = urllib.parse.urlencode(
        {"username": name, "password": password or PASSWORDS[name], "_xsrf": xsrf}
    )
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    try:
        r = await jp_fetch(
            "login",
            method="POST",
            body=body,
            follow_redirects=False,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
    except HTTPClientError as e:  # a redirect (302) raises too, with follow_redirects=False
        if e.response is None or e.code >= 400:
            return e.code, e.response, {}
        return e.code, e.response, {**jar, **cookies_of(e.response)}  # the _xsrf cookie too
    return r.code, r, {**jar, **cookies_of(r)}


def cookie_header(jar: dict[str, str]) -> dict[str, str]:
    return {"Cookie": "; ".join(f"{k}={v}" for k, v in jar.items())}


async def test_nothing_answers_without_a_log_in(jp_fetch):
    assert await status(jp_fetch, "api", "kernels") == 403
    assert await status(jp_fetch, "api", "contents") == 403
    page = await jp_fetch("login")
    text = page.body.decode()
    assert '<label for="username">' in text and 'type="password"' in text and "_xsrf" in text


async def test_wrong_password_is_refused_and_audited(jp_fetch, services):
    seen = []
    services.users.audit = lambda action, **d: seen.append((action, d.get("reason")))
    code, response, jar = await login(jp_fetch, "anna", "not-her-password")
    assert code == 401 and "Wrong user name or password" in response.body.decode()
    assert ACCESS not in jar
    assert ("login.failure", "bad_password") in seen


ACCESS, REFRESH = "workbench-access", "workbench-refresh"


async def test_log_in_sets_http_only_lax_cookies_and_the_policy_applies(jp_fetch):
    code, response, jar = await login(jp_fetch, "vera")
    assert code == 302
    raw = [h for h in response.headers.get_list("Set-Cookie") if h.startswith(ACCESS)]
    assert raw and "HttpOnly" in raw[0] and "SameSite=Lax" in raw[0]
    assert ACCESS in jar and REFRESH in jar
    h = cookie_header(jar)
    # a viewer: no kernels, contents, sessions or terminals
    for api in ("kernels", "contents", "sessions", "terminals"):
        assert await status(jp_fetch, "api", api, headers=h) == 403, api
    me = await jp_fetch("api", "me", headers=h)
    assert b'"vera"' in me.body and b'"viewer"' in me.body
    # an analyst: kernels and contents, still no terminals
    code, _, jar = await login(jp_fetch, "anna")
    h = cookie_header(jar)
    assert await status(jp_fetch, "api", "kernels", headers=h) == 200
    assert await status(jp_fetch, "api", "contents", headers=h) == 200
    assert await status(jp_fetch, "api", "terminals", headers=h) == 403


async def test_bearer_tokens_and_tampering(jp_fetch, services):
    user = services.users.get("anna")
    session = services.sessions.start("anna")
    token = services.tokens.issue(
        "anna", roles=user.roles, attributes=user.attributes, sid=session.sid
    )
    assert (
        await status(jp_fetch, "api", "kernels", headers={"Authorization": f"Bearer {token}"})
        == 200
    )
    head, payload, sig = token.split(".")
    forged = f"{head}.{payload[:-2]}AA.{sig}"
    assert (
        await status(jp_fetch, "api", "kernels", headers={"Authorization": f"Bearer {forged}"})
        == 403
    )
    # a viewer's valid token is authenticated, then refused by the policy
    vera = services.users.get("vera")
    vt = services.tokens.issue(
        "vera",
        roles=vera.roles,
        attributes=vera.attributes,
        sid=services.sessions.start("vera").sid,
    )
    assert (
        await status(jp_fetch, "api", "kernels", headers={"Authorization": f"Bearer {vt}"}) == 403
    )


async def test_the_server_token_is_the_owner_with_admin_rights(jp_fetch, jp_serverapp):
    h = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    assert await status(jp_fetch, "api", "kernels", headers=h) == 200
    me = await jp_fetch("api", "me", headers=h)
    assert b'"owner"' in me.body and b'"admin"' in me.body


async def test_log_out_revokes_the_session_on_every_path(jp_fetch, services):
    code, _, jar = await login(jp_fetch, "anna")
    h = cookie_header(jar)
    assert await status(jp_fetch, "api", "kernels", headers=h) == 200
    out = await jp_fetch("logout", headers=h)
    assert "Logged out" in out.body.decode()
    # the old cookies (access token and refresh token) no longer work, even replayed
    assert await status(jp_fetch, "api", "kernels", headers=h) == 403
    assert (
        await status(jp_fetch, "api", "kernels", headers={"Authorization": f"Bearer {jar[ACCESS]}"})
        == 403
    )


async def test_an_expired_access_token_is_refreshed_silently_and_reuse_revokes(jp_fetch, services):
    code, _, jar = await login(jp_fetch, "dora")
    now = time.time()
    services.tokens.clock = lambda: now + 3600  # the access token is long expired
    services.sessions.clock = lambda: now + 3600  # within the refresh token's idle time
    r = await jp_fetch("api", "kernels", headers=cookie_header(jar))
    assert r.code == 200
    fresh = cookies_of(r)
    assert fresh[REFRESH] != jar[REFRESH] and fresh[ACCESS] != jar[ACCESS]
    # replaying the rotated refresh token (after the grace window) revokes the whole session
    services.sessions.clock = lambda: now + 3600 + 60
    services.tokens.clock = lambda: now + 3600 + 60
    assert (
        await status(jp_fetch, "api", "kernels", headers=cookie_header({REFRESH: jar[REFRESH]}))
        == 403
    )
    assert await status(jp_fetch, "api", "kernels", headers=cookie_header(fresh)) == 403


async def test_a_disabled_user_is_out_at_once(jp_fetch, services):
    code, _, jar = await login(jp_fetch, "anna")
    h = cookie_header(jar)
    assert await status(jp_fetch, "api", "kernels", headers=h) == 200
    services.users.set_disabled("anna", True)
    assert await status(jp_fetch, "api", "kernels", headers=h) == 403
    code, _, _ = await login(jp_fetch, "anna")
    assert code == 401


@pytest.mark.parametrize(
    "path, resource",
    [
        ("/lab", "lab"),
        ("/lab/tree/x.ipynb", "lab"),
        ("/tree", "lab"),
        ("/files/a.csv", "contents"),
        ("/workbench-catalog/", "app:catalog"),
        ("/workbench-dashboard/ws", "app:dashboard"),
        ("/proxy/5006/", "proxy"),
        ("/terminals/1", "terminals"),
        ("/api/kernels", None),
        ("/login", None),
        ("/static/x.js", None),
        ("/workbench/api/query", None),
    ],
)
def test_page_resources(path, resource):
    from workbench.server.login import page_resource

    assert page_resource(path) == resource
    assert page_resource("/base" + path, "/base/") == resource


async def test_pages_are_gated_by_the_policy_too(jp_fetch, jp_serverapp, jp_http_port):
    Path(jp_serverapp.root_dir, "hello.txt").write_text("hi")
    _, _, vera = await login(jp_fetch, "vera")
    _, _, anna = await login(jp_fetch, "anna")
    page = {"Referer": f"http://127.0.0.1:{jp_http_port}/"}  # as a browser sends it
    assert (
        await status(jp_fetch, "files", "hello.txt", headers={**cookie_header(vera), **page}) == 403
    )
    assert (
        await status(jp_fetch, "files", "hello.txt", headers={**cookie_header(anna), **page}) == 200
    )


async def test_jwks_is_public_and_verifies_our_tokens(jp_fetch, services):
    import jwt

    r = await jp_fetch(".well-known", "jwks.json")
    assert r.headers["Content-Type"].startswith("application/jwk-set+json")
    keys = {k["kid"]: k for k in __import__("json").loads(r.body)["keys"]}
    assert services.keyring.current_kid in keys and all(
        "d" not in k for k in keys.values()
    )  # no private parts
    user = services.users.get("anna")
    token = services.tokens.issue("anna", roles=user.roles, sid=services.sessions.start("anna").sid)
    kid = jwt.get_unverified_header(token)["kid"]
    key = jwt.PyJWK(keys[kid]).key
    claims = jwt.decode(
        token, key, algorithms=["RS256"], audience=services.tokens.audience
    )  # PyJWT, not our code
    assert claims["sub"] == "anna"

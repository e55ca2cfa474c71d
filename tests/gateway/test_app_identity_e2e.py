"""Apps trust no network: the published apps behind the real gateway, as `make up` runs them.

A real Workbench server (jupyter_config/, the proxied apps) over a small demo warehouse, with a
scratch project's users and key ring.  People log in through /login with a name and password;
the app is also reached *directly*, on its own Unix socket, the way someone on this machine
could try to get round the gateway.  The oracle that a refusal is about the identity and nothing
else: the same direct request with an identity the server's own key ring signed is answered.
Who the app thinks is looking (its header, from ``pn.state.user``) arrives over the websocket,
so tests/ui/test_app_identity_browser.py reads it in a browser.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import stat
import time
from pathlib import Path

import jwt
import pytest
import requests

from tests.support.workbench_server import start_server

pytestmark = [pytest.mark.slow, pytest.mark.ui]

APP = "workbench-catalog"
USERS = {
    "vera": ("viewer", {"region": "North"}, "vera-password-1"),
    "adam": ("admin", {}, "adam-password-12"),
}


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a Unix socket: a direct connection to an app, past the gateway."""

    def __init__(self, path: str, timeout: float = 60):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def direct(path: str, url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    conn = UnixHTTPConnection(path)
    try:
        conn.request("GET", url, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def app_socket(server, name: str, timeout_s: float = 120) -> str:
    """The socket the app started by this server listens on, from its own command line."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if os.getsid(int(proc.name)) != server.process.pid:
                    continue
                argv = (proc / "cmdline").read_bytes().split(b"\0")
            except (OSError, ProcessLookupError):
                continue
            args = [a.decode() for a in argv]
            if "--unix-socket" in args and any(a.endswith(f"/{name}") for a in args):
                assert "--port" not in args and "--address" not in args, args
                path = args[args.index("--unix-socket") + 1]
                if os.path.exists(path):
                    return path
        time.sleep(0.5)
    raise AssertionError(f"no app process with a Unix socket for {name}:\n{server.log_tail()}")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from workbench.config import load_settings
    from workbench.security.users import UserStore
    from workbench.warehouse.seed import build_demo_warehouse

    work = tmp_path_factory.mktemp("appid")
    project = work / "project"
    project.mkdir()
    (project / "workbench.yml").write_text("{}\n")
    settings = load_settings(project)
    users = UserStore(settings.path(settings.auth.users_db))
    for name, (role, attrs, password) in USERS.items():
        users.add(name, password, [role], attrs)
    wh = work / "warehouse.duckdb"
    build_demo_warehouse(wh, scale=0.02, seed=42, end="2025-01-01", progress=False)
    server = start_server(
        wh,
        work / "home",
        lab=False,
        extra_args=[f"--WorkbenchIdentityProvider.project_root={project}"],
    )
    server.settings = settings
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(work / "home", ignore_errors=True)


def logged_in(server, name: str) -> requests.Session:
    s = requests.Session()
    s.get(f"{server.url}/login", timeout=30)
    r = s.post(
        f"{server.url}/login",
        allow_redirects=False,
        timeout=60,
        data={"username": name, "password": USERS[name][2], "_xsrf": s.cookies["_xsrf"]},
    )
    assert r.status_code == 302 and "workbench-access" in s.cookies, r.text[:300]
    return s


def open_app(session: requests.Session, server, headers: dict[str, str] | None = None) -> str:
    r = session.get(f"{server.url}/{APP}/", headers=headers or {}, timeout=180)
    assert r.status_code == 200, (r.status_code, r.text[:500], server.log_tail())
    return r.text


def ring_signer(settings, scratch: Path, *, clock=time.time):
    """Signs with the server's own key ring (the test holds the project folder), as the gateway does."""
    from workbench.security.app_identity import IdentitySigner
    from workbench.security.keyring import KeyRing

    auth = settings.auth
    ring = KeyRing(settings.path(auth.keys_dir))
    return IdentitySigner(ring, issuer=auth.issuer, jwks_path=scratch / "jwks.json", clock=clock)


def test_the_app_listens_on_a_private_unix_socket_only(served):
    open_app(logged_in(served, "vera"), served)
    path = app_socket(served, APP)
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    folder = os.stat(os.path.dirname(path))
    assert stat.S_IMODE(folder.st_mode) == 0o700 and folder.st_uid == os.geteuid()
    jwks = os.stat(os.path.join(os.path.dirname(path), "jwks.json"))
    assert stat.S_IMODE(jwks.st_mode) == 0o600


def test_a_direct_connection_without_the_gateways_identity_gets_no_data(served):
    open_app(logged_in(served, "vera"), served)
    path = app_socket(served, APP)
    code, body = direct(path, f"/{APP}/")
    assert code == 403 and "did not come through the Workbench" in body, (code, body[:300])
    assert "Signed in as" not in body
    # the log-in cookies of a real session do not stand in for the gateway's identity
    jar = logged_in(served, "vera").cookies
    cookie = "; ".join(f"{k}={v}" for k, v in jar.items())
    assert direct(path, f"/{APP}/", {"Cookie": cookie})[0] == 403
    # nor does the websocket answer without it
    ws = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Origin": served.url.split("//", 1)[1],
    }
    assert direct(path, f"/{APP}/ws", ws)[0] == 403


def test_expired_forged_and_misdirected_identities_are_refused(served, tmp_path):
    from workbench.security.app_identity import IDENTITY_HEADER, TYP

    open_app(logged_in(served, "vera"), served)
    path = app_socket(served, APP)
    signer = ring_signer(served.settings, tmp_path)
    # the oracle: the real key ring's identity, sent directly, is answered
    good = signer.sign(APP, "adam", roles=["admin"])
    code, body = direct(path, f"/{APP}/", {IDENTITY_HEADER: good})
    assert code == 200 and "<title>Metric catalog</title>" in body, (code, body[:300])
    # expired (signed 10 minutes ago)
    old = ring_signer(served.settings, tmp_path, clock=lambda: time.time() - 600).sign(
        APP, "adam", roles=["admin"]
    )
    code, body = direct(path, f"/{APP}/", {IDENTITY_HEADER: old})
    assert code == 403 and "expired" in body, body[:300]
    # for another app
    other = signer.sign("workbench-quality", "adam", roles=["admin"])
    assert direct(path, f"/{APP}/", {IDENTITY_HEADER: other})[0] == 403
    # signed with a key that is not the server's, under the server's kid
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = int(time.time())
    claims = {
        "iss": "workbench",
        "aud": APP,
        "sub": "adam",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": "forged",
        "roles": ["admin"],
        "attributes": {},
    }
    forged = jwt.encode(
        claims, stranger, algorithm="RS256", headers={"typ": TYP, "kid": signer.keyring.current_kid}
    )
    code, body = direct(path, f"/{APP}/", {IDENTITY_HEADER: forged})
    assert code == 403 and "bad_signature" in body, body[:300]
    # a plain name in a header some apps trust
    assert direct(path, f"/{APP}/", {IDENTITY_HEADER: "adam", "X-Forwarded-User": "adam"})[0] == 403


def test_nobody_logged_in_gets_past_the_gateway_with_a_genuine_identity(served, tmp_path):
    from workbench.security.app_identity import IDENTITY_HEADER

    adams = ring_signer(served.settings, tmp_path).sign(APP, "adam", roles=["admin"])
    r = requests.get(
        f"{served.url}/{APP}/",
        headers={IDENTITY_HEADER: adams, "X-Forwarded-User": "adam"},
        allow_redirects=False,
        timeout=60,
    )
    assert r.status_code in (302, 403) and "Metric catalog" not in r.text, r.status_code

"""Browser tests: one real JupyterLab per session, started with the Workbench configuration
(jupyter_config/) on a free port with a known token, over a small demo warehouse built into a
temporary folder; Playwright drives Debian's Chromium against it through the proxy URLs."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.dashboard_probe import stop_process_group

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOCAL_PREFIXES = ("http://127.0.0.1", "http://localhost", "ws://127.0.0.1", "ws://localhost",
                  "data:", "blob:", "about:")


@dataclass
class JupyterServer:
    url: str
    token: str
    log: Path
    process: subprocess.Popen

    def at(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}/{path.lstrip('/')}{sep}token={self.token}"

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(server: JupyterServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.process.returncode}:\n"
                               f"{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.at("api/status"), timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"jupyter lab not ready in {START_TIMEOUT_S}s:\n{server.log_tail()}")


@pytest.fixture(autouse=True)
def jp_asyncio_loop():
    """pytest-jupyter's autouse fixture (enabled for tests/server) makes an event loop per test
    and closes it afterwards; here Playwright's sync API owns the running loop, so closing it
    fails every browser test's teardown.  The browser tests need no jupyter loop at all."""
    yield None


@pytest.fixture(autouse=True)
def jp_server_cleanup():
    """pytest-jupyter's autouse clean-up of an in-process ServerApp: there is none here (the
    servers are subprocesses), and it needs the loop above."""
    yield


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """A small, deterministic demo warehouse (a few seconds to build)."""
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    t0 = time.monotonic()
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    print(f"\n[demo_warehouse] built in {time.monotonic() - t0:.1f} s")
    return path


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory, demo_warehouse) -> JupyterServer:
    home = tmp_path_factory.mktemp("jupyter")
    token = secrets.token_hex(16)
    port = _free_port()
    env = dict(os.environ)
    env.pop("JUPYTER_TOKEN", None)
    env.update({
        "JUPYTER_CONFIG_PATH": str(REPO / "jupyter_config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "WORKBENCH_PROJECT_DIR": str(REPO),
        "WORKBENCH_WAREHOUSE": str(demo_warehouse),
        "WORKBENCH_JUPYTER_PORT": str(port),
    })
    cmd = [sys.executable, "-m", "jupyterlab", f"--port={port}", "--ServerApp.port_retries=0",
           "--no-browser", f"--IdentityProvider.token={token}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = home / "jupyter.log"
    with open(log, "wb") as out:
        # Own session, so teardown can stop the server and the apps it spawned together.
        process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    server = JupyterServer(f"http://127.0.0.1:{port}", token, log, process)
    try:
        _wait_ready(server)
        yield server
    finally:
        stop_process_group(process, grace_s=20)


@pytest.fixture(scope="session")
def browser(chromium_path, skip_or_fail_missing):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail_missing("playwright (python) is not installed: pip install -e .[test]")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def external_requests() -> list[str]:
    return []


@pytest.fixture
def page(browser, external_requests, request):
    """A fresh page at desktop size; every request to a non-local address is recorded (the
    apps must work with no network)."""
    width, height = getattr(request, "param", (1280, 900))
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("request", lambda r: None if r.url.startswith(LOCAL_PREFIXES)
            else external_requests.append(r.url))
    try:
        yield page
    finally:
        context.close()

"""Browser tests: one real JupyterLab per session, started with the Workbench configuration
(jupyter_config/) on a free port with a known token, over a small demo warehouse built into a
temporary folder; Playwright drives Debian's Chromium against it through the proxy URLs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.workbench_server import RunningServer, start_server

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOCAL_PREFIXES = (
    "http://127.0.0.1",
    "http://localhost",
    "ws://127.0.0.1",
    "ws://localhost",
    "data:",
    "blob:",
    "about:",
)


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
def jupyter_server(tmp_path_factory, demo_warehouse) -> RunningServer:
    """JupyterLab with the Workbench configuration, as `make up` starts it (tests/support)."""
    server = start_server(demo_warehouse, tmp_path_factory.mktemp("jupyter"))
    try:
        yield server
    finally:
        server.stop()


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
    page.on(
        "request",
        lambda r: None if r.url.startswith(LOCAL_PREFIXES) else external_requests.append(r.url),
    )
    try:
        yield page
    finally:
        context.close()

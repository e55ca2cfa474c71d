"""Time to first render of the dashboard in Chromium, for the benchmarks.

``first_render_seconds(url)`` opens the (already started) dashboard URL in Debian's headless
Chromium and returns the seconds from navigation until the KPI cards show a number.
"""

from __future__ import annotations

import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
KPI_VALUE = ".wb-kpi-value"


def first_render_seconds(url: str, executable_path: str = CHROMIUM, timeout_s: float = 120,
                         viewport: tuple[int, int] = (1280, 900)) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable_path, args=CHROMIUM_ARGS,
                                     headless=True)
        try:
            page = browser.new_context(viewport={"width": viewport[0],
                                                 "height": viewport[1]}).new_page()
            t0 = time.perf_counter()
            page.goto(url, timeout=timeout_s * 1000)
            # Panel nests its components in several levels of shadow roots; Playwright's CSS
            # locators pierce them all (a document.querySelector walk one level deep did not).
            page.locator(KPI_VALUE).first.wait_for(timeout=timeout_s * 1000)
            return time.perf_counter() - t0
        finally:
            browser.close()


def write_dashboard_project(root, warehouse, repo) -> None:
    """A throw-away project folder for a JupyterLab that serves the live dashboard over
    `warehouse`: the demo pipeline without its simulator (only the orders a test or benchmark
    inserts), the repo's semantic models and principals, and the proxy entry registered by
    config in case the package's entry point is not installed yet."""
    from pathlib import Path

    from ruamel.yaml import YAML

    root, repo = Path(root), Path(repo)
    yaml = YAML()
    spec = yaml.load((repo / "pipelines" / "demo_orders.yml").read_text())
    spec["source"].pop("simulate", None)
    (root / "pipelines").mkdir()
    with open(root / "pipelines" / "demo_orders.yml", "w") as f:
        yaml.dump(spec, f)
    (root / "semantic").symlink_to(repo / "semantic")
    (root / "principals.yml").symlink_to(repo / "principals.yml")
    (root / "workbench.yml").write_text(f"warehouse: {warehouse}\n")
    conf = root / "jupyter_extra"
    conf.mkdir()
    (conf / "jupyter_server_config.py").write_text(
        "from importlib.metadata import entry_points\n"
        "if not any(e.name == 'workbench-dashboard' for e in "
        "entry_points(group='jupyter_serverproxy_servers')):\n"
        "    from workbench.server.dashboard_proxy import dashboard\n"
        "    c.ServerProxy.servers = {'workbench-dashboard': dashboard()}\n")


def stop_process_group(proc, grace_s: float = 4) -> None:
    """Stop a JupyterLab started in its own process group, and the proxied apps with it.
    A short grace period: everything lives in a temporary folder, nothing to save."""
    import os
    import signal
    import subprocess

    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
    try:  # the proxied dashboard, same process group
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass

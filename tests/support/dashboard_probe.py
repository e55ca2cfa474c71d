"""Time to first render of the dashboard in Chromium, for the browser tests and the benchmark.

``render_times(url)`` opens the (already started) dashboard URL in Debian's headless Chromium
and returns the seconds from navigation until the KPI cards show a number, and until the live
panels are drawn; ``first_render_seconds(url)`` is the first of the two.
"""

from __future__ import annotations

import time

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
KPI_VALUE = ".wb-kpi-value"
BOARD_HANDLE = ".wb-board-handle"
PAINTED_JS = """() => new Promise((resolve) => {
  const done = (list) => {
    const times = list.getEntries().filter((e) => e.identifier === "wb-kpi")
      .map((e) => e.renderTime || e.loadTime).filter((t) => t > 0);
    resolve(times.length ? Math.min(...times) : null);
  };
  try {
    new PerformanceObserver((list, obs) => { obs.disconnect(); done(list); })
      .observe({ type: "element", buffered: true });
  } catch (e) { resolve(null); }
  setTimeout(() => resolve(null), 2000);
})"""


def first_render_seconds(
    url: str,
    executable_path: str = CHROMIUM,
    timeout_s: float = 120,
    viewport: tuple[int, int] = (1280, 900),
) -> float:
    """Seconds from navigation start until the KPI cards show a number (fresh browser)."""
    return render_times(url, executable_path, timeout_s, viewport, require_number=False)[
        "first_render_s"
    ]


def render_times(
    url: str,
    executable_path: str = CHROMIUM,
    timeout_s: float = 120,
    viewport: tuple[int, int] = (1280, 900),
    require_number: bool = True,
) -> dict[str, float]:
    """One fresh browser context: ``first_render_s`` (navigation start until a KPI card shows
    a number: the page's first HTML already carries them) and ``interactive_s`` (until the
    live panels are drawn and can be dragged, filtered and exported)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable_path, args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            page = context.new_page()
            t0 = time.perf_counter()
            # "commit": return as soon as the response starts; waiting for the load event
            # would add the ~2.5 MB of Bokeh/Panel scripts to a number that needs none of them.
            page.goto(url, timeout=timeout_s * 1000, wait_until="commit")
            # Panel nests its components in several levels of shadow roots; Playwright's CSS
            # locators pierce them all (a document.querySelector walk one level deep did not).
            page.locator(KPI_VALUE).first.wait_for(timeout=timeout_s * 1000)
            seen = time.perf_counter() - t0
            # When the browser painted a KPI number, from navigation start (Element Timing
            # API): the probe's own polling runs on the page's busy main thread and would
            # notice the cards later than the person does.
            painted = page.evaluate(PAINTED_JS)
            first = painted / 1000 if painted else seen
            if require_number:
                text = page.locator(KPI_VALUE).first.inner_text()
                if not any(ch.isdigit() for ch in text):
                    raise AssertionError(f"the first KPI card shows no number: {text!r}")
            page.locator(BOARD_HANDLE).first.wait_for(timeout=timeout_s * 1000)
            interactive = time.perf_counter() - t0
            context.close()
            return {
                "first_render_s": first,
                "kpi_seen_by_probe_s": seen,
                "interactive_s": interactive,
            }
        finally:
            browser.close()


def write_dashboard_project(root, warehouse, repo) -> None:
    """A throw-away project folder for a JupyterLab that serves the live dashboard over
    `warehouse`: the demo pipeline without its simulator (only the orders a test or benchmark
    inserts), the repo's semantic models and principals."""
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
    # The apps are published by jupyter_config's own config (c.ServerProxy.servers); this file
    # is kept so the callers' JUPYTER_CONFIG_PATH stays valid.
    (conf / "jupyter_server_config.py").write_text(
        "# nothing to add: jupyter_config publishes the apps\n"
    )


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

"""The live dashboard in a real browser, through JupyterLab's proxy URL, with the real demo
pipeline (embedded source, simulator off) owned by the workbench server extension.

Its own Jupyter server (module scope): the extension opens the warehouse read-write, which the
session server's other apps must not see.  The project root is a temporary folder holding the
pipeline spec, so the operational store and saved layouts stay out of the repository.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.dashboard_probe import stop_process_group, write_dashboard_project

pytestmark = [pytest.mark.ui, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
APP = "workbench-dashboard/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    token: str
    log: Path
    process: subprocess.Popen
    root: Path

    def at(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}?token={self.token}"


def _wait_ready(server: LiveServer, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited:\n{server.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(server.at("api/status"), timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"jupyter lab not ready:\n{server.log.read_text()[-3000:]}")


SEEDED_TITLE = "revenue up (total) in live"


def seed_incident(root: Path) -> None:
    """One incident in the project's incident store, where the detection jobs write."""
    import datetime as dt

    from workbench.anomaly.incidents import DEFAULT_DB, IncidentStore
    from workbench.anomaly.jobs import Anomaly

    ts = dt.datetime.now().replace(second=0, microsecond=0) - dt.timedelta(minutes=10)
    store = IncidentStore(root / DEFAULT_DB)
    store.add(
        Anomaly(
            rule="browser_seed",
            namespace="live",
            metric="revenue",
            grain="minute",
            slice_by=None,
            slice_value=None,
            ts=ts,
            value=900.0,
            expected=100.0,
            score=0.99,
            severity="critical",
            direction="up",
            group="browser",
        )
    )
    store.set_insight(1, "Revenue was 900.00 against about 100.00 expected.")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory, demo_warehouse):
    import shutil

    root = tmp_path_factory.mktemp("live-project")
    warehouse = root / "warehouse.duckdb"
    shutil.copy(demo_warehouse, warehouse)
    write_dashboard_project(root, warehouse, REPO)
    seed_incident(root)
    token, port = secrets.token_hex(16), _free_port()
    env = dict(os.environ)
    env.pop("JUPYTER_TOKEN", None)
    env.update(
        {
            "JUPYTER_CONFIG_PATH": os.pathsep.join(
                [str(REPO / "jupyter_config"), str(root / "jupyter_extra")]
            ),
            "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
            "WORKBENCH_PROJECT_DIR": str(REPO),
            "WORKBENCH_HOME": str(root),
            "WORKBENCH_WAREHOUSE": str(warehouse),
            "WORKBENCH_JUPYTER_PORT": str(port),
            "WORKBENCH_AUTOSTART": "demo_orders",
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        f"--WorkbenchApp.project_root={root}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = root / "jupyter.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", token, log, proc, root)
    try:
        t0 = time.monotonic()
        _wait_ready(server)
        t1 = time.monotonic()
        with urllib.request.urlopen(server.at(APP), timeout=180) as r:
            assert r.status == 200
        print(
            f"\n[live_server] jupyter ready {t1 - t0:.1f} s, dashboard app first page "
            f"{time.monotonic() - t1:.1f} s"
        )
        yield server
    finally:
        stop_process_group(proc)


def insert_order(root: Path, order_id: int, region_id: int = 2, store_id: int = 1) -> None:
    """One new order (two lines) written at the source, as the shop's database would."""
    import datetime as dt
    from decimal import Decimal

    from workbench.streaming import load_spec
    from workbench.streaming.sources.embedded import OperationalStore

    spec, _ = load_spec(root / "pipelines" / "demo_orders.yml")
    store = OperationalStore(root / ".workbench" / "operational.sqlite", spec.tables)
    now = dt.datetime.now().replace(microsecond=0)
    order = {
        "order_id": order_id,
        "customer_id": 1,
        "store_id": store_id,
        "channel_id": 1,
        "region_id": region_id,
        "ordered_at": now,
        "status": "processing",
        "is_promo": False,
        "line_count": 1,
        "gross_amount": Decimal("123.45"),
        "discount_amount": Decimal("0.00"),
        "net_amount": Decimal("123.45"),
    }
    line = {
        "order_id": order_id,
        "line_no": 1,
        "product_id": 1,
        "quantity": 1,
        "unit_price": Decimal("123.45"),
        "discount": Decimal("0.00"),
        "line_amount": Decimal("123.45"),
    }
    store.write([[("orders", "c", None, order), ("order_lines", "c", None, line)]])
    store.close()


def kpi(page, name: str) -> str:
    return page.locator(f".wb-kpi[data-metric='{name}'] .wb-kpi-value").inner_text()


def open_dashboard(page, server) -> float:
    """Open the dashboard through the proxy; the seconds until the KPI cards show (as in
    tests.support.dashboard_probe), then wait until the live panels replace the first paint."""
    t0 = time.perf_counter()
    page.goto(server.at(APP), timeout=120_000, wait_until="commit")
    try:
        page.locator(".wb-kpi[data-metric='orders'] .wb-kpi-value").first.wait_for(timeout=90_000)
        seconds = time.perf_counter() - t0
        page.locator(".wb-board-handle").first.wait_for(timeout=90_000)
        # the server-written first paint is gone once the live board is drawn
        page.wait_for_function("!document.getElementById('wb-first-paint')", timeout=30_000)
        return seconds
    except Exception:
        shot = server.root / "dashboard-failure.png"
        page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(
            f"no KPI cards; screenshot {shot}; log:\n"
            f"{server.log.read_text(errors='replace')[-4000:]}"
        ) from None


def board_order(page) -> list[str]:
    return [
        k
        for k in page.locator(".wb-board-item").evaluate_all(
            "items => items.map(i => i.dataset.key)"
        )
    ]


def test_dashboard_live_kpis_drill_and_export(page, live_server, external_requests, tmp_path):
    from playwright.sync_api import expect

    seconds = open_dashboard(page, live_server)
    print(f"dashboard first render in Chromium: {seconds:.2f} s")
    page.get_by_text(re.compile("stream running")).first.wait_for(timeout=30_000)
    before = kpi(page, "orders")

    insert_order(live_server.root, 900_000_001, region_id=2, store_id=7)
    t0 = time.monotonic()
    # Panel draws inside shadow roots: a locator pierces them (document.querySelector doesn't)
    expect(page.locator(".wb-kpi[data-metric='orders'] .wb-kpi-value")).not_to_have_text(
        before, timeout=30_000
    )
    seen_after = time.monotonic() - t0
    after = kpi(page, "orders")
    assert after != before and after.replace(",", "") in ("1", "1.00"), (before, after)
    print(f"KPI change visible {seen_after:.2f} s after the source commit")
    assert seen_after < 5.0

    # drill down on live data: the inserted order's region, then its store, then categories
    page.get_by_label("Region", exact=True).select_option("Central")  # region_id 2
    page.get_by_text(re.compile(r"Showing: All regions › Central$")).wait_for(timeout=15_000)
    store = page.get_by_label("Store", exact=True)
    expect(store).to_be_enabled(timeout=15_000)
    store.select_option("Store 7")
    page.get_by_text(re.compile(r"Showing: All regions › Central › Store 7")).wait_for(
        timeout=15_000
    )
    # the drill level is now categories, from the live line-level gold view
    cell = page.locator(".tabulator-cell[tabulator-field='category']").first
    expect(cell).to_have_text(re.compile(r"\S"), timeout=15_000)
    assert not page.get_by_text(re.compile("some panels failed")).count()

    # export what is on screen
    csv = page.get_by_role("button", name=re.compile("Export CSV"))
    if not csv.is_visible():  # the export section opens by default; a click would close it
        page.get_by_text("Export what is on screen").click()
    with page.expect_download(timeout=30_000) as dl:
        csv.click()
    path = tmp_path / "out.csv"
    dl.value.save_as(path)
    text = path.read_text()
    assert text.startswith("panel,") and "kpi" in text and "Store 7" in text
    assert not page.get_by_text("Traceback").count()
    assert external_requests == [], external_requests


def test_layout_drag_keyboard_save_and_restore(page, live_server, external_requests):
    open_dashboard(page, live_server)
    order = board_order(page)
    assert order[0] == "kpis" and len(order) >= 12, order
    # drag the third panel's handle onto the top half of the second panel
    third = page.locator(f".wb-board-item[data-key='{order[2]}']")
    target = page.locator(f".wb-board-item[data-key='{order[1]}']")
    third.locator(".wb-board-handle").drag_to(target, target_position={"x": 20, "y": 5})
    dragged = [order[0], order[2], order[1]] + order[3:]
    assert board_order(page) == dragged
    # the keyboard does the same: focus the last panel's handle, Home moves it first
    last = page.locator(f".wb-board-item[data-key='{order[-1]}'] .wb-board-handle")
    last.focus()
    page.keyboard.press("Home")
    moved = [order[-1]] + dragged[:-1]
    assert board_order(page) == moved
    page.get_by_text(re.compile(r"moved to position 1 of")).wait_for(timeout=5_000)
    # save, reload: the same order comes back
    page.get_by_text("Arrange and save the layout").click()
    page.get_by_role("button", name="Save layout").click()
    page.get_by_text(re.compile("Layout saved")).wait_for(timeout=15_000)
    open_dashboard(page, live_server)
    assert board_order(page) == moved
    page.get_by_text("Arrange and save the layout").click()
    page.get_by_role("button", name="Reset layout").click()
    page.get_by_role("button", name="Save layout").click()
    page.get_by_text(re.compile("Layout saved")).wait_for(timeout=15_000)
    assert external_requests == [], external_requests


@pytest.mark.parametrize("page", [(390, 844)], indirect=True)
def test_dashboard_fits_a_phone(page, live_server):
    open_dashboard(page, live_server)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"page is {width}px wide on a 390px phone"


def test_incidents_panel_shows_a_seeded_incident(page, live_server):
    open_dashboard(page, live_server)
    panel = page.locator(".wb-board-item[data-key='incidents']")
    panel.get_by_text(f"#1 {SEEDED_TITLE}").wait_for(timeout=30_000)
    panel.get_by_text("Revenue was 900.00 against about 100.00 expected.").wait_for()
    # a token log-in maps to principals.yml's default principal (analyst): it may acknowledge
    panel.get_by_role("button", name="Acknowledge #1").wait_for()


def test_accessibility_audit_wcag21_aa(browser, live_server, skip_or_fail_missing):
    """axe-core, WCAG 2.1 A/AA: loaded, the layout tools expanded, an error shown (the layout
    can't be saved), the metric finder open with its matches, phone width; 0 serious or
    critical violations."""
    from tests.ui.a11y import audit, axe_path, blocking, missing_states

    axe_js = axe_path(skip_or_fail_missing)
    report = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        open_dashboard(page, live_server)
        page.locator(".tabulator").first.wait_for(timeout=30_000)  # the deferred panels too
        report["loaded"] = audit(page, axe_js, "dashboard loaded")
        page.get_by_text("Arrange and save the layout").click()
        page.get_by_role("button", name="Save layout").wait_for()
        report["panel expanded"] = audit(page, axe_js, "dashboard layout tools expanded")
        # an error shown: the layouts folder is a file, so Save layout fails (and says so)
        layouts = live_server.root / ".workbench" / "dashboard-layouts"
        aside = layouts.with_name("dashboard-layouts.aside")
        if layouts.exists():
            layouts.rename(aside)
        layouts.write_text("not a folder")
        try:
            page.get_by_role("button", name="Save layout").click()
            page.get_by_text(re.compile("Couldn't save the layout")).wait_for(timeout=15_000)
            report["error shown"] = audit(page, axe_js, "dashboard layout not saved")
        finally:
            layouts.unlink()
            if aside.exists():
                aside.rename(layouts)
        page.get_by_text("Find a metric", exact=True).click()
        search = page.get_by_label("Find a metric or dimension")
        search.fill("zzqqxx")
        search.press("Enter")
        page.get_by_label("Matches").locator("option").first.wait_for(
            state="attached", timeout=15_000
        )
        report["finder open"] = audit(page, axe_js, "dashboard metric finder with matches")
        page.set_viewport_size({"width": 390, "height": 844})
        open_dashboard(page, live_server)
        page.locator(".tabulator").first.wait_for(timeout=30_000)
        report["phone"] = audit(page, axe_js, "dashboard phone 390px")
    finally:
        context.close()
    assert not missing_states(report), missing_states(report)
    assert not blocking(report), f"serious/critical axe violations: {blocking(report)}"


# Machado, Oliveira & Fernandes (2009), deuteranopia at severity 1.0, for linear RGB: the
# matrix an SVG feColorMatrix applies (color-interpolation-filters defaults to linearRGB).
DEUTERANOPIA = [
    [0.367322, 0.860646, -0.227968],
    [0.280085, 0.672501, 0.047413],
    [-0.011820, 0.042940, 0.968881],
]
MIN_DELTA_E = 10.0  # CIE76; ~4 just-noticeable differences, enough for two adjacent series


def _lab(rgb):
    """sRGB 0..255 -> CIELAB (D65), by the textbook formulas."""
    import numpy as np

    c = np.asarray(rgb, float) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = (
        np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
        @ lin
        / np.array([0.95047, 1.0, 1.08883])
    )
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _simulate(hex_colour):
    import numpy as np

    c = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], float) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    out = np.clip(np.array(DEUTERANOPIA) @ lin, 0, 1)
    return np.where(out <= 0.0031308, 12.92 * out, 1.055 * out ** (1 / 2.4) - 0.055) * 255


def test_palette_stays_distinguishable_under_deuteranopia(page, live_server, tmp_path):
    """The rendered dashboard under a deuteranopia filter: a swatch of each palette colour
    (the series colours the charts take in order) is read back from the screenshot, checked
    against the matrix applied in Python (the filter really ran), and every pair of series
    must stay at least MIN_DELTA_E apart."""
    import io
    import itertools

    import numpy as np
    from PIL import Image

    from workbench.ui.theme import PALETTE

    open_dashboard(page, live_server)
    matrix = " ".join(" ".join(map(str, row)) + " 0 0" for row in DEUTERANOPIA) + " 0 0 0 1 0"
    page.evaluate(
        """([matrix, palette]) => {
        const ns = 'http://www.w3.org/2000/svg';
        const svg = document.createElementNS(ns, 'svg');
        svg.setAttribute('style', 'position:absolute;width:0;height:0');
        svg.innerHTML = `<filter id="wb-deutan"><feColorMatrix type="matrix" values="${matrix}"/></filter>`;
        document.body.appendChild(svg);
        const strip = document.createElement('div');
        strip.id = 'wb-swatches';
        strip.style = 'position:fixed;top:0;left:0;z-index:99999;display:flex';
        for (const c of palette) {
            const s = document.createElement('div');
            s.style = `width:40px;height:40px;background:${c}`;
            strip.appendChild(s);
        }
        document.body.appendChild(strip);
        document.documentElement.style.filter = 'url(#wb-deutan)';
    }""",
        [matrix, PALETTE],
    )
    page.wait_for_timeout(500)
    shot = tmp_path / "dashboard-deuteranopia.png"
    image = Image.open(io.BytesIO(page.screenshot(path=str(shot), full_page=False))).convert("RGB")
    print(f"\nscreenshot under deuteranopia: {shot}")
    seen = {c: np.array(image.getpixel((40 * i + 20, 20)), float) for i, c in enumerate(PALETTE)}
    for colour, pixel in seen.items():
        assert np.abs(pixel - _simulate(colour)).max() <= 6, (
            f"{colour}: screenshot {pixel} is not the simulated {_simulate(colour).round()}"
        )
    distances = {
        (a, b): float(np.linalg.norm(_lab(seen[a]) - _lab(seen[b])))
        for a, b in itertools.combinations(PALETTE, 2)
    }
    closest = min(distances, key=distances.get)
    print(f"closest pair under deuteranopia: {closest} delta E {distances[closest]:.1f}")
    assert distances[closest] >= MIN_DELTA_E, f"{closest} only {distances[closest]:.1f} apart"

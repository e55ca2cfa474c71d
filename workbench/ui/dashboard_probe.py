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

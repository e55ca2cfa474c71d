"""An analyst's notebook on the running workbench: JupyterLab in Chromium, a new notebook, a live
query in a cell, and the numbers growing while the demo pipeline writes.

The server runs as `make up` runs it, with the demo pipeline started; the kernel is a separate
process that reaches the warehouse through the server (workbench.connect() finds it through the
runtime file), so this is the path that failed with DuckDB's lock before the gateway.
"""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.workbench_server import start_server

pytestmark = [pytest.mark.ui, pytest.mark.slow]

CELL = (
    "import workbench\n"
    "wb = workbench.connect()\n"
    "n = int(wb.query('live', ['orders']).df['orders'].iloc[0])\n"
    "print(type(wb).__name__, 'orders=%d' % n)\n"
)


@pytest.fixture(scope="module")
def live_lab(tmp_path_factory, demo_warehouse):
    work = tmp_path_factory.mktemp("notebook-gateway")
    wh = work / "warehouse.duckdb"
    shutil.copy(demo_warehouse, wh)
    server = start_server(wh, work / "home", env={"WORKBENCH_AUTOSTART": "demo_orders"})
    try:
        yield server
    finally:
        server.stop()


def run_cell(page) -> str:
    """Run the first cell and return its printed output.

    On a loaded machine JupyterLab can take the first run before the kernel's websocket is
    wired, and the cell stays "[ ]" (never queued). The prompt is the evidence: when it shows
    neither "[*]" nor a count, the run did not reach the kernel and is asked again (the cell is
    a read-only query, so running it twice is harmless)."""
    cell = page.locator(".jp-Notebook .jp-Cell").first
    prompt = cell.locator(".jp-InputPrompt")
    for _attempt in range(3):
        before = prompt.inner_text()
        cell.click()
        page.locator(
            "jp-button[data-command='notebook:run-cell-and-select-next'], "
            "[data-command='notebook:run-cell-and-select-next']"
        ).first.click()
        try:
            page.wait_for_function(
                "([el, before]) => el.textContent !== before && /\\[(\\*|\\d+)\\]/.test(el.textContent)",
                arg=[prompt.element_handle(), before],
                timeout=20_000,
            )
            break
        except PlaywrightTimeout:  # the run was not queued: ask again
            continue
    out = cell.locator(".jp-OutputArea-output")
    out.filter(has_text=re.compile(r"orders=\d+|Error")).first.wait_for(timeout=120_000)
    return out.first.inner_text()


def make_notebook(server) -> str:
    """An empty notebook under build/ (gitignored), made through the contents API; its path."""
    import json
    import urllib.request
    import uuid

    folder = "build/test-notebooks"
    for path, body in (
        (folder, {"type": "directory"}),
        (
            f"{folder}/live-{uuid.uuid4().hex[:8]}.ipynb",
            {
                "type": "notebook",
                "format": "json",
                "content": {
                    "cells": [
                        {
                            "cell_type": "code",
                            "source": "",
                            "metadata": {},
                            "outputs": [],
                            "execution_count": None,
                        }
                    ],
                    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
                    "nbformat": 4,
                    "nbformat_minor": 5,
                },
            },
        ),
    ):
        req = urllib.request.Request(
            server.at(f"api/contents/{path}"),
            method="PUT",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310  the test's own loopback server
            assert r.status in (200, 201)
    return path


def test_a_notebook_queries_live_data_through_the_server(page, live_lab):
    page.set_default_timeout(60_000)
    path = make_notebook(live_lab)
    page.goto(live_lab.at(f"lab/tree/{path}") + "&reset", timeout=120_000)
    editor = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    editor.wait_for(timeout=120_000)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first.wait_for(
        timeout=120_000
    )
    editor.click()
    page.keyboard.insert_text(CELL)
    try:
        first = run_cell(page)
    except Exception:
        page.screenshot(path=str(Path(__file__).resolve().parents[2] / "build" / "nb_fail.png"))
        raise
    assert "RemoteWorkbench" in first, first
    n1 = int(re.search(r"orders=(\d+)", first).group(1))
    deadline, n2 = time.monotonic() + 90, n1
    while n2 <= n1 and time.monotonic() < deadline:
        time.sleep(3)
        n2 = int(re.search(r"orders=(\d+)", run_cell(page)).group(1))
    assert n2 > n1, f"live orders did not grow: {n1} then {n2}"

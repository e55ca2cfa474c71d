"""The catalog app in a real browser, through JupyterLab's proxy URL, as a person uses it."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.slow]

APP = "workbench-catalog/"


@pytest.fixture(scope="module")
def catalog_started(jupyter_server):
    """The first request makes jupyter-server-proxy start the app (Panel, hvPlot and the
    warehouse load); do it once, with a generous timeout, before the browser tests."""
    with urllib.request.urlopen(jupyter_server.at(APP), timeout=180) as r:
        assert r.status == 200
        body = r.read().decode()
    assert "<title>Metric catalog</title>" in body
    return jupyter_server


def open_catalog(page, jupyter_server):
    page.goto(jupyter_server.at(APP), timeout=120_000)
    search = page.get_by_label("Search metrics and dimensions")
    search.wait_for(timeout=60_000)
    return search


def test_catalog_is_published_with_a_launcher_entry(jupyter_server):
    with urllib.request.urlopen(jupyter_server.at("server-proxy/servers-info"), timeout=10) as r:
        servers = {s["name"]: s for s in json.load(r)["server_processes"]}
    entry = servers["workbench-catalog"]["launcher_entry"]
    assert entry["enabled"] and entry["title"] == "Metric catalog"
    assert entry.get("icon_url")


def test_catalog_shows_in_the_jupyterlab_launcher(page, jupyter_server, external_requests):
    page.goto(jupyter_server.at("lab"))
    card = page.locator(".jp-LauncherCard", has_text="Metric catalog")
    card.first.wait_for(timeout=90_000)
    assert card.count() >= 1
    card.first.locator("img").wait_for()  # the icon is drawn
    config = json.loads(page.locator("#jupyter-config-data").text_content())
    # No run-time fetches: the news prompt is off, the extension manager is read-only.
    assert "@jupyterlab/apputils-extension:announcements" in config["disabledExtensions"]
    assert external_requests == []


def test_search_a_metric_run_a_query_see_table_and_sql(page, catalog_started, external_requests):
    search = open_catalog(page, catalog_started)
    search.fill("revenue")
    results = page.get_by_label("Results")
    expect_option = results.locator("option", has_text=re.compile(r"measure|metric"))
    expect_option.first.wait_for()
    # The detail shows lineage back to a warehouse table.
    page.get_by_text("Lineage").wait_for()
    page.get_by_text(re.compile(r"from table `?\w+")).first.wait_for()

    page.get_by_role("button", name="Add to query").click()
    page.get_by_role("button", name="Run query").click()

    status = page.get_by_role("status").filter(has_text=re.compile(r"\d+ rows? in"))
    status.wait_for(timeout=60_000)
    table = page.locator(".tabulator")
    table.wait_for()
    assert table.locator(".tabulator-row").count() >= 1
    sql = page.locator("pre.wb-sql")
    sql.wait_for()
    assert "SELECT" in sql.inner_text().upper()
    assert not page.get_by_text("Traceback").count()
    assert external_requests == [], f"the app fetched from the network: {external_requests}"


def test_a_bad_filter_shows_a_message_not_a_traceback(page, catalog_started):
    search = open_catalog(page, catalog_started)
    search.fill("revenue")
    page.get_by_role("button", name="Add to query").click()
    page.get_by_label("Filters (one per line)").fill("no_such_column = 1")
    page.get_by_role("button", name="Run query").click()
    page.get_by_role("status").filter(has_text="did not run").wait_for(timeout=60_000)
    alert = page.locator(".alert-danger, [role=alert]").filter(has_text=re.compile(r"\w"))
    assert alert.count() >= 1
    assert "Traceback" not in page.content()


def test_keyboard_only(page, catalog_started):
    from playwright.sync_api import expect

    search = open_catalog(page, catalog_started)
    search.focus()
    page.keyboard.type("revenue")
    expect(page.get_by_role("status").filter(has_text=re.compile(r"\d+ results?"))).to_be_visible()
    add = page.get_by_role("button", name="Add to query")
    # The search runs per keystroke: let the last one show its best match before moving in
    # the list (an arrow key racing a later search's new options is not what this tests).
    expect(add).to_be_enabled(timeout=30_000)
    results = page.get_by_label("Results")
    results.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")  # back to the best match
    expect(add).to_be_enabled(timeout=30_000)
    add.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text="Added")).to_be_visible(timeout=60_000)
    run = page.get_by_role("button", name="Run query")
    run.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status").filter(has_text=re.compile(r"\d+ rows? in"))).to_be_visible(
        timeout=60_000
    )


@pytest.mark.parametrize("page", [(375, 800)], indirect=True, ids=["phone"])
def test_fits_a_phone_screen(page, catalog_started):
    search = open_catalog(page, catalog_started)
    search.fill("revenue")
    page.get_by_role("button", name="Add to query").click()
    page.get_by_role("button", name="Run query").click()
    page.locator("pre.wb-sql").wait_for(timeout=60_000)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px at phone width"


def test_accessibility_audit_wcag21_aa(browser, catalog_started, skip_or_fail_missing):
    """axe-core, WCAG 2.1 A/AA, in each main state (loaded, a metric's detail expanded, a query
    result, an error shown, phone width); 0 serious or critical violations."""
    from tests.ui.a11y import audit, axe_path, blocking, missing_states

    axe_js = axe_path(skip_or_fail_missing)
    report = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        search = open_catalog(page, catalog_started)
        report["loaded"] = audit(page, axe_js, "catalog loaded")
        search.fill("revenue")
        page.get_by_text("Lineage").wait_for()
        report["panel expanded"] = audit(page, axe_js, "catalog detail open")
        page.get_by_role("button", name="Add to query").click()
        page.get_by_role("button", name="Run query").click()
        page.locator(".tabulator .tabulator-row").first.wait_for(timeout=60_000)
        report["query result"] = audit(page, axe_js, "catalog query result")
        page.get_by_label("Filters (one per line)").fill("no_such_column = 1")
        page.get_by_role("button", name="Run query").click()
        page.get_by_role("status").filter(has_text="did not run").wait_for(timeout=60_000)
        report["error shown"] = audit(page, axe_js, "catalog error shown")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        open_catalog(page, catalog_started).fill("revenue")
        page.get_by_text("Lineage").wait_for()
        report["phone"] = audit(page, axe_js, "catalog phone 390px")
    finally:
        context.close()
    assert not missing_states(report), missing_states(report)
    assert not blocking(report), f"serious/critical axe violations: {blocking(report)}"

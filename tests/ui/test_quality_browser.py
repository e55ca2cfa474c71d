"""The quality app in a real browser, through JupyterLab's proxy URL."""
from __future__ import annotations

import json
import re
import urllib.request

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.slow]

APP = "workbench-quality/"


@pytest.fixture(scope="module")
def quality_started(jupyter_server):
    with urllib.request.urlopen(jupyter_server.at(APP), timeout=180) as r:
        assert r.status == 200
        assert "<title>Data quality</title>" in r.read().decode()
    return jupyter_server


def test_quality_is_published(jupyter_server):
    with urllib.request.urlopen(jupyter_server.at("server-proxy/servers-info"), timeout=10) as r:
        servers = {s["name"]: s for s in json.load(r)["server_processes"]}
    assert servers["workbench-quality"]["launcher_entry"]["title"] == "Data quality"


def test_the_page_shows_its_sections_without_network(page, quality_started, external_requests):
    page.goto(quality_started.at(APP), timeout=120_000)
    page.get_by_role("heading", name="Data quality").wait_for(timeout=60_000)
    page.get_by_role("heading", name="Awaiting approval").wait_for()
    page.get_by_role("status").filter(has_text=re.compile(r"\d+ item\(s\) awaiting approval")).wait_for()
    for name in ("Scores", "Failing checks", "SLA status", "Cleansing lineage"):
        page.get_by_role("heading", name=name).first.wait_for()
    assert "Traceback" not in page.content()
    assert external_requests == [], f"the app fetched from the network: {external_requests}"


def test_accessibility_audit_wcag21_aa(browser, quality_started, skip_or_fail_missing):
    """axe-core, WCAG 2.1 A/AA: loaded, a failing check's sample rows open, phone width; 0
    serious or critical violations.  (An error state needs a refused approval, which would
    write to the session's shared warehouse: the catalog's error state covers the shared
    error box.)"""
    from tests.ui.a11y import audit, axe_path, blocking

    axe_js = axe_path(skip_or_fail_missing)
    report = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(quality_started.at(APP), timeout=120_000)
        page.get_by_role("heading", name="Cleansing lineage").first.wait_for(timeout=60_000)
        report["loaded"] = audit(page, axe_js, "quality loaded")
        # a detail: a failing check's sample rows, or else a cleansing rule's lineage
        pick = page.get_by_label("Sample failing rows of")
        if not pick.count():
            pick = page.get_by_label("Rule", exact=True)
        if pick.count():
            options = pick.locator("option").all_inner_texts()
            pick.select_option(options[-1])
            page.wait_for_timeout(1_000)
            report["detail open"] = audit(page, axe_js, "quality detail open")
        assert page.get_by_text("Quality score over time, latest per series").count() or \
            not page.get_by_text("Quality score over time").count(), "the trend chart has no summary"
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        page.get_by_role("heading", name="Cleansing lineage").first.wait_for(timeout=60_000)
        report["phone"] = audit(page, axe_js, "quality phone 390px")
    finally:
        context.close()
    assert not blocking(report), f"serious/critical axe violations: {blocking(report)}"

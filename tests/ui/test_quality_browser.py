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
    page.get_by_role("status").filter(
        has_text=re.compile(r"\d+ item\(s\) awaiting approval")
    ).wait_for()
    for name in ("Scores", "Failing checks", "SLA status", "Cleansing lineage"):
        page.get_by_role("heading", name=name).first.wait_for()
    assert "Traceback" not in page.content()
    assert external_requests == [], f"the app fetched from the network: {external_requests}"


@pytest.fixture(scope="module")
def quality_with_findings(tmp_path_factory, demo_warehouse):
    """A server of its own over a warehouse with something in each section (the session's
    demo warehouse has no validation run, so its page is all "nothing yet"): the demo data
    with injected faults (tests/quality/faults.py), one validation run (failing checks with
    sample rows, quarantined rows, scores) and the repository's cleansing rules proposed
    (awaiting approval)."""
    import duckdb

    import workbench.quality as quality
    from tests.quality.faults import inject
    from tests.support.workbench_server import REPO, start_server
    from workbench.quality.cleansing import approval as cleansing_approval
    from workbench.quality.cleansing.rules import load_rules

    folder = tmp_path_factory.mktemp("quality-findings")
    warehouse = folder / "faulty.duckdb"
    inject(demo_warehouse, warehouse)
    quality.validate(warehouse, "orders", "duckdb", data_docs=False)
    con = duckdb.connect(str(warehouse))
    try:
        cleansing_approval.propose(
            con, load_rules(REPO / "pipelines" / "cleansing" / "customers.yml"), None
        )
    finally:
        con.close()
    server = start_server(warehouse, folder / "home")
    try:
        with urllib.request.urlopen(server.at(APP), timeout=180) as r:
            assert r.status == 200
        yield server
    finally:
        server.stop()


def test_accessibility_audit_wcag21_aa(browser, quality_with_findings, skip_or_fail_missing):
    """axe-core, WCAG 2.1 A/AA: loaded, a failing check's sample rows (or a cleansing rule's
    lineage) open, an error shown, phone width; 0 serious or critical violations.  The error is
    a refused approval: the session acts as the default principal (analyst), who may not
    approve, so nothing is written (the role is checked before any write)."""
    from tests.ui.a11y import audit, axe_path, blocking, missing_states

    axe_js = axe_path(skip_or_fail_missing)
    report = {}
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(quality_with_findings.at(APP), timeout=120_000)
        page.get_by_role("heading", name="Cleansing lineage").first.wait_for(timeout=60_000)
        report["loaded"] = audit(page, axe_js, "quality loaded")
        # a detail: a failing check's sample rows, or else a cleansing rule's lineage
        pick = page.get_by_label("Sample failing rows of")
        if not pick.count():
            pick = page.get_by_label("Rule", exact=True)
        assert pick.count(), "no failing check and no cleansing rule to open"
        options = pick.locator("option").all_inner_texts()
        pick.select_option(options[-1])
        page.wait_for_timeout(1_000)
        report["panel expanded"] = audit(page, axe_js, "quality detail open")
        assert (
            page.get_by_text("Quality score over time, latest per series").count()
            or not page.get_by_text("Quality score over time").count()
        ), "the trend chart has no summary"
        page.get_by_text(re.compile(r"Acting as analyst \(analyst\)")).wait_for()
        approve = page.get_by_role("button", name="Approve", exact=True)
        assert approve.is_enabled(), "nothing awaits approval in the demo warehouse"
        approve.click()
        page.get_by_role("status").filter(has_text="Not done.").wait_for(timeout=30_000)
        page.get_by_text(re.compile(r"may not approve|Something went wrong")).first.wait_for()
        report["error shown"] = audit(page, axe_js, "quality approval refused")
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        page.get_by_role("heading", name="Cleansing lineage").first.wait_for(timeout=60_000)
        report["phone"] = audit(page, axe_js, "quality phone 390px")
    finally:
        context.close()
    assert not missing_states(report), missing_states(report)
    assert not blocking(report), f"serious/critical axe violations: {blocking(report)}"

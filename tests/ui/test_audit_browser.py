"""The audit app in a real browser, on a server started as `make up` starts it: an admin logs in,
opens the audit log, filters by a user and finds that user's log-in; the filtered entries come
down as CSV; a bad date is an error in words; a viewer gets 403 on the app and its API.  axe-core
audits the loaded, filtered (an entry's details open), error and phone-width states."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.support.workbench_server import start_server

pytestmark = [pytest.mark.ui, pytest.mark.slow]

APP = "workbench-audit/"
USERS = {"adam": ("admin", "adam-password-1"), "vera": ("viewer", "vera-password-1")}


@pytest.fixture(scope="module")
def audit_server(tmp_path_factory, demo_warehouse):
    import shutil

    from workbench.config import load_settings
    from workbench.security.users import UserStore

    work = tmp_path_factory.mktemp("audit-server")
    project = work / "project"
    project.mkdir()
    (project / "workbench.yml").write_text("{}\n")
    settings = load_settings(project)
    users = UserStore(settings.path(settings.auth.users_db))
    for name, (role, password) in USERS.items():
        users.add(name, password, [role], {"region": "North"} if role == "viewer" else {})
    wh = work / "warehouse.duckdb"
    shutil.copy(demo_warehouse, wh)
    server = start_server(
        wh, work / "home", extra_args=[f"--WorkbenchIdentityProvider.project_root={project}"]
    )
    try:
        yield server
    finally:
        server.stop()


def log_in(page, server, name: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(USERS[name][1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def open_app(page, server) -> None:
    page.goto(f"{server.url}/{APP}", timeout=180_000)
    page.get_by_role("heading", name="Audit log").wait_for(timeout=120_000)
    page.get_by_role("status").filter(has_text=re.compile(r"Entries \d+–\d+ of \d+")).wait_for(
        timeout=60_000
    )


def test_an_admin_finds_a_users_log_in_and_a_viewer_is_refused(
    browser, audit_server, skip_or_fail_missing
):
    from tests.ui.a11y import audit, axe_path, blocking, missing_states

    axe_js = axe_path(skip_or_fail_missing)
    report = {}
    viewer = browser.new_context()
    admin = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    try:
        vpage = viewer.new_page()
        log_in(vpage, audit_server, "vera")  # the event the admin will look for
        r = vpage.goto(f"{audit_server.url}/{APP}")
        assert r is not None and r.status == 403
        api = vpage.request.get(f"{audit_server.url}/workbench/api/audit?user=vera")
        assert api.status == 403 and "entries" not in api.text()

        page = admin.new_page()
        page.set_default_timeout(30_000)
        log_in(page, audit_server, "adam")
        open_app(page, audit_server)
        page.locator(".wb-chain-ok").filter(has_text="Chain verified").wait_for()
        assert "Traceback" not in page.content()
        report["loaded"] = audit(page, axe_js, "audit loaded")

        page.get_by_label("User", exact=True).fill("vera")
        page.get_by_label("User", exact=True).press("Enter")
        page.get_by_role("status").filter(
            has_text=re.compile(r"Entries 1–\d+ of \d+, newest first \(user vera")
        ).wait_for()
        rows = page.locator(".tabulator .tabulator-row")
        rows.filter(has_text="login.success").first.wait_for()
        users = {
            rows.nth(i).locator("[tabulator-field='User']").inner_text()
            for i in range(rows.count())
        }
        assert users == {"vera"}, users
        pick = page.get_by_label("Entry details")
        pick.select_option(
            label=next(t for t in pick.locator("option").all_inner_texts() if "login.success" in t)
        )
        page.locator("dl.wb-audit-entry").filter(has_text="login.success").wait_for()
        assert page.get_by_text("Events per hour by action").count()
        report["panel expanded"] = audit(page, axe_js, "audit filtered, entry details open")

        with page.expect_download() as download:
            page.get_by_role("button", name="Download CSV of the filtered entries").click()
        data = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert data and {d["user"] for d in data} == {"vera"}
        assert "login.success" in {d["action"] for d in data}

        page.get_by_label("Time range").select_option(label="Between the dates below")
        page.get_by_label("From (UTC)").fill("yesterday")
        page.get_by_label("From (UTC)").press("Enter")
        page.get_by_text(re.compile(r"since .yesterday. is not an ISO date or time")).wait_for()
        assert "Traceback" not in page.content()
        report["error shown"] = audit(page, axe_js, "audit bad date")

        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        page.get_by_role("heading", name="Audit log").wait_for(timeout=60_000)
        page.get_by_role("status").filter(has_text=re.compile(r"Entries \d+–\d+")).wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the page scrolls sideways on a phone ({width}px)"
        report["phone"] = audit(page, axe_js, "audit phone 390px")
    finally:
        admin.close()
        viewer.close()
    assert not missing_states(report), missing_states(report)
    assert not blocking(report), f"serious/critical axe violations: {blocking(report)}"

"""Log in in a real browser as each role and see what that role may and may not open.

The server runs as `make up` runs it (jupyter_config/, the workbench extension, the proxied apps)
over a small demo warehouse; its users and keys live in a scratch project, made here with the
users store.  Chromium logs in through the /login form like a person.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.support.workbench_server import start_server

pytestmark = [pytest.mark.ui, pytest.mark.slow]

USERS = {
    "vera": ("viewer", {"region": "North"}, "vera-password-1"),
    "anna": ("analyst", {}, "anna-password-1"),
}


@pytest.fixture(scope="module")
def login_server(tmp_path_factory, demo_warehouse):
    import shutil

    from workbench.config import load_settings
    from workbench.security.users import UserStore

    work = tmp_path_factory.mktemp("login-server")
    project = work / "project"
    project.mkdir()
    (project / "workbench.yml").write_text("{}\n")
    settings = load_settings(project)
    users = UserStore(settings.path(settings.auth.users_db))
    for name, (role, attrs, password) in USERS.items():
        users.add(name, password, [role], attrs)
    wh = work / "warehouse.duckdb"
    shutil.copy(demo_warehouse, wh)
    server = start_server(
        wh, work / "home", extra_args=[f"--WorkbenchIdentityProvider.project_root={project}"]
    )
    server.warehouse = wh
    try:
        yield server
    finally:
        server.stop()


def log_in(page, server, name: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(USERS[name][2])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def status_of(page, url: str) -> int:
    response = page.goto(url)
    return response.status if response is not None else 0


def test_a_wrong_password_is_refused(browser, login_server):
    page = browser.new_page()
    page.goto(f"{login_server.url}/login")
    page.get_by_label("User name").fill("vera")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text().startswith("Wrong user name or password")
    assert status_of(page, f"{login_server.url}/api/kernels") == 403
    page.close()


def test_a_viewer_gets_the_apps_and_only_their_region(browser, login_server):
    context = browser.new_context()
    page = context.new_page()
    log_in(page, login_server, "vera")
    cookies = {c["name"]: c for c in context.cookies()}
    assert (
        cookies["workbench-access"]["httpOnly"] and cookies["workbench-access"]["sameSite"] == "Lax"
    )
    for path in ("lab", "api/kernels", "api/contents", "api/terminals"):
        assert status_of(page, f"{login_server.url}/{path}") == 403, path
    assert status_of(page, f"{login_server.url}/workbench-dashboard/") == 200
    # the dashboard asks the server as vera: its KPIs load, and its region picker offers North only
    page.locator(".wb-kpi[data-metric='orders'] .wb-kpi-value").first.wait_for(timeout=120_000)
    region = page.get_by_label("Region", exact=True)
    region.locator("option", has_text="North").wait_for(state="attached", timeout=60_000)
    options = region.locator("option").all_inner_texts()
    assert "North" in options and not {"South", "West", "Central", "East"} & set(options), options
    # the query API, from this browser session: the viewer's own region only
    xsrf = cookies["_xsrf"]["value"]
    r = page.request.post(
        f"{login_server.url}/workbench/api/query",
        headers={"X-XSRFToken": xsrf},
        data=json.dumps({"namespace": "retail", "metrics": ["revenue"], "dimensions": ["region"]}),
    )
    assert r.status == 200, r.text()
    body = r.json()
    assert body["principal"] == "vera" and [x["region"] for x in body["records"]] == ["North"]
    # log-out ends it everywhere
    page.goto(f"{login_server.url}/logout")
    assert "Logged out" in page.content()
    assert (
        status_of(page, f"{login_server.url}/workbench-dashboard/") in (302, 403)
        or "/login" in page.url
    )
    context.close()


def test_an_analyst_gets_notebooks_but_no_terminals(browser, login_server):
    context = browser.new_context()
    page = context.new_page()
    log_in(page, login_server, "anna")
    assert status_of(page, f"{login_server.url}/lab") == 200
    assert status_of(page, f"{login_server.url}/api/kernels") == 200
    assert status_of(page, f"{login_server.url}/api/terminals") == 403
    xsrf = {c["name"]: c for c in context.cookies()}["_xsrf"]["value"]
    r = page.request.post(
        f"{login_server.url}/workbench/api/query",
        headers={"X-XSRFToken": xsrf},
        data=json.dumps({"namespace": "retail", "metrics": ["revenue"], "dimensions": ["region"]}),
    )
    assert r.status == 200 and len(r.json()["records"]) > 1
    context.close()


def test_a_viewer_in_the_catalog_sees_only_their_region(browser, login_server):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    log_in(page, login_server, "vera")
    page.goto(f"{login_server.url}/workbench-catalog/", timeout=120_000)
    search = page.get_by_label("Search metrics and dimensions")
    results = page.get_by_label("Results")
    for text, kind in (("revenue", r"measure|metric"), ("region", r"dimension")):
        search.fill(text)
        option = results.locator("option", has_text=re.compile(kind)).first
        option.wait_for()
        results.select_option(value=option.get_attribute("value"))
        page.get_by_role("button", name="Add to query").click()
    page.get_by_role("button", name="Run query").click()
    page.get_by_role("status").filter(has_text=re.compile(r"\d+ rows? in")).wait_for()
    rows = page.locator(".tabulator .tabulator-row")
    assert rows.count() == 1 and "North" in rows.first.inner_text()
    context.close()


def test_an_app_reached_without_the_gateway_shows_no_data(browser, login_server, tmp_path):
    """Someone on this machine connecting to an app's own port, past the gateway, brings no
    credentials: the app shows a log-in notice and no data."""
    import os
    import subprocess
    import sys

    from tests.support.dashboard_probe import stop_process_group
    from tests.support.workbench_server import REPO, free_port

    port = free_port()
    env = {
        **os.environ,
        "WORKBENCH_WAREHOUSE": str(login_server.warehouse),
        "WORKBENCH_PROJECT_DIR": str(REPO),
    }
    app = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "panel",
            "serve",
            str(REPO / "apps" / "catalog.py"),
            f"--port={port}",
            "--address=127.0.0.1",
            f"--allow-websocket-origin=127.0.0.1:{port}",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        page = browser.new_page()
        deadline = time.monotonic() + 90
        while True:
            try:
                page.goto(f"http://127.0.0.1:{port}/catalog", timeout=10_000)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        page.get_by_text("Log in to see this app").wait_for(timeout=60_000)
        assert not page.get_by_label("Search metrics and dimensions").count()
        page.close()
    finally:
        stop_process_group(app, grace_s=5)

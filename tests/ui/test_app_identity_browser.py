"""The apps know who is looking, and only from the gateway: a real browser logs in at /login and
opens the published apps; each app's header says "Signed in as <name>", which the app draws
from ``pn.state.user``, set from the identity the gateway signed for that app.  A browser that
sends its own identity headers (even a genuine identity of somebody else) changes nothing.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.support.workbench_server import start_server

pytestmark = [pytest.mark.ui, pytest.mark.slow]

USERS = {
    "vera": ("viewer", {"region": "North"}, "vera-password-1"),
    "adam": ("admin", {}, "adam-password-12"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_warehouse):
    from workbench.config import load_settings
    from workbench.security.users import UserStore

    work = tmp_path_factory.mktemp("appid-browser")
    project = work / "project"
    project.mkdir()
    (project / "workbench.yml").write_text("{}\n")
    settings = load_settings(project)
    users = UserStore(settings.path(settings.auth.users_db))
    for name, (role, attrs, password) in USERS.items():
        users.add(name, password, [role], attrs)
    wh = work / "warehouse.duckdb"
    shutil.copy(demo_warehouse, wh)
    running = start_server(
        wh,
        work / "home",
        lab=False,
        extra_args=[f"--WorkbenchIdentityProvider.project_root={project}"],
    )
    running.settings = settings
    try:
        yield running
    finally:
        running.stop()


def log_in(page, server, name: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(USERS[name][2])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def header_user(page) -> str:
    who = page.locator(".wb-user strong").first
    who.wait_for(timeout=120_000)
    return who.inner_text()


def test_each_app_names_the_person_who_logged_in(browser, server):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    log_in(page, server, "vera")
    for app in ("workbench-catalog", "workbench-quality", "workbench-dashboard"):
        page.goto(f"{server.url}/{app}/", timeout=180_000)
        assert header_user(page) == "vera", app
        assert not page.get_by_text("Log in to see this app").count(), app
        if (
            app == "workbench-quality"
        ):  # its approvals act for the person, not a configured principal
            page.get_by_text("Acting as").first.wait_for()
            assert "Acting as vera (viewer)" in page.get_by_text("Acting as").first.inner_text()
    context.close()


def test_identity_headers_a_browser_sends_are_ignored(browser, server, tmp_path):
    from workbench.security.app_identity import IDENTITY_HEADER, IdentitySigner
    from workbench.security.keyring import KeyRing

    auth = server.settings.auth
    ring = KeyRing(server.settings.path(auth.keys_dir))
    # a genuine identity of the admin, signed by the server's own key ring, replayed by vera
    adams = IdentitySigner(ring, issuer=auth.issuer, jwks_path=tmp_path / "jwks.json").sign(
        "workbench-catalog", "adam", roles=["admin"]
    )
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    log_in(page, server, "vera")
    context.set_extra_http_headers(
        {IDENTITY_HEADER: adams, "X-Forwarded-User": "adam", "X-Remote-User": "adam"}
    )
    page.goto(f"{server.url}/workbench-catalog/", timeout=180_000)
    assert header_user(page) == "vera"
    # and her queries are still hers: the catalog answers North only
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

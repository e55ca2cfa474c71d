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

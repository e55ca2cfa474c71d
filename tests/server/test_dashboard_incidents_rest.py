"""The dashboard's Incidents panel behind a real Jupyter server: acknowledge and resolve go
through the REST API with the viewer's token, so the server decides and records who.

The panel is built as the dashboard builds it behind Jupyter (an ``ApiClient`` on the server's
loopback URL with the forwarded token) and reads the server's own store directly.  The server
runs on this test's event loop, so the panel's blocking calls run in a worker thread.
Oracles: the server's store read directly, and the server's 403/409 messages as the API returns
them to a plain request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.prerequisites import require_module

require_module("panel")


@pytest.fixture
def pipelines_config(tmp_path):
    """The server's incident store in tmp_path (never the repository's), detection off."""
    return {
        "pipeline_loader": "server_fakes:load_pipeline",
        "pipeline_lister": "server_fakes:list_pipelines",
        "detection": False,
        "incidents_db": str(tmp_path / "incidents.sqlite"),
        "detection_state_dir": str(tmp_path / "jobs"),
    }


def _ext(jp_serverapp):
    return jp_serverapp.extension_manager.extension_points["workbench"].app


def _seed(jp_serverapp) -> int:
    from workbench.anomaly.jobs import Anomaly

    store = _ext(jp_serverapp).detection_loop.store()
    a = Anomaly(
        rule="r",
        namespace="live",
        metric="orders",
        grain="minute",
        slice_by="region",
        slice_value="North",
        ts=dt.datetime(2026, 1, 5, 10, 0),
        value=140.0,
        expected=20.0,
        score=0.93,
        severity="critical",
        direction="up",
        group="live",
    )
    return store.add(a, 15).incident_id


def _panel(jp_serverapp, jp_http_port, jp_base_url, roles):
    from workbench.ui.dashboard.client import ApiClient, Credentials
    from workbench.ui.dashboard.incidents import IncidentFeed
    from workbench.ui.dashboard.incidents_panel import IncidentsPanel

    token = jp_serverapp.identity_provider.token
    client = ApiClient(f"http://127.0.0.1:{jp_http_port}{jp_base_url}", Credentials(token=token))
    feed = IncidentFeed(_ext(jp_serverapp).detection_loop.incidents_db)
    # The app-side actor name is deliberately wrong: the server must not use it.
    p = IncidentsPanel(feed, roles, actor="someone-else", client=client)
    p.refresh()
    return p


async def _server_refusal(jp_fetch, iid: int, action: str, code: int) -> str:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch("workbench", "api", "incidents", str(iid), action, method="POST", body="{}")
    assert err.value.code == code
    return json.loads(err.value.response.body)["message"]


async def test_viewer_is_refused_by_the_server_with_its_message(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url
):
    iid = _seed(jp_serverapp)
    _ext(jp_serverapp).host.mapper.mapping = {"*": "viewer"}
    # The app-side hint says "analyst" (buttons shown); the server is the authority.
    p = _panel(jp_serverapp, jp_http_port, jp_base_url, {"analyst"})
    assert p.api is not None and p.can_act and p.selected == iid
    await asyncio.to_thread(p.act, "acknowledge")
    store = _ext(jp_serverapp).detection_loop.store()
    assert store.get(iid)["status"] == "open"
    assert [h["action"] for h in store.history(iid)] == ["opened"]
    server_says = await _server_refusal(jp_fetch, iid, "acknowledge", 403)
    assert "viewer" in server_says and "analyst" in server_says
    shown = p.message.object
    assert f"Couldn&#x27;t acknowledge incident #{iid}" in shown
    assert _html_text(server_says) in shown and "Traceback" not in shown


async def test_analyst_acknowledges_through_the_server_which_records_the_user(
    jp_fetch, jp_serverapp, jp_http_port, jp_base_url
):
    iid = _seed(jp_serverapp)
    _ext(jp_serverapp).host.mapper.mapping = {"*": "analyst"}
    p = _panel(jp_serverapp, jp_http_port, jp_base_url, {"analyst"})
    p.note.value = "on it"
    await asyncio.to_thread(p.act, "acknowledge")
    store = _ext(jp_serverapp).detection_loop.store()
    inc = store.get(iid)
    assert inc["status"] == "acknowledged"
    last = store.history(iid)[-1]
    assert (last["action"], last["detail"]) == ("acknowledged", "on it")
    # The server's authenticated user (Jupyter's token user -> principal analyst), not the
    # name the app passed.
    assert "someone-else" not in last["actor"] and "analyst" in last["actor"]
    assert inc["acknowledged_by"] == last["actor"]
    assert f"(by {last['actor']})" in p.message.object.replace("&#x27;", "'")
    # The panel re-read the store: the table and buttons follow the new state.
    assert p.table.value.loc[p.table.value["#"] == iid, "status"].item() == "acknowledged"
    assert p.ack.disabled and not p.resolve.disabled and p.note.value == ""

    await asyncio.to_thread(p.act, "resolve")
    assert store.get(iid)["status"] == "resolved"
    assert [h["action"] for h in store.history(iid)] == ["opened", "acknowledged", "resolved"]

    # A change the state does not allow: the server's 409 message, shown as words.
    p.selected = iid
    await asyncio.to_thread(p.act, "resolve")
    server_says = await _server_refusal(jp_fetch, iid, "resolve", 409)
    assert _html_text(server_says) in p.message.object and "Traceback" not in p.message.object


def _html_text(text: str) -> str:
    import html

    return html.escape(text)


def test_cookie_parsing_for_the_xsrf_header():
    from workbench.ui.dashboard.client import _cookie

    assert _cookie("username-x=abc; _xsrf=2|tok|en", "_xsrf") == "2|tok|en"
    assert _cookie("username-x=abc", "_xsrf") is None
    assert re.fullmatch(r"2\|tok\|en", _cookie("_xsrf=2|tok|en", "_xsrf"))

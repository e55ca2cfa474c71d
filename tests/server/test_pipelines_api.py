"""The pipelines REST API: log-in and authorization, list/start/status/stop, metrics."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

API = ("workbench", "api")
NO_LOGIN = {"Authorization": "token not-the-token"}


async def fetch_json(jp_fetch, *parts, **kw):
    r = await jp_fetch(*API, *parts, **kw)
    return r.code, json.loads(r.body)


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", ("pipelines",)),
        ("POST", ("pipelines", "fake_orders", "start")),
        ("POST", ("pipelines", "fake_orders", "stop")),
        ("GET", ("pipelines", "fake_orders", "status")),
        ("GET", ("query",)),
        ("POST", ("query",)),
        ("GET", ("catalog",)),
        ("GET", ("metrics",)),
    ],
)
async def test_every_endpoint_refuses_a_caller_who_is_not_logged_in(jp_fetch, method, path):
    body = "{}" if method == "POST" else None
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, *path, method=method, body=body, headers=NO_LOGIN)
    assert err.value.code in (401, 403)


async def test_list_start_status_stop(jp_fetch):
    code, listed = await fetch_json(jp_fetch, "pipelines")
    assert code == 200
    names = [p["name"] for p in listed["pipelines"]]
    assert names == ["fake_orders", "fake_returns"]
    assert all(not p["running"] for p in listed["pipelines"])

    code, st = await fetch_json(
        jp_fetch, "pipelines", "fake_orders", "start", method="POST", body=""
    )
    assert code == 200 and st["running"] is True and st["name"] == "fake_orders"

    code, st = await fetch_json(jp_fetch, "pipelines", "fake_orders", "status")
    assert st["state"] == "running" and st["commits"] == 1

    code, listed = await fetch_json(jp_fetch, "pipelines")
    running = {p["name"]: p["running"] for p in listed["pipelines"]}
    assert running == {"fake_orders": True, "fake_returns": False}

    code, st = await fetch_json(
        jp_fetch, "pipelines", "fake_orders", "stop", method="POST", body=""
    )
    assert code == 200 and st["running"] is False


async def test_unknown_pipeline_is_404_with_the_known_names(jp_fetch):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, "pipelines", "nope", "start", method="POST", body="")
    assert err.value.code == 404
    msg = json.loads(err.value.response.body)["message"]
    assert "nope" in msg and "fake_orders" in msg


async def test_metrics_are_prometheus_text(jp_fetch):
    await jp_fetch(*API, "pipelines")
    r = await jp_fetch(*API, "metrics")
    assert r.code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.body.decode()
    assert "# TYPE workbench_api_requests_total counter" in text
    assert 'workbench_api_requests_total{endpoint="pipelines",status="200"}' in text
    assert "workbench_pipelines_running" in text


async def test_authorizer_is_consulted_with_namespaced_resources(jp_fetch, jp_serverapp):
    seen = []
    authorizer = jp_serverapp.web_app.settings["authorizer"]
    original = authorizer.is_authorized

    def deny_pipelines(handler, user, action, resource):
        seen.append((action, resource))
        return resource != "workbench:pipelines" and original(handler, user, action, resource)

    authorizer.is_authorized = deny_pipelines
    try:
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch(*API, "pipelines")
        assert err.value.code == 403
        r = await jp_fetch(*API, "catalog", params={"namespace": "retail", "q": "revenue"})
        assert r.code == 200
    finally:
        authorizer.is_authorized = original
    assert ("read", "workbench:pipelines") in seen
    assert ("read", "workbench:query") in seen

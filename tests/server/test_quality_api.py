"""The data-quality REST API: validate a suite through the server (which owns the warehouse),
read its runs and the app's overview; log-in, authorization, errors as 400 with a message."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

API = ("workbench", "api")
NO_LOGIN = {"Authorization": "token not-the-token"}


async def fetch_json(jp_fetch, *parts, **kw):
    r = await jp_fetch(*API, *parts, **kw)
    return r.code, json.loads(r.body)


async def expect_400(jp_fetch, *parts, **kw) -> str:
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(*API, *parts, **kw)
    assert err.value.code == 400
    text = err.value.response.body.decode()
    assert "Traceback" not in text
    return json.loads(text)["message"]


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", ("quality",)),
        ("POST", ("quality", "orders", "validate")),
        ("GET", ("quality", "orders", "runs")),
        ("GET", ("quality", "scores")),
    ],
)
async def test_every_quality_endpoint_refuses_a_caller_who_is_not_logged_in(jp_fetch, method, path):
    with pytest.raises(HTTPClientError) as err:
        await jp_fetch(
            *API, *path, method=method, body="{}" if method == "POST" else None, headers=NO_LOGIN
        )
    assert err.value.code in (401, 403)


async def test_validate_through_the_server_then_read_runs_and_scores(jp_fetch, jp_serverapp):
    code, before = await fetch_json(jp_fetch, "quality")
    assert code == 200 and {"suite": "orders", "latest": None} in before["suites"]

    code, run = await fetch_json(
        jp_fetch,
        "quality",
        "orders",
        "validate",
        method="POST",
        body=json.dumps({"engine": "duckdb"}),
    )
    assert code == 200
    assert run["suite"] == "orders" and run["engine"] == "duckdb" and run["rows"] > 1000
    assert len(run["results"]) == 12
    # The demo data ends on 2025-01-01, so the 3-day freshness check fails today; the rest pass.
    assert run["failed_checks"] == ["orders_recent"] and run["passed"] is False
    assert run["score"]["overall"] == pytest.approx(90.0)

    # It ran on the host's own read-write connection (the run is there, committed) and the
    # server's queries keep working meanwhile.
    ext = jp_serverapp.extension_manager.extension_points["workbench"].app
    cur = ext.host.workbench().engine.cursor()
    try:
        assert cur.execute("SELECT run_id FROM quality_runs").fetchall() == [(run["run_id"],)]
        held = cur.execute(
            "SELECT count(*) FROM quality_quarantine WHERE run_id = ?", [run["run_id"]]
        ).fetchone()[0]
    finally:
        cur.close()
    r = await jp_fetch(
        *API,
        "query",
        method="POST",
        body=json.dumps({"namespace": "retail", "metrics": ["orders"]}),
    )
    assert r.code == 200

    code, runs = await fetch_json(jp_fetch, "quality", "orders", "runs", params={"limit": "5"})
    assert [x["run_id"] for x in runs["runs"]] == [run["run_id"]]
    assert runs["runs"][0]["score"] == pytest.approx(90.0) and runs["runs"][0]["passed"] is False

    code, overview = await fetch_json(jp_fetch, "quality", "scores")
    assert [c["suite"] for c in overview["current"]] == ["orders"]
    assert [f["check"] for f in overview["failing"]] == ["orders_recent"]
    # Quarantined rows are served too (the app's panel reads them from here), as stored.
    assert len(overview["quarantine"]) == held
    assert all(
        q["source"] == "validate" and q["run_id"] == run["run_id"] for q in overview["quarantine"]
    )
    sla = {s["sla"]: s["status"] for s in overview["sla"]}
    assert sla == {
        "quality score": "breached",
        "freshness orders_recent": "breached",
        "validated within": "met",
    }

    code, after = await fetch_json(jp_fetch, "quality")
    latest = next(s["latest"] for s in after["suites"] if s["suite"] == "orders")
    assert latest["run_id"] == run["run_id"]


@pytest.mark.parametrize(
    "path,body,words",
    [
        (("quality", "nope", "validate"), "{}", ["nope", "orders", "tpch_lineitem"]),
        (("quality", "bad name!", "validate"), "{}", ["not a suite name"]),
        (("quality", "orders", "validate"), json.dumps({"engine": "oracle"}), ["oracle", "duckdb"]),
        (("quality", "orders", "validate"), json.dumps({"bogus": 1}), ["bogus"]),
        (("quality", "orders", "validate"), json.dumps({"data_docs": "yes"}), ["data_docs"]),
        (("quality", "orders", "validate"), "{not json", ["JSON"]),
    ],
)
async def test_bad_validation_requests_are_400_with_a_message(jp_fetch, path, body, words):
    msg = await expect_400(jp_fetch, *path, method="POST", body=body)
    for w in words:
        assert w in msg


async def test_bad_runs_requests_are_400(jp_fetch):
    assert "limit" in await expect_400(
        jp_fetch, "quality", "orders", "runs", params={"limit": "ten"}
    )
    assert "nope" in await expect_400(jp_fetch, "quality", "nope", "runs")
    code, runs = await fetch_json(jp_fetch, "quality", "orders", "runs")
    assert code == 200 and runs == {"suite": "orders", "runs": []}


async def test_authorizer_is_consulted_on_workbench_quality(jp_fetch, jp_serverapp):
    seen = []
    authorizer = jp_serverapp.web_app.settings["authorizer"]
    original = authorizer.is_authorized

    def read_only_quality(handler, user, action, resource):
        seen.append((action, resource))
        return not (resource == "workbench:quality" and action == "write")

    authorizer.is_authorized = read_only_quality
    try:
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch(*API, "quality", "orders", "validate", method="POST", body="{}")
        assert err.value.code == 403
        r = await jp_fetch(*API, "quality", "orders", "runs")
        assert r.code == 200
    finally:
        authorizer.is_authorized = original
    assert ("write", "workbench:quality") in seen and ("read", "workbench:quality") in seen

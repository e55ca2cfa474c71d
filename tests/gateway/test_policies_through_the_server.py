"""A logged-in person's queries run as their own principal (roles and attributes of their account),
in the real server extension; the Authorizer decides per role."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from .test_login import ACCESS, cookie_header, login, status

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory):
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("policies-wh") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    return path


@pytest.fixture
def jp_server_config(project, small_warehouse, tmp_path):
    from traitlets.config import Config

    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(small_warehouse, wh)
    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"workbench.server": True},
                "identity_provider_class": "workbench.server.login.WorkbenchIdentityProvider",
                "authorizer_class": "workbench.server.policy_authorizer.WorkbenchAuthorizer",
            },
            "WorkbenchIdentityProvider": {"project_root": str(project)},
            "WorkbenchApp": {"warehouse": str(wh), "project_root": str(REPO), "detection": False},
        }
    )


async def query(jp_fetch, jar, **body):
    r = await jp_fetch(
        "workbench",
        "api",
        "query",
        method="POST",
        body=json.dumps(body),
        headers={
            **cookie_header(jar),
            "Content-Type": "application/json",
            "X-XSRFToken": jar.get("_xsrf", ""),
        },
    )
    return json.loads(r.body)


async def test_each_person_sees_their_own_rows(jp_fetch):
    _, _, vera = await login(jp_fetch, "vera")  # viewer, region North
    _, _, anna = await login(jp_fetch, "anna")  # analyst: every region
    _, _, dora = await login(jp_fetch, "dora")  # data scientist: every region
    q = {"namespace": "retail", "metrics": ["revenue"], "dimensions": ["region"]}
    seen = {
        name: await query(jp_fetch, jar, **q)
        for name, jar in (("vera", vera), ("anna", anna), ("dora", dora))
    }
    assert seen["vera"]["principal"] == "vera"
    assert [r["region"] for r in seen["vera"]["records"]] == ["North"]
    assert len(seen["anna"]["records"]) > 1 and seen["anna"]["principal"] == "anna"
    assert sorted(r["region"] for r in seen["dora"]["records"]) == sorted(
        r["region"] for r in seen["anna"]["records"]
    )
    north = {r["region"]: r["revenue"] for r in seen["anna"]["records"]}["North"]
    assert seen["vera"]["records"][0]["revenue"] == pytest.approx(north)


async def test_every_query_and_log_in_is_in_the_audit_trail(jp_fetch, services):
    _, _, vera = await login(jp_fetch, "vera")
    await query(jp_fetch, vera, namespace="retail", metrics=["revenue"], dimensions=["region"])
    log = services.audit_log
    log.flush()
    mine = [e.data for e in log.entries(user="vera")]
    actions = [e["action"] for e in mine]
    assert "login.success" in actions and "token.issue" in actions
    q = [e for e in mine if e["action"] == "semantic.query"]
    assert q and q[-1]["resource"] == "retail" and q[-1]["details"]["rows"] == 1
    assert log.verify().ok


async def test_a_viewer_reads_but_cannot_run_pipelines(jp_fetch):
    _, _, vera = await login(jp_fetch, "vera")
    assert (
        await status(jp_fetch, "workbench", "api", "pipelines", headers=cookie_header(vera)) == 200
    )
    try:
        await jp_fetch(
            "workbench",
            "api",
            "pipelines",
            "demo_orders",
            "start",
            method="POST",
            body="{}",
            headers={**cookie_header(vera), "X-XSRFToken": vera.get("_xsrf", "")},
        )
        code = 200
    except HTTPClientError as e:
        code = e.code
    assert code == 403
    assert ACCESS in vera


async def test_an_admin_starts_and_stops_a_pipeline_and_both_are_in_the_audit_trail(
    jp_fetch, services
):
    _, _, adam = await login(jp_fetch, "adam")
    h = {**cookie_header(adam), "X-XSRFToken": adam.get("_xsrf", "")}
    for action in ("start", "stop"):
        await jp_fetch(
            "workbench",
            "api",
            "pipelines",
            "demo_orders",
            action,
            method="POST",
            body="{}",
            headers=h,
        )
    try:
        await jp_fetch(
            "workbench",
            "api",
            "pipelines",
            "no_such_pipeline",
            "start",
            method="POST",
            body="{}",
            headers=h,
        )
        raise AssertionError("an unknown pipeline started")
    except HTTPClientError as e:
        assert e.code == 404
    log = services.audit_log
    log.flush()
    mine = [e.data for e in log.entries(user="adam") if e.data["action"].startswith("pipeline.")]
    assert [(e["action"], e["resource"], e["outcome"]) for e in mine] == [
        ("pipeline.start", "demo_orders", "success"),
        ("pipeline.stop", "demo_orders", "success"),
        ("pipeline.start", "no_such_pipeline", "failure"),
    ], mine
    assert log.verify().ok


def seed(jp_serverapp, slice_by: str, value: str, minutes_apart: int) -> int:
    import datetime as dt

    from workbench.anomaly.jobs import Anomaly

    ext = jp_serverapp.extension_manager.extension_points["workbench"].app
    a = Anomaly(
        rule=f"r_{slice_by}",
        namespace="retail",
        metric="orders",
        grain="hour",
        slice_by=slice_by,
        slice_value=value,
        ts=dt.datetime(2024, 6, 1, 10) + dt.timedelta(hours=minutes_apart),
        value=0.0,
        expected=20.0,
        score=0.9,
        severity="critical",
        direction="down",
        group=f"g_{slice_by}",
    )
    return ext.detection_loop.store().add(a, 15).incident_id


async def test_incidents_follow_the_readers_row_policies(jp_fetch, jp_serverapp):
    north = seed(jp_serverapp, "region", "North", 0)
    online = seed(jp_serverapp, "channel", "online", 48)  # sums every region
    _, _, vera = await login(jp_fetch, "vera")  # viewer, North
    _, _, anna = await login(jp_fetch, "anna")  # analyst

    async def listed(jar):
        r = await jp_fetch("workbench", "api", "incidents", headers=cookie_header(jar))
        return sorted(i["id"] for i in json.loads(r.body)["incidents"])

    # (the store may hold other incidents: only these two are the test's)
    assert {north, online} <= set(await listed(anna))
    seen = set(await listed(vera))
    assert north in seen and online not in seen
    assert (
        await status(
            jp_fetch, "workbench", "api", "incidents", str(online), headers=cookie_header(vera)
        )
        == 404
    )
    assert (
        await status(
            jp_fetch, "workbench", "api", "incidents", str(north), headers=cookie_header(vera)
        )
        == 200
    )


async def test_acknowledging_an_incident_is_in_the_audit_trail(jp_fetch, jp_serverapp, services):
    import datetime as dt
    import uuid

    from workbench.anomaly.jobs import Anomaly

    # an incident of its own (a fresh rule and group): the store outlives one test
    tag = uuid.uuid4().hex[:8]
    ext = jp_serverapp.extension_manager.extension_points["workbench"].app
    north = (
        ext.detection_loop.store()
        .add(
            Anomaly(
                rule=f"r_ack_{tag}",
                namespace="retail",
                metric="orders",
                grain="hour",
                slice_by="region",
                slice_value="North",
                ts=dt.datetime(2024, 6, 9, 10),
                value=0.0,
                expected=20.0,
                score=0.9,
                severity="critical",
                direction="down",
                group=f"g_ack_{tag}",
            ),
            15,
        )
        .incident_id
    )
    _, _, anna = await login(jp_fetch, "anna")  # analyst: may acknowledge
    await jp_fetch(
        "workbench",
        "api",
        "incidents",
        str(north),
        "acknowledge",
        method="POST",
        body=json.dumps({"note": "looking"}),
        headers={**cookie_header(anna), "X-XSRFToken": anna.get("_xsrf", "")},
    )
    log = services.audit_log
    log.flush()
    acks = [e.data for e in log.entries(user="anna") if e.data["action"] == "incident.acknowledge"]
    assert (
        acks and acks[-1]["resource"] == f"incident:{north}" and acks[-1]["outcome"] == "success"
    ), acks
    assert log.verify().ok

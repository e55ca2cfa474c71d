"""The quality approval queue through the real server extension, with the workbench identity
provider and authorizer: the queue as data, decisions as the person's principal (the library's
role checks after the policy's), errors with messages, every decision in the audit trail; and the
quality app's own functions listing and deciding through the server while it holds the file."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from tornado.httpclient import HTTPClientError

from .test_login import cookie_header, login

REPO = Path(__file__).resolve().parents[2]
RULES = "table: places\nkey: [id]\nrules:\n  - {name: trim_city, action: trim, columns: [city]}\n"


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory):
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("approvals-wh") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    return path


@pytest.fixture
def warehouse(small_warehouse, tmp_path):
    """A copy with, made by the library: schema change proposal #1 (a column added to `places`)
    and cleansing rule trim_city v1 proposed."""
    from workbench.quality.cleansing import approval
    from workbench.quality.cleansing.rules import load_rules
    from workbench.quality.schema.gate import check
    from workbench.quality.schema.registry import SchemaRegistry, schema_of_table
    from workbench.security.principal import Principal

    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(small_warehouse, wh)
    con = duckdb.connect(str(wh))
    try:
        con.execute("CREATE TABLE places (id INTEGER, city VARCHAR)")
        con.execute("INSERT INTO places VALUES (1, ' paris'), (2, 'Rome')")
        reg = SchemaRegistry(tmp_path / "schemas")
        reg.register_table(con, "places", key=["id"])
        con.execute("CREATE TABLE batch AS SELECT *, 'x' AS extra FROM places")
        assert check(reg, "places", schema_of_table(con, "batch"), con=con).proposal_id == 1
        rules = tmp_path / "places.yml"
        rules.write_text(RULES)
        approval.propose(con, load_rules(rules), Principal.of("anna", ["analyst"]))
    finally:
        con.close()
    return wh


@pytest.fixture
def jp_server_config(project, warehouse):
    from traitlets.config import Config

    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"workbench.server": True},
                "identity_provider_class": "workbench.server.login.WorkbenchIdentityProvider",
                "authorizer_class": "workbench.server.policy_authorizer.WorkbenchAuthorizer",
            },
            "WorkbenchIdentityProvider": {"project_root": str(project)},
            "WorkbenchApp": {
                "warehouse": str(warehouse),
                "project_root": str(REPO),
                "detection": False,
            },
        }
    )


def as_person(jar: dict[str, str]) -> dict[str, str]:
    return {**cookie_header(jar), "X-XSRFToken": jar.get("_xsrf", "")}


async def call(jp_fetch, headers, *path, method="GET"):
    """(status, JSON body) of workbench/api/quality/<path>."""
    try:
        r = await jp_fetch(
            "workbench",
            "api",
            "quality",
            *path,
            method=method,
            body="{}" if method == "POST" else None,
            headers=headers,
        )
    except HTTPClientError as e:
        return e.code, json.loads(e.response.body) if e.response is not None else {}
    return r.code, json.loads(r.body)


def approvals_in_trail(services) -> list[dict]:
    services.audit_log.flush()
    return [
        {**e.data, "user": e.data["actor"]["user"]}
        for e in services.audit_log.entries(action="approval")
    ]


async def test_the_queue_is_data_and_an_admin_decides_through_the_server(jp_fetch, services):
    _, _, adam = await login(jp_fetch, "adam")
    code, body = await call(jp_fetch, as_person(adam), "approvals")
    assert code == 200, body
    schema, rule = body["items"]
    assert schema["kind"] == "schema" and schema["id"] == 1 and schema["table"] == "places"
    assert schema["status"] == "proposed" and schema["compatibility"] == "backward"
    assert [(c["kind"], c["column"]) for c in schema["changes"]] == [("added", "extra")]
    assert schema["migration"] == ['ALTER TABLE "places" ADD COLUMN "extra" TEXT']
    assert schema["decisions"] == ["approve", "reject"]
    assert (rule["kind"], rule["table"], rule["name"], rule["version"]) == (
        "rule",
        "places",
        "trim_city",
        1,
    )
    assert (
        rule["status"] == "proposed" and rule["proposed_by"] == "anna" and rule["action"] == "trim"
    )
    assert rule["spec"]["columns"] == ["city"]

    code, row = await call(
        jp_fetch, as_person(adam), "approvals", "schema", "1", "approve", method="POST"
    )
    assert code == 200, row
    assert (
        row["status"] == "approved"
        and row["decided_by"] == "adam"
        and row["decisions"] == ["reject"]
    )
    rule_path = ("approvals", "rule", "places", "trim_city", "1")
    code, row = await call(jp_fetch, as_person(adam), *rule_path, "approve", method="POST")
    assert code == 200 and row["status"] == "approved" and row["approved_by"] == "adam"
    code, row = await call(jp_fetch, as_person(adam), *rule_path, "activate", method="POST")
    assert code == 200 and row["status"] == "active" and row["activated_by"] == "adam"

    # the queue now: the approved proposal (awaiting its migration), no rule
    code, body = await call(jp_fetch, as_person(adam), "approvals")
    assert [(i["kind"], i["status"]) for i in body["items"]] == [("schema", "approved")]
    # a state the workflow does not allow is a 409 with its message
    code, body = await call(jp_fetch, as_person(adam), *rule_path, "activate", method="POST")
    assert code == 409 and "it is active" in body["message"]

    trail = approvals_in_trail(services)
    assert [(e["resource"], e["details"]["decision"], e["outcome"]) for e in trail] == [
        ("schema_change:1", "approve", "success"),
        ("cleansing_rule:places.trim_city.v1", "approve", "success"),
        ("cleansing_rule:places.trim_city.v1", "activate", "success"),
        ("cleansing_rule:places.trim_city.v1", "activate", "failure"),
    ]
    assert {e["user"] for e in trail} == {"adam"} and trail[0]["details"]["principal"] == "adam"

    # written on the server's own connection: its warehouse has the decisions
    code, row = await call(
        jp_fetch, as_person(adam), "approvals", "schema", "1", "reject", method="POST"
    )
    assert code == 200 and row["status"] == "rejected"


@pytest.mark.parametrize("name", ["vera", "anna", "dora"])
async def test_other_roles_see_the_queue_but_may_not_decide(jp_fetch, services, name):
    _, _, jar = await login(jp_fetch, name)
    code, body = await call(jp_fetch, as_person(jar), "approvals")
    assert code == 200 and len(body["items"]) == 2
    for path in (("schema", "1", "approve"), ("rule", "places", "trim_city", "1", "reject")):
        code, body = await call(jp_fetch, as_person(jar), "approvals", *path, method="POST")
        assert code == 403 and "workbench:approvals" in body["message"], body
    services.audit_log.flush()
    denials = [e.data for e in services.audit_log.entries(user=name, action="authz.deny")]
    assert [d["resource"] for d in denials] == ["workbench:approvals"] * 2
    code, body = await call(jp_fetch, as_person(jar), "approvals")
    assert [i["status"] for i in body["items"]] == ["proposed", "proposed"]  # nothing changed


async def test_the_librarys_role_check_applies_after_the_policy(jp_fetch, jp_serverapp, services):
    """The owner's token passes the policy (owner_roles: admin) but acts as principals.yml's
    default, the analyst, whom the approval workflow refuses: 403 with the library's message."""
    owner = {"Authorization": f"token {jp_serverapp.identity_provider.token}"}
    code, body = await call(jp_fetch, owner, "approvals", "schema", "1", "approve", method="POST")
    assert code == 403, body
    assert body["message"] == (
        "analyst (analyst) may not approve schema changes: it needs one of "
        "the roles admin, data_steward."
    )
    [entry] = approvals_in_trail(services)
    assert entry["resource"] == "schema_change:1" and entry["outcome"] == "denied"
    assert entry["user"] == "owner" and entry["details"]["principal"] == "analyst"


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        (("schema", "7", "approve"), 404, "There is no schema change proposal #7."),
        (("schema", "one", "approve"), 400, "'one' is not a schema change proposal id"),
        (("schema", "1", "activate"), 400, "'activate' is not a decision on a schema change"),
        (
            ("rule", "places", "nope", "1", "approve"),
            404,
            "rule 'nope' version 1 on 'places' was never proposed",
        ),
        (("rule", "places", "trim_city", "v1", "approve"), 400, "'v1' is not a rule version"),
        (
            ("rule", "places", "trim_city", "1", "activate"),
            409,
            "cannot activate rule 'trim_city' v1: it is proposed",
        ),
        (
            ("rule", "places", "trim_city", "1", "retire"),
            400,
            "'retire' is not a decision on a cleansing rule",
        ),
        (
            ("rule", "places", "trim_city", "1", "delete"),
            400,
            "'delete' is not a decision on a cleansing rule",
        ),
        (("rule", "pl;aces", "trim_city", "1", "approve"), 400, "is not a table name"),
    ],
)
async def test_bad_ids_and_decisions_are_refused_with_a_message(
    jp_fetch, services, path, status, words
):
    _, _, adam = await login(jp_fetch, "adam")
    code, body = await call(jp_fetch, as_person(adam), "approvals", *path, method="POST")
    assert code == status, body
    assert words in body["message"] and "Traceback" not in json.dumps(body)
    if status != 400 or path[-1] in ("activate", "delete", "retire"):  # past the ids: audited
        [entry] = approvals_in_trail(services)
        assert entry["outcome"] == "failure" and entry["user"] == "adam"


async def test_nobody_logged_in_gets_nothing(jp_fetch):
    assert (await call(jp_fetch, {}, "approvals"))[0] == 403
    assert (await call(jp_fetch, {}, "approvals", "schema", "1", "approve", method="POST"))[
        0
    ] == 403
    assert (await call(jp_fetch, {}, "lineage"))[0] == 403


def lock_refused(path: Path) -> str:
    """What DuckDB says to another process opening the file read-only."""
    out = subprocess.run(
        [sys.executable, "-c", f"import duckdb; duckdb.connect({str(path)!r}, read_only=True)"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return out.stderr


async def test_the_apps_functions_list_and_decide_through_the_server_while_it_holds_the_file(
    jp_fetch, jp_serverapp, warehouse, services, tmp_path
):
    from workbench.client import RemoteWorkbench, RuntimeInfo
    from workbench.security.principal import Principal
    from workbench.ui.quality.approvals import decide, pending_items
    from workbench.ui.quality.overview import lineage_section
    from workbench.ui.quality.remote import QualityServer
    from workbench.ui.quality.store import QualityStore, ServerOwnsTheWarehouse

    _, _, adam = await login(jp_fetch, "adam")
    r = await jp_fetch(
        "workbench",
        "api",
        "query",
        method="POST",
        headers=as_person(adam),
        body=json.dumps({"namespace": "retail", "metrics": ["revenue"]}),
    )
    assert r.code == 200  # the host has the warehouse open now
    assert "lock" in (await asyncio.to_thread(lock_refused, warehouse)).lower()

    info = RuntimeInfo(
        url=jp_serverapp.connection_url, token="unused", pid=os.getpid(), warehouse=str(warehouse)
    )
    session = RemoteWorkbench(info, credentials=as_person(adam))  # as the app forwards them
    store = QualityStore(
        warehouse,
        tmp_path / "schemas",
        tmp_path,
        Principal.of("adam", ["admin"]),
        QualityServer(session),
    )
    with pytest.raises(ServerOwnsTheWarehouse):  # the app never opens the file
        with store.connect():
            pass

    # blocking client calls, so off the loop the in-process server answers on
    items = await asyncio.to_thread(pending_items, store)
    assert [i["label"] for i in items] == [
        "Schema #1 places: 1 change(s), backward [proposed]",
        "Rule trim_city v1 on places [proposed]",
    ]
    assert 'ALTER TABLE "places" ADD COLUMN "extra" TEXT' in items[0]["detail"]
    done = await asyncio.to_thread(decide, store, items[0]["key"], True, items[0]["status"])
    assert done == "Schema change #1 approved by adam."
    done = await asyncio.to_thread(decide, store, items[1]["key"], True, items[1]["status"])
    assert done == "Rule trim_city v1 is now approved."
    items = await asyncio.to_thread(pending_items, store)
    assert [i["label"] for i in items] == [
        "Schema #1 places: 1 change(s), backward [approved]",
        "Rule trim_city v1 on places [approved]",
    ]
    done = await asyncio.to_thread(decide, store, items[1]["key"], True, items[1]["status"])
    assert done == "Rule trim_city v1 is now active."
    col = await asyncio.to_thread(lineage_section, store)
    assert "No cleansing run yet" in col[1].object

    trail = approvals_in_trail(services)
    assert [(e["user"], e["details"]["decision"], e["outcome"]) for e in trail] == [
        ("adam", "approve", "success"),
        ("adam", "approve", "success"),
        ("adam", "activate", "success"),
    ]
    assert "lock" in (await asyncio.to_thread(lock_refused, warehouse)).lower()  # still the host's

    # a session the gateway gave no identity: a message, nothing read
    nobody = QualityStore(
        warehouse, tmp_path, tmp_path, None, QualityServer(None, "Log in to see this app.")
    )
    with pytest.raises(Exception, match="Log in to see this app"):
        await asyncio.to_thread(pending_items, nobody)


async def test_the_app_alone_beside_a_running_server_asks_it_as_the_owner(
    jp_fetch, jp_serverapp, warehouse, tmp_path
):
    """`panel serve apps/quality.py` by the owner while the server runs: the runtime file sends
    the app to the server with the owner's token; the owner acts as the default principal
    (analyst), so listing works and approving is the library's refusal, shown as a message."""
    from workbench.client import RuntimeInfo, write_runtime
    from workbench.ui.quality.approvals import ApprovalQueue
    from workbench.ui.quality.store import QualityStore, server_for

    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:  # the runtime file as a server in another process writes it
        write_runtime(
            RuntimeInfo(
                url=jp_serverapp.connection_url,
                token=jp_serverapp.identity_provider.token,
                pid=other.pid,
                warehouse=str(warehouse),
            )
        )
        server = server_for(warehouse, behind_gateway=False, identity=None)
        assert server is not None and server.session is not None
        store = QualityStore(warehouse, tmp_path, tmp_path, None, server)
        queue = await asyncio.to_thread(ApprovalQueue, store)
        assert len(queue.select.options) == 2 and not queue.error.visible

        def click():
            queue.approve_button.clicks += 1

        await asyncio.to_thread(click)
        assert (
            queue.error.visible
            and "analyst (analyst) may not approve schema changes" in queue.error.object
        )
        assert "Traceback" not in queue.error.object and len(queue.select.options) == 2
    finally:
        other.kill()
        other.wait()
    assert server_for(warehouse, behind_gateway=False, identity=None) is None  # gone: the file

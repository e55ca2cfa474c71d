"""GET /workbench/api/audit in the real server extension, with the workbench identity provider and
authorizer: an admin searches the entries this test caused (log-ins, a wrong password, queries);
every other role is refused (403) and the refusal is itself in the trail; bad parameters are a
400 naming the parameter."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from .test_login import cookie_header, login

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory):
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("audit-wh") / "warehouse.duckdb"
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


async def audit(jp_fetch, jar, **params):
    """(status, JSON body) of GET workbench/api/audit as the person logged in with `jar`."""
    try:
        r = await jp_fetch("workbench", "api", "audit", params=params, headers=cookie_header(jar))
    except HTTPClientError as e:
        return e.code, json.loads(e.response.body) if e.response is not None else {}
    return r.code, json.loads(r.body)


async def test_an_admin_finds_what_happened_by_user_action_time_and_text(jp_fetch):
    await login(jp_fetch, "vera", "not-veras-password")  # a failure, then a success
    _, _, vera = await login(jp_fetch, "vera")
    await login(jp_fetch, "anna")
    r = await jp_fetch(
        "workbench",
        "api",
        "query",
        method="POST",
        body=json.dumps({"namespace": "retail", "metrics": ["revenue"], "dimensions": ["region"]}),
        headers={
            **cookie_header(vera),
            "Content-Type": "application/json",
            "X-XSRFToken": vera.get("_xsrf", ""),
        },
    )
    assert r.code == 200
    _, _, adam = await login(jp_fetch, "adam")

    code, body = await audit(jp_fetch, adam, user="vera", limit="100")
    assert code == 200, body
    actions = [e["action"] for e in body["entries"]]
    assert {"login.failure", "login.success", "token.issue", "semantic.query"} <= set(actions)
    assert {e["user"] for e in body["entries"]} == {"vera"}
    assert body["total"] == len(body["entries"])
    seqs = [e["seq"] for e in body["entries"]]
    assert seqs == sorted(seqs, reverse=True)  # newest first
    assert actions.index("semantic.query") < actions.index("login.failure")
    query = next(e for e in body["entries"] if e["action"] == "semantic.query")
    assert query["resource"] == "retail" and query["details"]["rows"] == 1
    assert body["chain"]["ok"] is True and body["chain"]["broken_at"] is None

    code, body = await audit(jp_fetch, adam, user="vera", action="login.")
    assert code == 200 and {e["action"] for e in body["entries"]} == {
        "login.success",
        "login.failure",
    }
    failed = [e for e in body["entries"] if e["outcome"] == "failure"]
    assert len(failed) == 1 and failed[0]["action"] == "login.failure"

    code, body = await audit(jp_fetch, adam, action="login.success")
    assert code == 200 and {e["user"] for e in body["entries"]} == {"vera", "anna", "adam"}

    code, body = await audit(jp_fetch, adam, action="login.", since="2999-01-01")
    assert code == 200 and body["total"] == 0 and body["entries"] == []
    code, body = await audit(jp_fetch, adam, action="login.", since="1h", until="2999-01-01")
    assert code == 200 and body["total"] >= 4

    code, body = await audit(jp_fetch, adam, text="BAD_PASSWORD")  # the failure's reason
    assert code == 200 and [e["action"] for e in body["entries"]] == ["login.failure"]

    code, page1 = await audit(jp_fetch, adam, action="login.", limit="2", verify="false")
    code, page2 = await audit(jp_fetch, adam, action="login.", limit="2", offset="2")
    assert "chain" not in page1 and page1["total"] == page2["total"] >= 4
    assert [e["seq"] for e in page1["entries"]][-1] > [e["seq"] for e in page2["entries"]][0]

    hours = (await audit(jp_fetch, adam, user="vera"))[1]["hourly"]
    assert {h["action"] for h in hours} >= {"login", "token", "semantic"}

    # the admin's own reads are in the trail too
    code, body = await audit(jp_fetch, adam, action="audit.read", user="adam")
    assert code == 200 and body["total"] == 9  # the nine searches above
    newest = body["entries"][0]
    assert newest["resource"] == "audit" and newest["details"]["filters"] == {"user": "vera"}


@pytest.mark.parametrize("name", ["vera", "anna", "dora"])
async def test_every_other_role_is_refused_and_the_refusal_is_audited(jp_fetch, services, name):
    _, _, jar = await login(jp_fetch, name)
    code, body = await audit(jp_fetch, jar, user="adam")
    assert code == 403
    assert "entries" not in body and "workbench:audit" in body.get("message", "")
    log = services.audit_log
    log.flush()
    denials = [e.data for e in log.entries(user=name, action="authz.deny")]
    assert denials and denials[-1]["resource"] == "workbench:audit"
    assert denials[-1]["outcome"] == "denied" and denials[-1]["details"]["path"].endswith(
        "/workbench/api/audit"
    )


async def test_nobody_logged_in_gets_nothing(jp_fetch):
    code, body = await audit(jp_fetch, {})
    assert code == 403 and "entries" not in body


@pytest.mark.parametrize(
    ("params", "parameter", "words"),
    [
        ({"limit": "lots"}, "limit", "whole number"),
        ({"limit": "0"}, "limit", "from 1 to 500"),
        ({"offset": "-3"}, "offset", "from 0"),
        ({"since": "yesterday"}, "since", "ISO date or time"),
        ({"until": "2026-02-30"}, "until", "ISO date or time"),
        ({"since": "2026-12-02", "until": "2026-12-01T00:00"}, "until", "later than since"),
        ({"action": "login'; DROP TABLE audit_entries;--"}, "action", "dotted lower-case"),
        ({"verify": "perhaps"}, "verify", "true or false"),
        ({"who": "vera"}, "who", "unknown parameter"),
    ],
)
async def test_bad_parameters_are_a_400_naming_them(jp_fetch, params, parameter, words):
    _, _, adam = await login(jp_fetch, "adam")
    code, body = await audit(jp_fetch, adam, **params)
    assert code == 400, body
    assert body["parameter"] == parameter and words in body["message"]
    assert parameter in body["message"] and "Traceback" not in json.dumps(body)

"""Resource-server mode in the running server: a second Workbench server on another port plays
the external identity provider (its own project, key ring and issuer name; its JWKS at
``/.well-known/jwks.json``), and the workbench under test accepts that issuer's RS256 tokens,
with the roles and attributes they carry, through ``auth.external_idp`` in workbench.yml.

The library's edge cases (random kids and the refetch cooldown, rotation, redirects, outages)
are in tests/security/test_oidc.py; this is the wiring, end to end over HTTP.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from tests.support.workbench_server import start_server

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow
SECOND = "second-workbench"


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory):
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("ext-idp-wh") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    return path


@pytest.fixture(scope="module")
def second_issuer(tmp_path_factory, small_warehouse):
    """The other Workbench, running: (its JWKS URL, a function minting its access tokens)."""
    from workbench.config import load_settings
    from workbench.security.keyring import KeyRing
    from workbench.security.tokens import AccessTokens

    root = tmp_path_factory.mktemp("second-issuer")
    wh = root / "warehouse.duckdb"
    shutil.copy(small_warehouse, wh)
    (root / "workbench.yml").write_text(
        f"warehouse: {wh}\nmodels_dir: {REPO / 'semantic'}\nauth:\n  issuer: {SECOND}\n"
    )
    server = start_server(wh, root / "home", lab=False, env={"WORKBENCH_PROJECT_DIR": str(root)})
    try:
        jwks_url = f"{server.url}/.well-known/jwks.json"
        with urllib.request.urlopen(jwks_url, timeout=30) as r:  # noqa: S310  the test's loopback server
            published = json.loads(r.read())
        assert published["keys"], "the second issuer publishes no key"
        settings = load_settings(root)
        ring = KeyRing(settings.path(settings.auth.keys_dir))  # the key files that server serves
        tokens = AccessTokens.from_settings(settings.auth, ring)

        def mint(sub: str, roles: list[str], audience: str = "workbench", **attributes) -> str:
            by = (
                tokens
                if audience == "workbench"
                else AccessTokens(ring, issuer=SECOND, audience=audience)
            )
            return by.issue(sub, roles=roles, attributes=attributes, sid="ext-session")

        yield jwks_url, mint
    finally:
        server.stop()


@pytest.fixture
def jp_server_config(project, small_warehouse, second_issuer, tmp_path):
    from traitlets.config import Config

    jwks_url, _ = second_issuer
    (project / "workbench.yml").write_text(
        "auth:\n  access_token_s: 60\n  external_idp:\n"
        f"    issuer: {SECOND}\n    jwks_url: {jwks_url}\n    audience: workbench\n"
    )
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


async def ask(jp_fetch, token: str) -> dict:
    body = {"namespace": "retail", "metrics": ["revenue"], "dimensions": ["region"]}
    r = await jp_fetch(
        "workbench",
        "api",
        "query",
        method="POST",
        body=json.dumps(body),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    return json.loads(r.body)


async def refused(jp_fetch, token: str) -> int:
    try:
        await ask(jp_fetch, token)
    except HTTPClientError as e:
        return e.code
    return 200


async def test_the_external_issuers_people_query_with_their_own_row_policies(
    jp_fetch, second_issuer, services
):
    _, mint = second_issuer
    erin = await ask(jp_fetch, mint("erin", ["viewer"], region="South"))
    assert erin["principal"] == "erin"
    assert [r["region"] for r in erin["records"]] == ["South"], erin["records"]
    owen = await ask(jp_fetch, mint("owen", ["analyst"]))
    assert owen["principal"] == "owen" and len(owen["records"]) > 1
    south = {r["region"]: r["revenue"] for r in owen["records"]}["South"]
    assert erin["records"][0]["revenue"] == pytest.approx(south)
    # roles the workbench does not know are dropped, so they grant nothing
    assert await refused(jp_fetch, mint("mallory", ["superuser"], region="South")) == 403


async def test_tokens_the_issuer_did_not_sign_or_not_for_us_are_refused(
    jp_fetch, second_issuer, services, tmp_path
):
    from workbench.security.keyring import KeyRing
    from workbench.security.tokens import AccessTokens

    # the same issuer name, signed by a key that issuer never published
    impostor = AccessTokens(
        KeyRing(tmp_path / "impostor-keys"), issuer=SECOND, audience="workbench"
    )
    assert (
        await refused(jp_fetch, impostor.issue("erin", roles=["admin"], attributes={}, sid="x"))
        == 403
    )
    # signed by the issuer, but for another audience
    _, mint = second_issuer
    assert await refused(jp_fetch, mint("erin", ["admin"], audience="not-workbench")) == 403
    services.audit_log.flush()
    rejects = [
        e.data for e in services.audit_log.entries() if e.data.get("action") == "token.reject"
    ]
    assert any("external" in json.dumps(e) for e in rejects), rejects

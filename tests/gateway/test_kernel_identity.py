"""A kernel the server starts for a logged-in person asks the server as that person.

Real parts: the server extension in pytest-jupyter's ServerApp with workbench's identity
provider, authorizer and kernel manager; real ipykernel processes started through
``POST /api/kernels``; the kernel's own ``workbench.connect()`` finds the server through the
runtime file and queries over HTTP.  Revocation (log-out) is seen by the kernel's next query.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tornado.httpclient import HTTPClientError

from .conftest import PASSWORDS
from .test_login import cookie_header, login

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

PROBE = """
import workbench, json
wb = workbench.connect(warehouse={wh!r}, gateway=True)
try:
    rows = wb.query('retail', ['orders']).df
    print(json.dumps({{"kind": type(wb).__name__, "user": wb.user, "orders": int(rows['orders'].iloc[0])}}))
except Exception as e:
    print(json.dumps({{"error": type(e).__name__, "message": str(e)}}))
"""


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory):
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("kernel-id-wh") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    return path


@pytest.fixture
def warehouse(small_warehouse, tmp_path):
    wh = tmp_path / "warehouse.duckdb"
    shutil.copy(small_warehouse, wh)
    return wh


@pytest.fixture
def sweep_s() -> float:
    """The kernel manager's revocation check; off by default here, so a test can watch the
    kernel's own query being refused (with it on, the kernel may be gone first)."""
    return 0


@pytest.fixture
def jp_server_config(project, warehouse, sweep_s):
    from traitlets.config import Config

    return Config(
        {
            "ServerApp": {
                "jpserver_extensions": {"workbench.server": True},
                "identity_provider_class": "workbench.server.login.WorkbenchIdentityProvider",
                "authorizer_class": "workbench.server.policy_authorizer.WorkbenchAuthorizer",
                "kernel_manager_class": "workbench.server.kernel_identity.WorkbenchKernelManager",
            },
            "WorkbenchIdentityProvider": {"project_root": str(project)},
            "WorkbenchKernelManager": {"revocation_check_s": sweep_s},
            "WorkbenchApp": {
                "warehouse": str(warehouse),
                "project_root": str(REPO),
                "detection": False,
            },
        }
    )


async def publish(jp_serverapp) -> None:
    """What a real start does and pytest-jupyter's ServerApp skips: the extensions' start hook,
    which writes the runtime file the kernels find the server by."""
    for ext in jp_serverapp.extension_manager.extension_apps.get("workbench.server", ()):
        await ext._start_jupyter_server_extension(jp_serverapp)


async def start_kernel(jp_fetch, headers: dict[str, str]) -> str:
    r = await jp_fetch(
        "api", "kernels", method="POST", body=json.dumps({"name": "python3"}), headers=headers
    )
    return json.loads(r.body)["id"]


async def run(jp_serverapp, kernel_id: str, code: str) -> dict:
    """Run ``code`` in the kernel (over its ZMQ channels, as JupyterLab's websocket would) and
    return the JSON it printed."""
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    client = km.client()
    client.start_channels()
    out: list[str] = []
    try:
        await client.wait_for_ready(timeout=120)

        def hook(msg):
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                out.append(
                    json.dumps(
                        {"error": msg["content"]["ename"], "message": msg["content"]["evalue"]}
                    )
                )

        await client.execute_interactive(code, output_hook=hook, timeout=180)
    finally:
        client.stop_channels()
    lines = [line for line in "".join(out).splitlines() if line.startswith("{")]
    assert lines, f"the kernel printed nothing parseable: {out!r}"
    return json.loads(lines[-1])


def with_xsrf(jar: dict[str, str]) -> dict[str, str]:
    return {
        **cookie_header(jar),
        "X-XSRFToken": jar.get("_xsrf", ""),
        "Content-Type": "application/json",
    }


async def test_a_persons_kernel_queries_as_that_person_until_they_log_out(
    jp_fetch, jp_serverapp, warehouse, services
):
    await publish(jp_serverapp)
    _, _, anna = await login(jp_fetch, "anna")
    kernel = await start_kernel(jp_fetch, with_xsrf(anna))
    grants = jp_serverapp.kernel_manager.grants
    assert len(grants) == 1
    seen = await run(jp_serverapp, kernel, PROBE.format(wh=str(warehouse)))
    assert seen.get("kind") == "RemoteWorkbench", seen
    assert seen["user"] == "anna", (
        f"the kernel asked as {seen['user']!r}, not as the person who started it"
    )
    assert seen["orders"] > 0
    services.audit_log.flush()
    mine = [e.data for e in services.audit_log.entries(user="anna")]
    assert any(e["action"] == "kernel.grant" for e in mine)
    assert any(e["action"] == "semantic.query" for e in mine), (
        "the kernel's query is not audited as anna's"
    )

    # log-out revokes the session: the kernel's very next query is refused, and says so
    try:
        await jp_fetch("logout", headers=cookie_header(anna), follow_redirects=False)
    except HTTPClientError as e:
        assert e.code in (302, 303), e
    after = await run(jp_serverapp, kernel, PROBE.format(wh=str(warehouse)))
    assert after.get("error") == "ServerError", after
    assert "40" in after["message"], after  # refused (401/403), not answered as someone else
    services.audit_log.flush()
    rejects = [
        e.data
        for e in services.audit_log.entries(user="anna")
        if e.data["action"] == "token.reject"
    ]
    assert any((e.get("details") or e).get("kind") == "kernel" for e in rejects), rejects

    # a shut-down kernel's grant is gone
    await jp_fetch(
        "api",
        "kernels",
        kernel,
        method="DELETE",
        headers=with_xsrf((await login(jp_fetch, "anna"))[2]),
    )
    assert len(grants) == 0


async def test_the_owners_kernel_gets_no_grant_and_a_forged_one_is_refused(
    jp_fetch, jp_serverapp, warehouse
):
    await publish(jp_serverapp)
    from workbench.server.kernel_identity import PREFIX

    token = jp_serverapp.identity_provider.token
    kernel = await start_kernel(
        jp_fetch, {"Authorization": f"token {token}", "Content-Type": "application/json"}
    )
    assert len(jp_serverapp.kernel_manager.grants) == 0
    seen = await run(jp_serverapp, kernel, PROBE.format(wh=str(warehouse)))
    # the owner's kernel asks with the server's token: the owner's principal, never a person's
    assert seen.get("kind") == "RemoteWorkbench" and seen["user"] not in PASSWORDS, seen
    # a credential naming a running kernel with the wrong secret is nobody
    forged = f"{PREFIX}{kernel}.not-the-secret"
    try:
        await jp_fetch("workbench", "api", "catalog", headers={"Authorization": f"Bearer {forged}"})
        raise AssertionError("a forged kernel credential was accepted")
    except HTTPClientError as e:
        assert e.code in (401, 403), e
    await jp_fetch(
        "api", "kernels", kernel, method="DELETE", headers={"Authorization": f"token {token}"}
    )


@pytest.mark.parametrize("sweep_s", [0.3])
async def test_an_admins_revoke_shuts_the_persons_kernels_down_within_seconds(
    jp_fetch, jp_serverapp, services
):
    import asyncio

    await publish(jp_serverapp)
    _, _, anna = await login(jp_fetch, "anna")
    _, _, dora = await login(jp_fetch, "dora")
    hers = await start_kernel(jp_fetch, with_xsrf(anna))
    other = await start_kernel(jp_fetch, with_xsrf(dora))
    km = jp_serverapp.kernel_manager
    assert hers in km and other in km
    services.sessions.revoke_user(
        "anna", actor="adam"
    )  # what `workbench users disable`/an admin does
    for _ in range(50):
        if hers not in km:
            break
        await asyncio.sleep(0.1)
    assert hers not in km, "the revoked person's kernel is still running"
    assert other in km, "another person's kernel was shut down too"
    services.audit_log.flush()
    ended = [
        e.data
        for e in services.audit_log.entries(user="anna")
        if e.data["action"] == "kernel.revoke"
    ]
    assert ended and hers in json.dumps(ended[-1]), ended
    await jp_fetch("api", "kernels", other, method="DELETE", headers=with_xsrf(dora))

"""`workbench up`: token made once and private, warehouse built only when missing, URLs printed."""

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import up

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "workbench.yml").write_text("warehouse: .workbench/warehouse.duckdb\n")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_WAREHOUSE", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_token_is_generated_once_and_private(project):
    token, new = up.ensure_token(project)
    assert new and len(token) >= 32
    path = project / ".workbench" / "jupyter_token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, new_again = up.ensure_token(project)
    assert again == token and not new_again


def test_existing_warehouse_is_not_rebuilt(project, monkeypatch):
    wh = project / ".workbench" / "warehouse.duckdb"
    wh.parent.mkdir()
    wh.write_bytes(b"")
    import workbench.warehouse.seed as seed

    monkeypatch.setattr(seed, "build_demo_warehouse", lambda *a, **k: pytest.fail("rebuilt"))
    assert up.ensure_warehouse(project) == (wh, False)


def test_missing_warehouse_is_built(project, monkeypatch):
    calls = []
    import workbench.warehouse.seed as seed

    monkeypatch.setattr(seed, "build_demo_warehouse", lambda path, **k: calls.append((path, k)))
    path, built = up.ensure_warehouse(project, scale=0.5)
    assert built and calls == [
        (project / ".workbench" / "warehouse.duckdb", {"scale": 0.5, "progress": True})
    ]


def test_dry_run_prints_urls_and_uses_the_workbench_config(project, capsys):
    (project / ".workbench").mkdir()
    (project / ".workbench" / "warehouse.duckdb").write_bytes(b"")
    cmd = up.run_up(port=up.pick_port(18750), dry_run=True)
    out = capsys.readouterr().out
    token = (project / ".workbench" / "jupyter_token").read_text().strip()
    assert f"/lab?token={token}" in out and "/workbench-catalog/" in out and "/login" in out
    # the demo log-ins, one per role, printed once with their passwords
    for name in ("viewer", "analyst", "data_scientist", "admin"):
        assert re.search(rf"^  {name} +\S{{20}}$", out, re.M), name
    up.run_up(port=up.pick_port(18750), dry_run=True)
    again = capsys.readouterr().out
    assert "exist already" in again and not re.search(r"^  viewer +\S{20}$", again, re.M)
    assert cmd[1:3] == ["-m", "jupyterlab"] and "--ServerApp.port_retries=0" in cmd
    env = up.jupyter_env(project)
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(REPO / "jupyter_config")


def test_server_config_reads_the_token_file(project):
    """jupyter_config/ loads: the .py picks up the demo token, the JSON enables the proxy."""
    (project / ".workbench").mkdir()
    (project / ".workbench" / "jupyter_token").write_text("tok123\n")
    code = (
        "from jupyter_server.serverapp import ServerApp;"
        "from jupyter_server.extension.config import ExtensionConfigManager;"
        "from jupyter_core.paths import jupyter_config_path;"
        "app = ServerApp(); app.load_config_file();"
        "import json; c = app.config;"
        "ext = ExtensionConfigManager(read_config_path=jupyter_config_path()).get_jpserver_extensions();"
        "print(json.dumps({'token': c.IdentityProvider.token, 'ip': app.ip, 'ext': ext,"
        " 'manager': c.LabApp.extension_manager, 'idp': c.ServerApp.identity_provider_class,"
        " 'authz': c.ServerApp.authorizer_class}))"
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(REPO / "jupyter_config"),
        "WORKBENCH_PROJECT_DIR": str(project),
    }
    env.pop("JUPYTER_TOKEN", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["token"] == "tok123" and got["ip"] == "127.0.0.1"
    assert got["ext"].get("jupyter_server_proxy") is True
    assert got["ext"].get("workbench.server") is True
    assert got["manager"] == "readonly"
    assert got["idp"] == "workbench.server.login.WorkbenchIdentityProvider"
    assert got["authz"] == "workbench.server.policy_authorizer.WorkbenchAuthorizer"


def test_make_up_starts_the_demo_pipeline_in_the_server(project, monkeypatch, capsys):
    """`make up` hands the workbench server extension its autostart list (the extension's default reads
    WORKBENCH_AUTOSTART) and says so in the banner; an explicit setting wins; a project
    without the demo pipeline starts none."""
    from workbench.server.app import WorkbenchApp

    monkeypatch.delenv("WORKBENCH_AUTOSTART", raising=False)
    assert "WORKBENCH_AUTOSTART" not in up.jupyter_env(project)
    (project / "pipelines").mkdir()
    (project / "pipelines" / "demo_orders.yml").write_text(
        (REPO / "pipelines" / "demo_orders.yml").read_text()
    )
    env = up.jupyter_env(project)
    assert env["WORKBENCH_AUTOSTART"] == "demo_orders"
    monkeypatch.setenv("WORKBENCH_AUTOSTART", env["WORKBENCH_AUTOSTART"])
    assert WorkbenchApp().autostart == ["demo_orders"]
    (project / ".workbench").mkdir()
    (project / ".workbench" / "warehouse.duckdb").write_bytes(b"")
    up.run_up(port=up.pick_port(18760), dry_run=True)
    assert "Pipelines started with the server: demo_orders" in capsys.readouterr().out
    monkeypatch.setenv("WORKBENCH_AUTOSTART", "other")
    assert up.jupyter_env(project)["WORKBENCH_AUTOSTART"] == "other"

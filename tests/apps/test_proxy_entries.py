"""The published apps (workbench/server/apps.py): one table, each row published the same way
through jupyter-server-proxy (``c.ServerProxy.servers`` in jupyter_config): command, Unix socket,
prefix, origins, launcher, environment, and the handler that signs the person's identity."""

import os
import runpy
import shutil
import stat
import tempfile
import tomllib
from pathlib import Path

import pytest

from workbench.server import apps
from workbench.server.app_proxy import AppProxyHandler, WorkbenchAppProcess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def private_runtime(monkeypatch):
    """A runtime folder of the test's own (short: socket paths are limited to ~100 bytes);
    apps.private_dir() made afresh in it."""
    runtime = Path(tempfile.mkdtemp(prefix="wb-rt-"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    saved = dict(apps._private)
    apps._private.clear()
    yield runtime
    apps._private.clear()
    apps._private.update(saved)
    shutil.rmtree(runtime, ignore_errors=True)


def test_the_jupyter_config_publishes_every_app_and_no_entry_point_duplicates_them(monkeypatch):
    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(REPO))

    class C(dict):
        def __getattr__(self, name):
            return self.setdefault(name, C())

        def __setattr__(self, name, value):
            self[name] = value

    c = C()
    runpy.run_path(
        str(REPO / "jupyter_config" / "jupyter_server_config.py"),
        init_globals={"get_config": lambda: c},
    )
    servers = c.ServerProxy.servers
    assert sorted(servers) == sorted(a.name for a in apps.APPS)
    assert all(isinstance(s, WorkbenchAppProcess) for s in servers.values())
    # an entry point would publish the app a second time, without the signed identity
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "jupyter_serverproxy_servers" not in project.get("entry-points", {})


@pytest.mark.parametrize("app", apps.APPS, ids=lambda a: a.name)
def test_each_app_is_published_the_same_way(monkeypatch, app, private_runtime):
    monkeypatch.setenv("WORKBENCH_JUPYTER_PORT", "8123")
    monkeypatch.delenv("WORKBENCH_ALLOWED_ORIGINS", raising=False)
    spec = apps.server_dict(app)
    assert spec["absolute_url"] is True
    assert spec["launcher_entry"]["title"] == app.title
    assert spec["launcher_entry"]["icon_path"].endswith(".svg")
    sock = Path(spec["unix_socket"])
    assert sock.name == f"{app.name}.sock" and sock.parent.parent == private_runtime
    assert stat.S_IMODE(os.stat(sock.parent).st_mode) == 0o700
    cmd = spec["command"](unix_socket=str(sock), base_url="/user/x/")
    assert cmd[1:4] == ["-m", "panel", "serve"]
    assert cmd[4].endswith(f"apps/{app.script}.py")
    assert cmd[cmd.index("--prefix") + 1] == f"/user/x/{app.name}"
    assert cmd[cmd.index("--unix-socket") + 1] == str(sock)
    assert "--port" not in cmd and "--address" not in cmd
    assert Path(cmd[cmd.index("--auth-module") + 1]).is_file()
    assert cmd[cmd.index("--session-ids") + 1] == "signed"
    origins = [a.split("=", 1)[1] for a in cmd if a.startswith("--allow-websocket-origin=")]
    assert origins == ["localhost:8123", "127.0.0.1:8123"]
    assert not any("*" in o for o in origins)
    env = spec["environment"](base_url="/user/x/")
    secrets = {k: env.pop(k) for k in ("BOKEH_SECRET_KEY", "PANEL_COOKIE_SECRET")}
    assert all(len(v) >= 40 for v in secrets.values())
    assert secrets != {k: v for k, v in spec["environment"](base_url="/").items() if k in secrets}
    assert env == {
        "BOKEH_RESOURCES": "server",
        "WORKBENCH_API_URL": "http://127.0.0.1:8123/user/x/",
        "WORKBENCH_APP_NAME": app.name,
        "WORKBENCH_IDENTITY_JWKS": str(sock.parent / "jwks.json"),
        "WORKBENCH_IDENTITY_ISSUER": "workbench",
    }
    # no secret on the command line, where `ps` shows it to everyone
    assert not any(v in " ".join(cmd) for v in secrets.values())


def test_the_proxy_handler_signs_the_identity():
    process = apps.proxy_servers()["workbench-catalog"]
    handler, kwargs = process.make_proxy_handler()
    assert issubclass(handler, AppProxyHandler) and kwargs == {"state": {}}


def test_a_long_runtime_path_falls_back_to_a_private_temporary_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / ("x" * 120)))
    where = apps.private_dir()
    assert all(len(str(apps.socket_path(a))) <= 100 for a in apps.APPS)
    assert stat.S_IMODE(os.stat(where).st_mode) == 0o700
    shutil.rmtree(where)


def test_an_unknown_app_names_the_published_ones():
    with pytest.raises(KeyError, match="workbench-catalog"):
        apps.published("workbench-nope")


def test_extra_origins_from_environment(monkeypatch):
    monkeypatch.setenv("WORKBENCH_JUPYTER_PORT", "8888")
    monkeypatch.setenv("WORKBENCH_ALLOWED_ORIGINS", "hub.example.org:443, ")
    assert apps.allowed_origins()[-1] == "hub.example.org:443"


def test_jupyter_server_proxy_is_new_enough():
    from importlib.metadata import version

    from packaging.version import Version

    assert Version(version("jupyter-server-proxy")) >= Version("4.2")

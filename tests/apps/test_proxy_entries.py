"""The published apps (workbench/server/apps.py): one table, each row published the same way
through its jupyter-server-proxy entry point: command, prefix, origins, launcher, environment."""

from importlib.metadata import entry_points

import pytest

from workbench.server import apps


def proxy_entry_points() -> dict:
    group = entry_points(group="jupyter_serverproxy_servers")
    return {ep.name: ep for ep in group if ep.name.startswith("workbench-")}


def test_every_published_app_has_its_entry_point_and_no_other():
    eps = proxy_entry_points()
    assert sorted(eps) == sorted(a.name for a in apps.APPS)
    for app in apps.APPS:
        ep = eps[app.name]
        assert ep.value.startswith("workbench.server.apps:")
        assert ep.load()()["launcher_entry"]["title"] == app.title


@pytest.mark.parametrize("app", apps.APPS, ids=lambda a: a.name)
def test_each_app_is_published_the_same_way(monkeypatch, app):
    monkeypatch.setenv("WORKBENCH_JUPYTER_PORT", "8123")
    monkeypatch.delenv("WORKBENCH_ALLOWED_ORIGINS", raising=False)
    spec = proxy_entry_points()[app.name].load()()
    assert spec["absolute_url"] is True
    assert spec["launcher_entry"]["title"] == app.title
    assert spec["launcher_entry"]["icon_path"].endswith(".svg")
    cmd = spec["command"](port=4321, base_url="/user/x/")
    assert cmd[1:4] == ["-m", "panel", "serve"]
    assert cmd[4].endswith(f"apps/{app.script}.py")
    assert cmd[cmd.index("--prefix") + 1] == f"/user/x/{app.name}"
    assert cmd[cmd.index("--port") + 1] == "4321"
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1"
    origins = [a.split("=", 1)[1] for a in cmd if a.startswith("--allow-websocket-origin=")]
    assert origins == ["localhost:8123", "127.0.0.1:8123"]
    assert not any("*" in o for o in origins)
    env = spec["environment"](base_url="/user/x/")
    assert env == {
        "BOKEH_RESOURCES": "server",
        "WORKBENCH_API_URL": "http://127.0.0.1:8123/user/x/",
    }


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

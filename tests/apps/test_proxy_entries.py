"""The jupyter-server-proxy entry for the catalog: command, prefix, origins, launcher."""

from importlib.metadata import entry_points

from workbench.server import proxy_entries


def test_entry_point_is_registered():
    eps = {ep.name: ep for ep in entry_points(group="jupyter_serverproxy_servers")}
    assert eps["workbench-catalog"].value == "workbench.server.proxy_entries:catalog"


def test_catalog_server_dict(monkeypatch):
    monkeypatch.setenv("WORKBENCH_JUPYTER_PORT", "8123")
    monkeypatch.delenv("WORKBENCH_ALLOWED_ORIGINS", raising=False)
    spec = proxy_entries.catalog()
    assert spec["absolute_url"] is True
    assert spec["launcher_entry"]["title"] == "Metric catalog"
    assert spec["launcher_entry"]["icon_path"].endswith(".svg")
    cmd = spec["command"](port=4321, base_url="/user/x/")
    assert cmd[1:4] == ["-m", "panel", "serve"]
    assert cmd[4].endswith("apps/catalog.py")
    assert cmd[cmd.index("--prefix") + 1] == "/user/x/workbench-catalog"
    assert cmd[cmd.index("--port") + 1] == "4321"
    assert cmd[cmd.index("--address") + 1] == "127.0.0.1"
    origins = [a.split("=", 1)[1] for a in cmd if a.startswith("--allow-websocket-origin=")]
    assert origins == ["localhost:8123", "127.0.0.1:8123"]
    assert not any("*" in o for o in origins)


def test_extra_origins_from_environment(monkeypatch):
    monkeypatch.setenv("WORKBENCH_JUPYTER_PORT", "8888")
    monkeypatch.setenv("WORKBENCH_ALLOWED_ORIGINS", "hub.example.org:443, ")
    assert proxy_entries.allowed_origins()[-1] == "hub.example.org:443"


def test_jupyter_server_proxy_is_new_enough():
    from importlib.metadata import version

    from packaging.version import Version

    assert Version(version("jupyter-server-proxy")) >= Version("4.2")

"""The Panel apps in ``apps/`` that the server publishes through jupyter-server-proxy: one table.

Each row of :data:`APPS` is published the same way, by :func:`server_dict`, and each has one
``jupyter_serverproxy_servers`` entry point (see pyproject.toml) naming the function below that
returns its server dict.  The proxy starts the app on first request, on a free port bound to
127.0.0.1, and forwards ``{base_url}<name>/...`` to it unchanged (``absolute_url``), which is
why Panel is told the same ``--prefix``.

Every app is told this server's own loopback URL in ``WORKBENCH_API_URL``: the apps that read
through the server's REST API (the dashboard, the quality app) send the viewer's forwarded
credentials only there.  That URL is fixed here, by the server, never taken from a request.

Websocket origins are restricted to the Jupyter server the browser actually talks to: the
proxy forwards the browser's ``Origin`` header, so Bokeh only has to accept the Jupyter
server's own host:port.  Extra origins (a reverse proxy in front of Jupyter, say) go in
``WORKBENCH_ALLOWED_ORIGINS``, comma separated.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
APPS_DIR = Path(os.environ.get("WORKBENCH_APPS_DIR", PROJECT_DIR / "apps"))
ICONS_DIR = Path(__file__).resolve().parent / "icons"

# Panel imports hvPlot, Bokeh and the warehouse on start; 5 s (the proxy default) is too
# short on a loaded 2-core machine.
START_TIMEOUT_S = 120

_LOCAL_HOSTS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class PublishedApp:
    """One app behind the proxy: ``apps/<script>.py`` served at ``{base_url}<name>/``."""

    name: str
    script: str
    title: str
    icon: str
    description: str


APPS: tuple[PublishedApp, ...] = (
    PublishedApp(
        "workbench-catalog", "catalog", "Metric catalog", "catalog.svg",
        "The metric catalog and query explorer.",
    ),
    PublishedApp(
        "workbench-dashboard", "dashboard", "Live KPI dashboard", "dashboard.svg",
        "The live KPI dashboard; every number is a query to this server's API.",
    ),
    PublishedApp(
        "workbench-quality", "quality", "Data quality", "catalog.svg",
        "Scores, failing checks, SLAs, and schema changes / cleansing rules awaiting approval.",
    ),
)  # fmt: skip


def published(name: str) -> PublishedApp:
    """The row of :data:`APPS` published as ``name``."""
    for app in APPS:
        if app.name == name:
            return app
    known = ", ".join(a.name for a in APPS)
    raise KeyError(f"No published app '{name}'. Published apps: {known}.")


def _jupyter_server():
    """The running Jupyter ServerApp, or None outside a server (a test or a shell)."""
    try:
        from jupyter_server.serverapp import ServerApp

        if ServerApp.initialized():
            return ServerApp.instance()
    except Exception:  # noqa: BLE001, S110  not inside a Jupyter server
        pass
    return None


def _jupyter_port(app) -> int:
    if app is not None and app.port:
        return int(app.port)
    return int(os.environ.get("WORKBENCH_JUPYTER_PORT", "8888"))


def _jupyter_origin_hosts() -> list[str]:
    """host:port pairs under which the running Jupyter server is reached."""
    app = _jupyter_server()
    port = _jupyter_port(app)
    ip = (app.ip or "") if app is not None else ""
    hosts = [f"{host}:{port}" for host in _LOCAL_HOSTS]
    if ip and ip not in ("", "0.0.0.0", "::", "*", *_LOCAL_HOSTS):  # noqa: S104  compares with the wildcard addresses; binds nothing
        hosts.append(f"{ip}:{port}")
    return hosts


def allowed_origins() -> list[str]:
    extra = [o.strip() for o in os.environ.get("WORKBENCH_ALLOWED_ORIGINS", "").split(",")]
    origins = _jupyter_origin_hosts() + [o for o in extra if o]
    return list(dict.fromkeys(origins))


def jupyter_api_url(base_url: str = "/") -> str:
    """``http(s)://127.0.0.1:<port><base_url>`` of the running Jupyter server."""
    app = _jupyter_server()
    scheme = "https" if app is not None and getattr(app, "certfile", None) else "http"
    if app is not None and app.base_url:
        base_url = app.base_url
    port = _jupyter_port(app)
    return f"{scheme}://127.0.0.1:{port}/{base_url.strip('/')}".rstrip("/") + "/"


def panel_command(app: PublishedApp, port: int, base_url: str) -> list[str]:
    """The ``panel serve`` command line for ``apps/<script>.py`` published as ``app.name``."""
    script = APPS_DIR / f"{app.script}.py"
    prefix = f"{base_url.rstrip('/')}/{app.name}"
    command = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        str(script),
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
        "--prefix",
        prefix,
        "--index",
        app.script,
        "--num-procs",
        "1",
    ]
    for origin in allowed_origins():
        command.append(f"--allow-websocket-origin={origin}")
    return command


def server_dict(app: PublishedApp) -> dict[str, Any]:
    """The jupyter-server-proxy server dict of one published app."""

    def command(port: int, base_url: str) -> list[str]:
        # Evaluated when the app is first requested, so the Jupyter port is known by then.
        return panel_command(app, port, base_url)

    def environment(base_url: str = "/") -> dict[str, str]:
        # The app inherits the Jupyter server's working directory and environment, so it opens
        # the same workbench.yml as the notebooks.  Bokeh's JS is served locally.
        return {"BOKEH_RESOURCES": "server", "WORKBENCH_API_URL": jupyter_api_url(base_url)}

    icon = app.icon if (ICONS_DIR / app.icon).is_file() else "catalog.svg"
    return {
        "command": command,
        "absolute_url": True,
        "timeout": START_TIMEOUT_S,
        "environment": environment,
        "launcher_entry": {
            "enabled": True,
            "title": app.title,
            "icon_path": str(ICONS_DIR / icon),
            # JupyterLab's launcher draws an icon from a URL only in the kernel sections
            # (Notebook, Console); in a custom section the tile would have no icon.
            "category": "Notebook",
        },
        "new_browser_tab": True,
    }


# The entry points (pyproject.toml, jupyter_serverproxy_servers), one per row of APPS.
def catalog() -> dict[str, Any]:
    """Entry point ``workbench-catalog``."""
    return server_dict(published("workbench-catalog"))


def dashboard() -> dict[str, Any]:
    """Entry point ``workbench-dashboard``."""
    return server_dict(published("workbench-dashboard"))


def quality() -> dict[str, Any]:
    """Entry point ``workbench-quality``."""
    return server_dict(published("workbench-quality"))

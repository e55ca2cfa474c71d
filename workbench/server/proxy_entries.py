"""Publish the Panel apps in ``apps/`` through jupyter-server-proxy.

Each public function here is the target of one ``jupyter_serverproxy_servers`` entry point
(see pyproject.toml) and returns the server dict jupyter-server-proxy expects.  The proxy
starts the app on first request, on a free port bound to 127.0.0.1, and forwards
``{base_url}<name>/...`` to it unchanged (``absolute_url``), which is why Panel is told the
same ``--prefix``.

Websocket origins are restricted to the Jupyter server the browser actually talks to: the
proxy forwards the browser's ``Origin`` header, so Bokeh only has to accept the Jupyter
server's own host:port.  Extra origins (a reverse proxy in front of Jupyter, say) go in
``WORKBENCH_ALLOWED_ORIGINS``, comma separated.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
APPS_DIR = Path(os.environ.get("WORKBENCH_APPS_DIR", PROJECT_DIR / "apps"))
ICONS_DIR = Path(__file__).resolve().parent / "icons"

# Panel imports hvPlot, Bokeh and the warehouse on start; 5 s (the proxy default) is too
# short on a loaded 2-core machine.
START_TIMEOUT_S = 120

_LOCAL_HOSTS = ("localhost", "127.0.0.1")


def _jupyter_origin_hosts() -> list[str]:
    """host:port pairs under which the running Jupyter server is reached."""
    port = None
    ip = ""
    try:
        from jupyter_server.serverapp import ServerApp

        if ServerApp.initialized():
            app = ServerApp.instance()
            port, ip = app.port, app.ip or ""
    except Exception:  # noqa: S110  not inside a Jupyter server (e.g. called from a test or a shell)
        pass
    if port is None:
        port = int(os.environ.get("WORKBENCH_JUPYTER_PORT", "8888"))
    hosts = [f"{host}:{port}" for host in _LOCAL_HOSTS]
    if ip and ip not in ("", "0.0.0.0", "::", "*", *_LOCAL_HOSTS):  # noqa: S104  compares with the wildcard addresses; binds nothing
        hosts.append(f"{ip}:{port}")
    return hosts


def allowed_origins() -> list[str]:
    extra = [o.strip() for o in os.environ.get("WORKBENCH_ALLOWED_ORIGINS", "").split(",")]
    origins = _jupyter_origin_hosts() + [o for o in extra if o]
    return list(dict.fromkeys(origins))


def panel_command(app: str, name: str, port: int, base_url: str) -> list[str]:
    """The ``panel serve`` command line for ``apps/<app>.py`` published as ``name``."""
    script = APPS_DIR / f"{app}.py"
    prefix = f"{base_url.rstrip('/')}/{name}"
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
        app,
        "--num-procs",
        "1",
    ]
    for origin in allowed_origins():
        command.append(f"--allow-websocket-origin={origin}")
    return command


def panel_app(app: str, name: str, title: str, icon: str) -> dict[str, Any]:
    """A jupyter-server-proxy server dict for one Panel app."""

    def command(port: int, base_url: str) -> list[str]:
        # Evaluated when the app is first requested, so the Jupyter port is known by then.
        return panel_command(app, name, port, base_url)

    return {
        "command": command,
        "absolute_url": True,
        "timeout": START_TIMEOUT_S,
        # The app inherits the Jupyter server's working directory and environment, so it opens
        # the same workbench.yml / warehouse as the notebooks.  Bokeh's JS is served locally.
        "environment": {"BOKEH_RESOURCES": "server"},
        "launcher_entry": {
            "enabled": True,
            "title": title,
            "icon_path": str(ICONS_DIR / icon),
            # JupyterLab's launcher draws an icon from a URL only in the kernel sections
            # (Notebook, Console); in a custom section the tile would have no icon.
            "category": "Notebook",
        },
        "new_browser_tab": True,
    }


def catalog() -> dict[str, Any]:
    """Entry point ``workbench-catalog``: the metric catalog and query explorer."""
    return panel_app("catalog", "workbench-catalog", "Metric catalog", "catalog.svg")

"""jupyter-server-proxy entry point ``workbench-dashboard``: the live KPI dashboard.

Like the other apps (proxy_entries.panel_app), plus one thing: the dashboard reads every number
through this Jupyter server's query API (the server owns the warehouse), so the app is told the
server's own loopback URL in ``WORKBENCH_API_URL``.  That URL is fixed here, by the server, and
never taken from a request, so the person's forwarded credentials only ever go back to this
server.
"""

from __future__ import annotations

from typing import Any

from .proxy_entries import ICONS_DIR, panel_app


def jupyter_api_url(base_url: str = "/") -> str:
    """``http(s)://127.0.0.1:<port><base_url>`` of the running Jupyter server."""
    import os

    port, scheme = None, "http"
    try:
        from jupyter_server.serverapp import ServerApp

        if ServerApp.initialized():
            app = ServerApp.instance()
            port = app.port
            scheme = "https" if getattr(app, "certfile", None) else "http"
            base_url = app.base_url or base_url
    except Exception:  # noqa: BLE001, S110  outside a server (tests, shells)
        pass
    if port is None:
        port = int(os.environ.get("WORKBENCH_JUPYTER_PORT", "8888"))
    return f"{scheme}://127.0.0.1:{port}/{base_url.strip('/')}".rstrip("/") + "/"


def dashboard() -> dict[str, Any]:
    """Entry point ``workbench-dashboard``."""
    icon = "dashboard.svg" if (ICONS_DIR / "dashboard.svg").is_file() else "catalog.svg"
    server = panel_app("dashboard", "workbench-dashboard", "Live KPI dashboard", icon)

    def environment(base_url: str = "/") -> dict[str, str]:
        # Evaluated when the app is first requested, when the server's port is known.
        return {"BOKEH_RESOURCES": "server", "WORKBENCH_API_URL": jupyter_api_url(base_url)}

    server["environment"] = environment
    return server

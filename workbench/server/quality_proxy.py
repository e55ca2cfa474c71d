"""Entry point ``workbench-quality``: the data quality app (apps/quality.py) behind
jupyter-server-proxy, published like the other apps (see proxy_entries.panel_app)."""

from __future__ import annotations

from typing import Any

from .dashboard_proxy import jupyter_api_url
from .proxy_entries import panel_app


def quality() -> dict[str, Any]:
    """Scores, failing checks, SLAs, and schema changes / cleansing rules awaiting approval."""
    server = panel_app("quality", "workbench-quality", "Data quality", "catalog.svg")

    def environment(base_url: str = "/") -> dict[str, str]:
        # When the server extension holds the warehouse, the app reads scores through its API.
        return {"BOKEH_RESOURCES": "server", "WORKBENCH_API_URL": jupyter_api_url(base_url)}

    server["environment"] = environment
    return server

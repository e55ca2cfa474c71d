"""Entry point ``workbench-quality``: the data quality app (apps/quality.py) behind
jupyter-server-proxy, published like the other apps (see proxy_entries.panel_app)."""

from __future__ import annotations

from typing import Any

from .proxy_entries import panel_app


def quality() -> dict[str, Any]:
    """Scores, failing checks, SLAs, and schema changes / cleansing rules awaiting approval."""
    return panel_app("quality", "workbench-quality", "Data quality", "catalog.svg")  # quality.svg: see docs/quality.md

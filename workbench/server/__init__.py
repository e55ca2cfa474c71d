"""The Workbench server: one jupyter_server extension, ``workbench`` (app.py), that owns the
warehouse (host.py) and serves the REST API (handlers/), beside the published apps (apps.py).

Enabled as ``{"ServerApp": {"jpserver_extensions": {"workbench.server": true}}}``
(jupyter_config/jupyter_server_config.d/workbench_server.json).
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    # Imported when jupyter_server loads the extension, not with every `workbench.server.*`.
    from .app import WorkbenchApp

    return [{"module": "workbench.server.app", "app": WorkbenchApp}]

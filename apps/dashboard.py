"""Live KPI dashboard: KPIs with deltas, eleven chart kinds, drill-down region → store →
category, time ranges, metric search, a layout to rearrange and save, exports.

Published at /workbench-dashboard/ through jupyter-server-proxy
(workbench.server.dashboard_proxy).  Thin by rule: every number is a semantic query sent to the
Jupyter server's query API as the person viewing the page (workbench.ui.dashboard_client);
outside Jupyter (`panel serve apps/dashboard.py`) it queries an in-process read-only workbench.
"""

import panel as pn

from workbench.ui import messages, theme
from workbench.ui.dashboard_client import client_for_session
from workbench.ui.dashboard_view import Dashboard

TITLE = "Live KPI dashboard"


def build() -> pn.viewable.Viewable:
    try:
        client = client_for_session()
        dashboard = Dashboard(client, user=client.me(), defer_charts=True)
    except Exception as exc:  # noqa: BLE001  shown as a notice, never a traceback
        return theme.page(TITLE, messages.notice("Couldn't open the dashboard",
                                                 messages.describe_error(exc)))
    return dashboard.start().view


build().servable(title=TITLE)

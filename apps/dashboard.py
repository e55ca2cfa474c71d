"""Live KPI dashboard: KPIs with deltas, eleven chart kinds, drill-down region → store →
category, time ranges, metric search, a layout to drag, rearrange and save, exports.

Published at /workbench-dashboard/ through jupyter-server-proxy
(workbench.server.apps).  Thin by rule: every number is a semantic query sent to the
Jupyter server's query API as the person viewing the page (workbench.ui.dashboard.client);
outside Jupyter (`panel serve apps/dashboard.py`) it queries an in-process read-only workbench.
The page's first HTML already carries the KPI numbers (workbench.ui.dashboard.page).
"""

from workbench.ui.dashboard.page import live_dashboard_page

TITLE = "Live KPI dashboard"

live_dashboard_page(TITLE).servable(title=TITLE)

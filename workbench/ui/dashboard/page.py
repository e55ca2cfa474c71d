"""The dashboard's page: real KPI numbers in the first HTML, the live dashboard right after.

A Bokeh/Panel page shows nothing until ~2.5 MB of JavaScript has loaded and the document has
come over the websocket: ~2 s on a loaded 2-core machine before a single number, however fast
the server is.  So the page is served in two steps:

1. While the HTML is generated (session creation) only the KPI cards are prepared: from the
   snapshot another page of the same person fetched moments ago (dashboard.state), else with
   the two KPI queries alone.  They are written into the HTML itself (the same markup as the
   live cards, ``dashboard.text.kpi_cards``), so they show as soon as the HTML arrives.
2. Once the browser is connected (``pn.state.onload``) the full dashboard is built and sent;
   when its panels are drawn, its board removes the first-paint block (dashboard.board).

The numbers in the HTML are queried with the viewer's own credentials like every other number.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import re

import jinja2
import panel as pn

from workbench.ui import messages, theme
from workbench.ui.dashboard.client import client_for_session
from workbench.ui.dashboard.data import (
    DEFAULT_PRESET,
    DashboardData,
    Drill,
    Snapshot,
    kpi_values,
    window_for,
)
from workbench.ui.dashboard.members import Members, discover_members
from workbench.ui.dashboard.state import MEMBERS, SNAPSHOTS, ViewKey
from workbench.ui.dashboard.text import freshness_line, kpi_cards

_log = logging.getLogger("workbench.dashboard")

# How old a shared snapshot may be to serve as the first paint (the live page replaces it
# within a second; the freshness line says how old the data is either way).
FIRST_PAINT_MAX_AGE_S = 30.0

# Panel's page template, changed in two ways: the first-paint block comes first in the body,
# with the stylesheets after it (in <head> they would hold back the first paint until loaded)
# and the Bokeh/Panel scripts deferred (``defer``; inline ones as modules, which run in the same
# order), so the browser paints the KPI cards before it compiles ~2.5 MB of JavaScript.
# Bokeh's own start-up script waits for DOMContentLoaded, which comes after them.
_BODY = """{% block css_resources %}{% endblock %}
{% block js_resources %}{% endblock %}
{% block contents %}
<div id="wb-first-paint" style="max-width:1400px;margin:0 auto;padding:0 12px;
font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1a1a1a">
{{ wb_first_paint }}
</div>
{{ bokeh_css if bokeh_css }}
{{ deferred(bokeh_js) if bokeh_js }}
{{ super() }}
{% endblock %}"""


def deferred(scripts: str) -> str:
    """Panel's resource <script> tags, deferred (they would otherwise block the parser)."""
    out = re.sub(
        r'<script type="text/javascript" src=',
        '<script defer type="text/javascript" src=',
        str(scripts),
    )
    return re.sub(r'<script type="text/javascript">', '<script type="module">', out)


_ENV = jinja2.Environment(autoescape=False)  # noqa: S701  renders Panel's own HTML into our fixed template; escaping breaks it
TEMPLATE = _ENV.from_string("{% extends base %}\n" + _BODY, globals={"deferred": deferred})


def first_paint_html(title: str, snap: Snapshot, m: Members) -> str:
    """Header, freshness line and KPI cards, escaped, as the live page shows them."""
    return (
        f"<header><h1 style='margin:0.2em 0'>{html.escape(title)}</h1></header>"
        + freshness_line(snap)
        + kpi_cards(kpi_values(snap, m))
        + "<p style='margin:0.4em 0;color:#4d4d4d'>Loading the charts and controls…</p>"
    )


def first_snapshot(client, m: Members, user: str | None) -> Snapshot:
    """The KPI data for the first paint: shared if fresh enough, else the two KPI queries."""
    data = DashboardData(client, m, workers=2)
    try:
        anchor = dt.datetime.now() if m.live else data.anchor(False)
        w = window_for(DEFAULT_PRESET, anchor)
        if user:
            hit = SNAPSHOTS.latest(ViewKey.of(user, m, w, Drill(), None), FIRST_PAINT_MAX_AGE_S)
            if hit is not None:
                return hit[1]
        return data.fetch(w, Drill(), only=("kpi", "kpi_previous"))
    finally:
        data.close()


def live_dashboard_page(title: str = "Live KPI dashboard") -> pn.viewable.Viewable:
    """The app's root for this session (call from the app script, once per session)."""
    from workbench.ui.dashboard.view import Dashboard

    theme.configure()
    try:
        client = client_for_session()
        user = client.me()
        m = (
            MEMBERS.get(user, None, lambda: discover_members(client))
            if user
            else discover_members(client)
        )
        first = first_snapshot(client, m, user)
    except Exception as exc:  # noqa: BLE001  shown as a notice, never a traceback
        return theme.page(
            title, messages.notice("Couldn't open the dashboard", messages.describe_error(exc))
        )
    doc = pn.state.curdoc
    root = pn.Column(
        pn.pane.HTML(
            "<p role='status' style='margin:0.4em 12px'>Loading the live dashboard…</p>",
            sizing_mode="stretch_width",
        ),
        sizing_mode="stretch_width",
    )
    if doc is None:  # not served (tests, a notebook): build it all now
        return Dashboard(client, members=m, user=user).start().view
    doc.template = TEMPLATE
    doc.template_variables["wb_first_paint"] = first_paint_html(title, first, m)

    def build() -> None:
        try:
            dashboard = Dashboard(client, members=m, user=user, defer_charts=True)
        except Exception as exc:  # noqa: BLE001
            _log.warning("dashboard: building the page failed: %s", exc)
            root.objects = [
                theme.page(
                    title,
                    messages.notice("Couldn't open the dashboard", messages.describe_error(exc)),
                )
            ]
            return
        root.objects = [dashboard.view]
        dashboard.start()

    pn.state.onload(build)
    return root

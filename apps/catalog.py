"""Metric catalog: search governed metrics and dimensions, read their lineage, run a query.

Published at /workbench-catalog/ through jupyter-server-proxy (workbench.server.apps);
run alone with `panel serve apps/catalog.py`.  Thin by rule: it composes workbench.ui components
on `workbench.connect(read_only=True)`.
"""

import panel as pn

from workbench.ui import messages, theme
from workbench.ui.catalog.query_builder import QueryBuilder
from workbench.ui.catalog.search import CatalogSearch
from workbench.ui.connection import open_workbench

TITLE = "Metric catalog"
INTRO = "Every number here comes from a governed metric in semantic/*.yml."


def build() -> pn.viewable.Viewable:
    opened = open_workbench()
    if not opened.ok:
        return theme.page(TITLE, messages.notice(opened.title, opened.message), intro=INTRO)
    builder = QueryBuilder(opened.wb)
    search = CatalogSearch(opened.wb, on_add=builder.add)
    return theme.page(TITLE, search, builder, intro=INTRO)


build().servable(title=TITLE)

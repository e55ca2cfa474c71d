"""Data quality: scores and trends, failing checks with sample rows, SLA status, cleansing
lineage, and the schema changes and cleansing rules awaiting approval.

Published at /workbench-quality/ through jupyter-server-proxy (workbench.server.apps);
run alone with `panel serve apps/quality.py`. Thin by rule: it composes workbench.ui components.
"""

import panel as pn

from workbench.ui import messages, theme
from workbench.ui.quality.approvals import ApprovalQueue
from workbench.ui.quality.overview import checks_section, lineage_section, scores_section
from workbench.ui.quality.store import open_store

TITLE = "Data quality"
INTRO = "Scores, failing checks and SLAs; schema changes and cleansing rules awaiting approval."


def build() -> pn.viewable.Viewable:
    try:
        store = open_store()
    except Exception as exc:  # noqa: BLE001  a broken workbench.yml or principals.yml
        return theme.page(
            TITLE,
            messages.notice("Couldn't read the Workbench settings", messages.describe_error(exc)),
            intro=INTRO,
        )
    if not store.warehouse.exists():
        return theme.page(
            TITLE,
            messages.notice(
                "The demo warehouse isn't built yet",
                f"There is no warehouse at `{store.warehouse}`. Build it with `make seed`, then reload.",
            ),
            intro=INTRO,
        )
    return theme.page(
        TITLE,
        ApprovalQueue(store),
        scores_section(store),
        checks_section(store),
        lineage_section(store),
        intro=INTRO,
    )


build().servable(title=TITLE)

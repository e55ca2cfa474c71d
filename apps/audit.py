"""Audit log: who did what and when, searchable by user, action, time and text, with the hash
chain's verification, events per hour and a CSV of what the filters match.  Admins only: the
gateway opens this app for the policy's ``app:audit`` and the API answers for
``workbench:audit`` (security/policy/policy.csv).

Published at /workbench-audit/ through jupyter-server-proxy (workbench.server.apps).  Thin by
rule: it composes workbench.ui components; the entries come from the server's audit API as the
person looking, never from the audit store.
"""

import panel as pn

from workbench.ui import messages, theme
from workbench.ui.audit.browser import AuditBrowser
from workbench.ui.audit.client import AuditApiError, client_for_session

TITLE = "Audit log"
INTRO = "Every log-in, token, denial, query and admin action, in a tamper-evident chain."


def build() -> pn.viewable.Viewable:
    try:
        client = client_for_session()
    except AuditApiError as exc:
        return theme.page(
            TITLE, messages.notice("The audit log can't be shown", str(exc)), intro=INTRO
        )
    return theme.page(TITLE, AuditBrowser(client), intro=INTRO)


build().servable(title=TITLE)

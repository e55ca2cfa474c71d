"""The quality app's way to the warehouse while a Workbench server owns it: the server's quality
API, as the person looking (their forwarded credentials; the owner's token for an app run alone
beside a server).  The server decides who may do what, runs the library and audits; the app only
shows what it answers.

    GET  quality/approvals, POST quality/approvals/schema/{id}/{decision},
    POST quality/approvals/rule/{table}/{name}/{version}/{decision},
    GET  quality/scores, GET quality/lineage, GET quality/lineage/{table}/{rule}/{version}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd

from workbench.semantic.errors import SemanticError

_TIMES = ("run_at", "quarantined_at", "released_at", "applied_at", "reversed_at")


class QualityServerError(SemanticError):
    """The server refused or failed a request (its message, for people), or this session has
    no identity to ask it with."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class QualityServer:
    """The quality API of the server at ``session`` (a workbench.client.RemoteWorkbench carrying
    the person's credentials).  ``session=None``: a server owns the warehouse but this browser
    session has no verified identity, so every call says to log in and nothing is read."""

    def __init__(self, session: Any, refusal: str = ""):
        self.session = session
        self.refusal = refusal

    def _call(self, method: str, endpoint: str, params: dict[str, Any] | None = None) -> Any:
        from workbench.client.remote import ServerError

        if self.session is None:
            raise QualityServerError(self.refusal or "Log in to the Workbench to use this app.")
        try:
            return self.session.request(
                method,
                "quality/" + endpoint,
                body=b"{}" if method == "POST" else None,
                headers={"Content-Type": "application/json"},
                params=params,
            ).json()
        except ServerError as exc:
            raise QualityServerError(str(exc), exc.status) from None

    def pending(self) -> list[dict]:
        return list(self._call("GET", "approvals")["items"])

    def decide_schema(self, proposal_id: int, decision: str) -> dict:
        return self._call("POST", f"approvals/schema/{int(proposal_id)}/{quote(decision, safe='')}")

    def decide_rule(self, table: str, name: str, version: int, step: str) -> dict:
        path = "/".join(quote(str(p), safe="") for p in (table, name, int(version), step))
        return self._call("POST", f"approvals/rule/{path}")

    def scores(self) -> dict:
        return self._call("GET", "scores")

    def lineage_summary(self) -> pd.DataFrame:
        return frame(self._call("GET", "lineage")["rules"])

    def lineage_changes(
        self, table: str, rule: str, version: int, limit: int = 200
    ) -> pd.DataFrame:
        path = "/".join(quote(str(p), safe="") for p in (table, rule, int(version)))
        return frame(self._call("GET", f"lineage/{path}", {"limit": int(limit)})["changes"])


def frame(records: list[dict] | None) -> pd.DataFrame:
    """JSON records as a DataFrame, with the time columns as times again."""
    df = pd.DataFrame(records or [])
    for col in _TIMES:
        if col in df:
            df[col] = pd.to_datetime(df[col])
    return df

"""REST handler for browsing the audit trail (admins only, by the policy's ``workbench:audit``).

    GET audit?user=&action=&since=&until=&text=&limit=&offset=&verify=

One page of entries newest first, the total that match, events per hour by action family and
the chain's verification (workbench.security.audit.search.browse).  A bad parameter is a 400
naming it; the search, the parameters' checks and the auditing of the read are the library's.
"""

from __future__ import annotations

from typing import Any

from workbench.security.audit import AuditError
from workbench.security.audit.search import AuditQueryError, browse, parse_query

from .base import READ, ApiError, BadRequest, WorkbenchHandler


class AuditHandler(WorkbenchHandler):
    """GET audit: search the server's audit log."""

    auth_resource = "workbench:audit"
    auth_actions = READ
    endpoint = "audit"

    async def get(self) -> None:
        log = self.audit_log()
        params = {
            k: [v.decode("utf-8", "replace") for v in vs]
            for k, vs in self.request.query_arguments.items()
        }
        try:
            query = parse_query(params)
        except AuditQueryError as exc:
            raise BadRequest(str(exc), parameter=exc.parameter) from None
        actor = {"user": self.username, "roles": list(getattr(self.current_user, "roles", ()))}
        try:
            answer = await self.run(browse, log, query, actor)
        except AuditError as exc:
            raise ApiError(503, f"The audit log could not be read: {exc}") from None
        self.reply(answer)

    def audit_log(self) -> Any:
        """The audit log the identity provider records to (workbench.server.login)."""
        services = getattr(self.identity_provider, "services", None)
        log = getattr(services, "audit_log", None)
        if log is None:
            raise ApiError(
                503,
                "This server keeps no audit log: it does not run the Workbench "
                "identity provider (c.ServerApp.identity_provider_class).",
            )
        return log


def audit_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    return [(rf"{prefix}/audit/?", AuditHandler)]

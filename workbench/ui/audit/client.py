"""How the audit app reads the audit trail: ``GET /workbench/api/audit`` on the server that
started it, as the person looking (their forwarded credentials), never the audit store itself.

The server's URL comes from the environment the server set when it started the app
(``WORKBENCH_API_URL``, workbench.server.apps), never from a request; the credentials are sent
only with the identity the gateway signed for this app (workbench.ui.connection).  Only admins
get an answer: the server's policy decides (``workbench:audit``), and says why when it refuses.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

API_PATH = "workbench/api/audit"
PAGE_SIZE = 50
EXPORT_PAGE = 500
EXPORT_MAX = 20_000  # entries in one CSV download; more: narrow the filters


class AuditApiError(Exception):
    """The audit API refused or failed; the message is for people (the server's own when it
    gave one), `status` the HTTP status (0: not reachable)."""

    def __init__(self, message: str, status: int = 0, parameter: str | None = None):
        super().__init__(message)
        self.status = status
        self.parameter = parameter


class AuditClient:
    """Blocking JSON client for the audit API; one request per call."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float = 30.0):
        if not base_url.startswith(("http://", "https://")):  # urlopen would also open file: URLs
            raise ValueError(f"the gateway URL must be http(s)://..., got {base_url!r}")
        self.base = base_url.rstrip("/") + "/"
        self.headers = {"Accept": "application/json", **headers}
        self.timeout = timeout

    def search(
        self, filters: dict[str, str], limit: int = PAGE_SIZE, offset: int = 0, verify: bool = True
    ) -> dict[str, Any]:
        """One page: ``{"total", "entries", "hourly", "chain"?}`` (workbench.security.audit.search)."""
        params = {k: v for k, v in filters.items() if v}
        params.update(limit=str(limit), offset=str(offset), verify="true" if verify else "false")
        url = self.base + API_PATH + "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(url, headers=self.headers)  # noqa: S310  http(s) checked in __init__
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as r:  # noqa: S310  http(s) checked in __init__
                answer: dict[str, Any] = json.loads(r.read())
                return answer
        except urllib.error.HTTPError as exc:
            try:
                body = json.loads(exc.read())
            except Exception:  # noqa: BLE001  not JSON: Jupyter's own page
                body = {}
            message = (body.get("message") if isinstance(body, dict) else "") or str(exc.reason)
            if exc.code == 403:
                message = (
                    "Only admins may read the audit log, and you are not signed in as "
                    f"one ({message})."
                )
            raise AuditApiError(message, exc.code, (body or {}).get("parameter")) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise AuditApiError(f"The Workbench server is not reachable ({exc}).") from None

    def all_entries(self, filters: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every entry that matches, newest first, page by page (at most EXPORT_MAX)."""
        offset = 0
        while offset < EXPORT_MAX:
            page = self.search(filters, limit=EXPORT_PAGE, offset=offset, verify=False)
            yield from page["entries"]
            offset += len(page["entries"])
            if not page["entries"] or offset >= page["total"]:
                return


def client_for_session() -> AuditClient:
    """The client for the person looking at this page; AuditApiError when the page was reached
    without the gateway's identity, or outside a Workbench server."""
    from workbench.ui.connection import LOG_IN_MESSAGE, LOG_IN_TITLE, session_credentials
    from workbench.ui.dashboard.client import api_base_url

    base = api_base_url()
    if not base:
        raise AuditApiError(
            "This app reads the audit log through the Workbench server; open it "
            "from the Workbench (`make up`), not on its own."
        )
    creds = session_credentials()
    if creds is None:
        raise AuditApiError(f"{LOG_IN_TITLE}. {LOG_IN_MESSAGE}", 401)
    return AuditClient(base, creds.request_headers())

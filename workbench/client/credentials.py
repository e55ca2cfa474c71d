"""The person's credentials, as an app behind the gateway received them, to ask the server as them.

The proxy forwards the browser's request to the app; the app forwards these back to the server's
own loopback API (never anywhere else):

* an ``Authorization`` header the browser sent (token log-in by header), else
* the ``token`` URL argument the page was opened with (``...?token=...``), else
* the log-in cookies: Jupyter's (``username-*``) and the workbench's access-token and owner
  cookies (workbench.server.login).  Never the refresh-token cookie: the server would rotate it
  for the app, and the browser's copy would then look like a replayed token and end the
  person's session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

FORWARDED_COOKIES = ("_xsrf", "workbench-access", "workbench-owner")
# The credential the server puts into the environment of a kernel it starts for a logged-in
# person (workbench.server.kernel_identity): the kernel then asks as that person.
KERNEL_IDENTITY_ENV = "WORKBENCH_IDENTITY"


def process_headers(server_token: str) -> dict[str, str]:
    """Who this process is to the server: the person whose kernel this is, when the server
    started it for them; else the runtime file's token, i.e. the owner who started the server."""
    identity = os.environ.get(KERNEL_IDENTITY_ENV, "").strip()
    if identity:
        return {"Authorization": f"Bearer {identity}"}
    return {"Authorization": f"token {server_token}"}


@dataclass
class Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None

    @property
    def empty(self) -> bool:
        return not self.headers and not self.token

    @classmethod
    def from_request(
        cls,
        headers: dict[str, Any] | None,
        cookies: dict[str, Any] | None,
        args: dict[str, Any] | None,
    ) -> Credentials:
        """From what the proxy forwarded: ``pn.state.headers``, ``.cookies``, ``.session_args``."""
        headers = {str(k).lower(): v for k, v in (headers or {}).items()}
        out = cls()
        auth = headers.get("authorization")
        if auth:
            out.headers["Authorization"] = auth
        token = (args or {}).get("token")
        if token:
            value = token[0] if isinstance(token, (list, tuple)) else token
            out.token = value.decode() if isinstance(value, bytes) else str(value)
        jar = {
            k: v
            for k, v in (cookies or {}).items()
            if k.startswith("username-") or k in FORWARDED_COOKIES
        }
        if jar:
            out.headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())
        return out

    def request_headers(self, cookies: dict[str, Any] | None = None) -> dict[str, str]:
        """Headers for a request to the server as this person; with the ``_xsrf`` cookie of a cookie
        log-in, its ``X-XSRFToken`` too, so POSTs pass jupyter_server's XSRF check."""
        out = dict(self.headers)
        if self.token:
            out["Authorization"] = f"token {self.token}"
        xsrf = (cookies or {}).get("_xsrf")
        if xsrf and "Cookie" in out:
            out["X-XSRFToken"] = str(xsrf)
        return out

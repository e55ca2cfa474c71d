"""How the dashboard reaches the semantic layer: the Jupyter server's query API, as the person
looking at it.

The dashboard is a separate Panel process behind jupyter-server-proxy, and the Jupyter server
owns the warehouse (DuckDB allows one writer and no other process meanwhile), so every number
comes from ``/workbench/api/query``.  The proxy forwards the browser's request headers to Panel;
the client forwards the person's Jupyter credentials back, so each query runs as *their*
principal and Jupyter's log-in and authorizer apply to it:

* an ``Authorization`` header the browser sent (token log-in by header), else
* the ``token`` URL argument the page was opened with (``...?token=...``), else
* the log-in cookies, GET only, so no XSRF token is involved: Jupyter's (``username-*``) and the
  workbench's access-token and owner cookies (workbench.server.login).  Never the refresh-token
  cookie: the server would rotate it for this process, and the browser's copy would then look
  like a replayed token and end the person's session.

The credentials only ever go to the Jupyter server's own loopback URL, which comes from the
environment the server set when it started this process (``WORKBENCH_API_URL``), never from
the request.  ``LocalClient`` runs the same queries in-process, for tests and for
``panel serve apps/dashboard.py`` outside Jupyter.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from workbench.client.credentials import FORWARDED_COOKIES, Credentials  # noqa: F401  (re-exported)
from workbench.client.wire import json_records
from workbench.semantic.errors import QueryError, SemanticError

API_PATH = "workbench/api/"


class ApiError(SemanticError):
    """The query API answered with an error (its message is for people)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class Unreachable(ApiError):
    """The Jupyter server could not be reached (stopped, restarting)."""


def api_base_url() -> str | None:
    """``http://127.0.0.1:<port><base_url>`` of the Jupyter server that started this app."""
    url = os.environ.get("WORKBENCH_API_URL", "").strip()
    return url.rstrip("/") + "/" if url else None


class ApiClient:
    """Blocking JSON client for /workbench/api; call it from a worker thread."""

    def __init__(self, base_url: str, credentials: Credentials, timeout: float = 15.0):
        if not base_url.startswith(("http://", "https://")):  # urlopen would also open file: URLs
            raise ValueError(f"the gateway URL must be http(s)://..., got {base_url!r}")
        self.base = base_url.rstrip("/") + "/"
        self.credentials = credentials
        self.timeout = timeout

    def _url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = urllib.parse.urlencode(dict(params or {}), doseq=True)
        return self.base + path + ("?" + query if query else "")

    def _headers(self) -> dict[str, str]:
        """The forwarded credentials as headers.  A ``?token=`` log-in is sent as Jupyter's
        ``Authorization: token ...`` header, not in the URL: it stays out of access logs, and
        the query string carries only the query's own fields."""
        headers = {"Accept": "application/json", **self.credentials.headers}
        if self.credentials.token and "Authorization" not in headers:
            headers["Authorization"] = f"token {self.credentials.token}"
        return headers

    def _get(self, path: str, params: dict[str, Any] | None = None, raw: bool = False):
        req = urllib.request.Request(self._url(path, params), headers=self._headers())  # noqa: S310  base is checked to be http(s) in __init__
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310  base is checked to be http(s) in __init__
                body = r.read()
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message") or exc.reason
            except Exception:  # noqa: BLE001
                message = str(exc.reason)
            if exc.code in (401, 403):
                message = (
                    "You are not logged in to Jupyter, or not allowed to query "
                    "(reload the page from JupyterLab)."
                )
            raise ApiError(str(message), exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"The Jupyter server is not reachable ({exc}).") from None
        return body if raw else json.loads(body)

    def incident_action(self, incident_id: int, action: str, note: str | None = None) -> dict:
        """Acknowledge or resolve an incident through the server, which decides whether this
        person may (their principal's roles) and records who did it.  Refusals (403), wrong
        states (409) and bad input (400) raise ApiError with the server's own message."""
        if action not in ("acknowledge", "resolve"):
            raise ValueError(f"unknown incident action {action!r}")
        body = json.dumps({"note": note} if note else {}).encode()
        headers = {**self._headers(), "Content-Type": "application/json"}
        xsrf = _cookie(headers.get("Cookie", ""), "_xsrf")
        if xsrf:  # a cookie log-in must pass Jupyter's XSRF check on a POST
            headers["X-XSRFToken"] = xsrf
        req = urllib.request.Request(  # noqa: S310  base is checked to be http(s) in __init__
            self._url(f"{API_PATH}incidents/{int(incident_id)}/{action}"),
            data=body,
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:  # noqa: S310  base is checked to be http(s) in __init__
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("message") or ""
            except Exception:  # noqa: BLE001  not JSON: Jupyter's own page
                message = ""
            # Jupyter's own refusals (no log-in, XSRF) carry no message of ours.
            if exc.code == 401 or (exc.code == 403 and message in ("", "Forbidden")):
                message = "You are not logged in to Jupyter (reload the page from JupyterLab)."
            raise ApiError(message or str(exc.reason), exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise Unreachable(f"The Jupyter server is not reachable ({exc}).") from None

    def query(self, q: dict[str, Any]) -> dict[str, Any]:
        params = {
            k: (",".join(v) if isinstance(v, list) and k != "where" else v)
            for k, v in q.items()
            if v not in (None, "", [])
        }
        return self._get(API_PATH + "query", params)

    def catalog(self, text: str = "", namespace: str | None = None, limit: int = 20) -> dict:
        params: dict[str, Any] = {"limit": limit}
        if text:
            params["q"] = text
        if namespace:
            params["namespace"] = namespace
        return self._get(API_PATH + "catalog", params)

    def me(self) -> str | None:
        """Who is looking, as a stable name: the Jupyter user name, or for Jupyter's anonymous
        users (a token log-in gets a new random one on every request) the principal they map
        to, ``principal:<name>``, which is also what decides the data they may see.  Keys the
        saved layout and the snapshots pages share (dashboard.state)."""
        try:
            identity = self._get("api/me").get("identity", {})
        except ApiError:
            return None
        name = identity.get("username")
        if name and not _anonymous(identity):
            return name
        try:
            principal = self._get(API_PATH + "catalog", {"q": "_", "limit": 1}).get("principal")
        except ApiError:
            return None
        return f"principal:{principal}" if principal else None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _anonymous(identity: dict) -> bool:
    """Jupyter's generated users: a uuid4 hex name and an "Anonymous <moon>" display name."""
    import re

    return bool(
        re.fullmatch(r"[0-9a-f]{32}", str(identity.get("username", "")))
        and str(identity.get("name", "")).startswith("Anonymous ")
    )


class LocalClient:
    """The same interface on an in-process workbench (tests; the app run outside Jupyter)."""

    def __init__(self, wb, freshness=None):
        self.wb = wb
        self.freshness = freshness or (
            lambda: {"streaming": False, "age_s": None, "last_commit": None}
        )

    def query(self, q: dict[str, Any]) -> dict[str, Any]:
        import time

        q = dict(q)
        ns = q.pop("namespace")
        t0 = time.perf_counter()
        try:
            query = self.wb.query(ns, **{k: v for k, v in q.items() if v not in (None, "", [])})
            df = query.df
        except SemanticError as exc:
            raise ApiError(str(exc), 400) from None
        return {
            "namespace": ns,
            "columns": [str(c) for c in df.columns],
            "records": json_records(df),
            "rows": len(df),
            "sql": query.sql(),
            "meta": self.wb.describe(query.spec),
            "elapsed_ms": round((time.perf_counter() - t0) * 1000, 2),
            "freshness": self.freshness(),
        }

    def catalog(self, text: str = "", namespace: str | None = None, limit: int = 20) -> dict:
        items = (
            self.wb.search(text, limit=limit, namespace=namespace)
            if text
            else self.wb.catalog(namespace)
        )
        return {"namespaces": self.wb.namespaces(), "entries": items}

    def me(self) -> str | None:
        return None


def client_for_session() -> Any:
    """An API client with the current Panel session's credentials, or a LocalClient outside
    Jupyter.  Raises QueryError with a readable message if neither works."""
    from workbench.ui.connection import (
        LOG_IN_MESSAGE,
        LOG_IN_TITLE,
        open_workbench,
        session_credentials,
    )

    base = api_base_url()
    if base:
        creds = session_credentials()  # only with the identity the gateway signed for this app
        if creds is None:
            raise QueryError(f"{LOG_IN_TITLE}. {LOG_IN_MESSAGE}")
        return ApiClient(base, creds)

    opened = open_workbench()
    if not opened.ok:
        raise QueryError(f"{opened.title}. {opened.message}")
    return LocalClient(opened.wb)

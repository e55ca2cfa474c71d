"""The base of every workbench REST handler: JSON in and out, one authorization check, one error
renderer.

Each handler class declares what it guards: ``auth_resource`` (namespaced, ``workbench:...``) and
``auth_actions`` (HTTP method -> ``read``/``write``/``execute``).  :meth:`WorkbenchHandler.prepare`
is the one place that asks the server's Authorizer (workbench.server.policy_authorizer), after
jupyter_server has found the user; handler code never decides who may do what.

Handlers raise :class:`tornado.web.HTTPError`, or an :class:`ApiError` carrying a message for
people; library errors are translated where blocking work is handed off (:meth:`run`).  One
:meth:`~WorkbenchHandler.write_error` renders every failure as JSON ``{"message": ...}``; a
traceback goes to the server log, never to the caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from jupyter_core.utils import ensure_async
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from prometheus_client import Counter, Gauge, Histogram
from tornado import httputil
from tornado.web import HTTPError

from workbench.semantic.errors import SemanticError

from ..host import UnknownPipeline, WarehouseHost

# Module level: prometheus_client refuses a second registration of the same name, and a test
# session starts several servers in one process.
REQUESTS = Counter("workbench_api_requests", "Workbench REST requests.", ["endpoint", "status"])
QUERY_SECONDS = Histogram(
    "workbench_api_query_seconds",
    "Time to answer one semantic query over REST.",
    ["namespace"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PIPELINES_RUNNING = Gauge("workbench_pipelines_running", "Pipelines running in this server.")
DATA_AGE = Gauge(
    "workbench_data_age_seconds", "Seconds since the newest pipeline commit (at the last query)."
)

# The actions a handler declares per HTTP method (jupyter_server's own mapping of methods).
READ: Mapping[str, str] = {"GET": "read"}
WRITE: Mapping[str, str] = {"POST": "write"}
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete")


class ApiError(HTTPError):
    """An HTTP error whose message is written for the person who asked: :meth:`write_error`
    answers ``{"message": message, **extra}``."""

    def __init__(self, status_code: int, message: str, **extra: Any) -> None:
        # tornado %-formats log_message with args; the message is text, so its % are literal.
        super().__init__(status_code, message.replace("%", "%%"))
        self.message, self.extra = message, extra


class BadRequest(ApiError):
    """The request itself is malformed (400)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(400, message, **extra)


class Forbidden(ApiError):
    """The caller is logged in but may not do this (403)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(403, message, **extra)


class NotFound(ApiError):
    """No such thing, or not one the caller may see (404)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(404, message, **extra)


class Conflict(ApiError):
    """The thing is not in a state that allows the change (409)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(409, message, **extra)


class WorkbenchHandler(ExtensionHandlerMixin, APIHandler):
    """Base of the workbench REST API: the declared resource and actions, the warehouse host."""

    auth_resource: ClassVar[str] = ""
    auth_actions: ClassVar[Mapping[str, str]] = {}
    endpoint: ClassVar[str] = "api"  # the label of workbench_api_requests_total

    @property
    def host(self) -> WarehouseHost:
        host: WarehouseHost = self.settings["workbench_host"]
        return host

    async def prepare(self) -> None:  # type: ignore[override]  # as APIHandler.prepare
        await super().prepare()  # jupyter_server: the user, XSRF, origin
        await self.authorize()

    async def authorize(self) -> None:
        """Log-in required, then the Authorizer decides on (action, resource); 403 otherwise."""
        method = (self.request.method or "").upper()
        if method == "OPTIONS":  # CORS preflight, answered by APIHandler: no data
            return
        action = self.auth_actions.get(method)
        if action is None:
            raise HTTPError(405)
        user = self.current_user
        if not user:  # as @tornado.web.authenticated answers an API call
            raise HTTPError(403)
        resource = self.auth_resource
        allowed = await ensure_async(self.authorizer.is_authorized(self, user, action, resource))
        if not allowed:
            raise HTTPError(403, f"User is not authorized to {action} on resource: {resource}.")

    async def run(self, fn: Callable[..., Any], *args: Any, timeout: float | None = None) -> Any:
        """Run blocking work (DuckDB, pipeline start/stop) off the event loop.  The library's
        own errors become HTTP errors here, with the library's message."""
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self.host.executor, fn, *args)
        try:
            return await (asyncio.wait_for(fut, timeout) if timeout else fut)
        except UnknownPipeline as exc:
            raise NotFound(str(exc)) from None
        except SemanticError as exc:
            raise BadRequest(str(exc), error=type(exc).__name__) from None
        except TimeoutError:
            raise ApiError(504, "The request took too long and was abandoned.") from None

    def reply(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(payload, default=str))

    def body_json(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data

    @property
    def username(self) -> str:
        return getattr(self.current_user, "username", None) or "?"

    def audit(self, action: str, resource: str, outcome: str = "success", **details: Any) -> None:
        """One entry in the server's audit trail (the identity provider's, workbench.server.login)
        under the person asking; a server without one (another IdentityProvider) records nothing."""
        log = getattr(getattr(self.identity_provider, "services", None), "audit_log", None)
        if log is not None:
            log.record(
                action,
                actor=self.username,
                resource=resource,
                outcome=outcome,
                source="server",
                roles=list(getattr(self.current_user, "roles", ())),
                **details,
            )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every failure as JSON with a message in words (tornado logged any traceback)."""
        exc = (kwargs.get("exc_info") or (None, None, None))[1]
        reply: dict[str, Any]
        if isinstance(exc, ApiError):
            reply = {"message": exc.message, **exc.extra}
        elif isinstance(exc, HTTPError):
            text = httputil.responses.get(status_code, "Unknown HTTP Error")
            reply = {"message": _http_message(exc) or text, "reason": exc.reason}
        elif exc is not None:
            first = str(exc).splitlines()[0] if str(exc) else ""
            reply = {
                "message": f"The server could not do that: {type(exc).__name__}: {first}".rstrip(
                    ": "
                )
            }
        else:
            reply = {"message": httputil.responses.get(status_code, "Unknown HTTP Error")}
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(reply, default=str))

    def on_finish(self) -> None:
        REQUESTS.labels(self.endpoint, str(self.get_status())).inc()
        super().on_finish()


def _http_message(exc: HTTPError) -> str | None:
    if not exc.log_message:
        return None
    try:
        return str(exc.log_message % exc.args) if exc.args else str(exc.log_message)
    except (TypeError, ValueError):
        return str(exc.log_message)

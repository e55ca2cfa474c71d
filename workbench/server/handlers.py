"""REST handlers for the pipelines: list, start, stop, status; plus the Prometheus metrics.

Every handler is ``@tornado.web.authenticated`` (Jupyter's log-in) and ``@authorized`` (Jupyter's
authorizer, with a namespaced ``auth_resource``).  Errors are JSON ``{"message": ...}`` with the
reason in words; a traceback goes to the server log, never to the caller.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from workbench.semantic.errors import SemanticError

# Module level: prometheus_client refuses a second registration of the same name, and a test
# session starts several servers in one process.
REQUESTS = Counter("workbench_api_requests", "Workbench REST requests.",
                   ["endpoint", "status"])
QUERY_SECONDS = Histogram("workbench_api_query_seconds",
                          "Time to answer one semantic query over REST.", ["namespace"],
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
PIPELINES_RUNNING = Gauge("workbench_pipelines_running", "Pipelines running in this server.")
DATA_AGE = Gauge("workbench_data_age_seconds",
                 "Seconds since the newest pipeline commit (at the last query).")


class WorkbenchAPIHandler(ExtensionHandlerMixin, APIHandler):
    """Base: JSON in and out, the shared warehouse host, errors as messages."""

    endpoint = "api"

    @property
    def host(self):
        return self.settings["workbench_host"]

    def run(self, fn, *args, timeout: float | None = None):
        """Run blocking work (DuckDB, pipeline start/stop) off the event loop."""
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self.host.executor, fn, *args)
        return asyncio.wait_for(fut, timeout) if timeout else fut

    def reply(self, payload: Any, status: int = 200) -> None:
        REQUESTS.labels(self.endpoint, str(status)).inc()
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(payload, default=str))

    def fail(self, status: int, message: str, **extra: Any) -> None:
        self.reply({"message": message, **extra}, status)

    def body_json(self) -> dict:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data

    async def guarded(self, coro_fn, *args) -> None:
        """Turn every failure into a JSON answer with a readable message."""
        from .host import UnknownPipeline

        try:
            await coro_fn(*args)
        except BadRequest as exc:
            self.fail(400, str(exc))
        except UnknownPipeline as exc:
            self.fail(404, str(exc))
        except SemanticError as exc:
            self.fail(400, str(exc), error=type(exc).__name__)
        except TimeoutError:
            self.fail(504, "The request took too long and was abandoned.")
        except tornado.web.HTTPError:
            raise
        except Exception as exc:  # noqa: BLE001  logged with its traceback, answered in words
            self.log.exception("workbench API %s failed", self.request.path)
            self.fail(500, f"The server could not do that: {type(exc).__name__}: "
                           f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))


class BadRequest(Exception):
    """The request itself is malformed (400)."""


class PipelinesHandler(WorkbenchAPIHandler):
    auth_resource = "workbench:pipelines"
    endpoint = "pipelines"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        async def go():
            statuses = await self.run(self.host.statuses)
            PIPELINES_RUNNING.set(sum(1 for s in statuses if s.running or s.state == "running"))
            self.reply({"pipelines": [s.to_dict() for s in statuses]})

        await self.guarded(go)


class PipelineActionHandler(WorkbenchAPIHandler):
    """POST pipelines/{name}/start|stop."""

    auth_resource = "workbench:pipelines"
    endpoint = "pipelines.action"

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, action: str) -> None:
        async def go():
            fn = self.host.start if action == "start" else self.host.stop
            status = (await self.run(fn, name)).to_dict()
            PIPELINES_RUNNING.set(await self.run(self.host.running_count))
            self.log.info("workbench_pipelines: %s %s by %s", action, name,
                          getattr(self.current_user, "username", "?"))
            self.reply(status)

        await self.guarded(go)


class PipelineStatusHandler(WorkbenchAPIHandler):
    auth_resource = "workbench:pipelines"
    endpoint = "pipelines.status"

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        async def go():
            self.reply((await self.run(self.host.status, name)).to_dict())

        await self.guarded(go)


class MetricsHandler(WorkbenchAPIHandler):
    """Prometheus text exposition of prometheus_client's default registry (ours and the
    pipelines' own metrics)."""

    auth_resource = "workbench:pipelines"
    endpoint = "metrics"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        try:
            PIPELINES_RUNNING.set(self.host.running_count())
        except Exception:  # noqa: BLE001, S110  metrics must answer even if a spec is broken
            pass
        age = self.host.freshness().get("age_s")
        if age is not None:
            DATA_AGE.set(age)
        REQUESTS.labels(self.endpoint, "200").inc()
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(REGISTRY), set_content_type=CONTENT_TYPE_LATEST)


def pipeline_handlers(prefix: str) -> list[tuple[str, type]]:
    name = r"(?P<name>[A-Za-z0-9_.\-]+)"
    return [
        (rf"{prefix}/pipelines/?", PipelinesHandler),
        (rf"{prefix}/pipelines/{name}/(?P<action>start|stop)/?", PipelineActionHandler),
        (rf"{prefix}/pipelines/{name}/status/?", PipelineStatusHandler),
        (rf"{prefix}/metrics/?", MetricsHandler),
    ]

"""REST handlers for the pipelines the server runs: list, start, stop, status.

    GET  pipelines                 list, with each one's status
    POST pipelines/{name}/start    start one
    POST pipelines/{name}/stop     stop one
    GET  pipelines/{name}/status   one's status

The answers are the runners' own status reports (workbench.server.host.PipelineStatus.to_dict);
an unknown name is 404 with the known ones.
"""

from __future__ import annotations

from .base import PIPELINES_RUNNING, READ, WRITE, WorkbenchHandler


class PipelinesHandler(WorkbenchHandler):
    """GET pipelines: every known pipeline with its status."""

    auth_resource = "workbench:pipelines"
    auth_actions = READ
    endpoint = "pipelines"

    async def get(self) -> None:
        statuses = await self.run(self.host.statuses)
        PIPELINES_RUNNING.set(sum(1 for s in statuses if s.running or s.state == "running"))
        self.reply({"pipelines": [s.to_dict() for s in statuses]})


class PipelineActionHandler(WorkbenchHandler):
    """POST pipelines/{name}/start|stop."""

    auth_resource = "workbench:pipelines"
    auth_actions = WRITE
    endpoint = "pipelines.action"

    async def post(self, name: str, action: str) -> None:
        change = self.host.start if action == "start" else self.host.stop
        try:
            status = await self.run(change, name)
        except Exception as exc:
            self.audit(f"pipeline.{action}", name, outcome="failure", error=type(exc).__name__)
            raise
        self.audit(f"pipeline.{action}", name, state=status.state)
        PIPELINES_RUNNING.set(await self.run(self.host.running_count))
        self.log.info("workbench: pipeline %s %s by %s", name, action, self.username)
        self.reply(status.to_dict())


class PipelineStatusHandler(WorkbenchHandler):
    """GET pipelines/{name}/status."""

    auth_resource = "workbench:pipelines"
    auth_actions = READ
    endpoint = "pipelines.status"

    async def get(self, name: str) -> None:
        self.reply((await self.run(self.host.status, name)).to_dict())


def pipeline_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    name = r"(?P<name>[A-Za-z0-9_.\-]+)"
    return [
        (rf"{prefix}/pipelines/?", PipelinesHandler),
        (rf"{prefix}/pipelines/{name}/(?P<action>start|stop)/?", PipelineActionHandler),
        (rf"{prefix}/pipelines/{name}/status/?", PipelineStatusHandler),
    ]

"""The Prometheus exposition of the server: ``GET metrics``.

prometheus_client's default registry: the REST API's own metrics (requests, query seconds, the
pipelines running, the data's age; defined in base.py) and the pipelines' (events, lag, ...).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from .base import DATA_AGE, PIPELINES_RUNNING, READ, WorkbenchHandler


class MetricsHandler(WorkbenchHandler):
    """GET metrics: Prometheus text."""

    auth_resource = "workbench:pipelines"
    auth_actions = READ
    endpoint = "metrics"

    async def get(self) -> None:
        try:
            PIPELINES_RUNNING.set(self.host.running_count())
        except Exception:  # noqa: BLE001, S110  metrics must answer even if a spec is broken
            pass
        age = self.host.freshness().get("age_s")
        if age is not None:
            DATA_AGE.set(age)
        self.set_header("Cache-Control", "no-store")
        self.finish(generate_latest(REGISTRY), set_content_type=CONTENT_TYPE_LATEST)


def metrics_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    return [(rf"{prefix}/metrics/?", MetricsHandler)]

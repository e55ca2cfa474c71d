"""The workbench REST API under ``/workbench/api/``, one module per area.

base.py       the base handler: declared resource and actions, the one authorization check,
              the one JSON error renderer, the API's Prometheus metrics
pipelines.py  pipelines: list, start, stop, status
query.py      semantic queries (JSON records or Arrow) and the catalog
quality.py    quality suites: validate, runs, scores
incidents.py  incidents (list, detail, acknowledge, resolve) and the detection loop's status
metrics.py    the Prometheus exposition
audit.py      the audit trail: search, events per hour, the chain's status (admins)
"""

from __future__ import annotations

from .audit import audit_handlers
from .base import WorkbenchHandler
from .incidents import incident_handlers
from .metrics import metrics_handlers
from .pipelines import pipeline_handlers
from .quality import quality_handlers
from .query import query_handlers


def api_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    """Every route of the REST API under ``prefix``, with its handler class."""
    return (
        pipeline_handlers(prefix)
        + metrics_handlers(prefix)
        + query_handlers(prefix)
        + quality_handlers(prefix)
        + incident_handlers(prefix)
        + audit_handlers(prefix)
    )

"""Incidents as one reader sees them: list, detail and the acknowledge/resolve changes.

The server's REST API (workbench.server.handlers.incidents) answers with these, on the store its
live detection loop writes.  With an ``access`` (workbench.anomaly.incident_access.IncidentAccess)
and a reader (``who``, a Principal), the reader's row policies decide which incidents exist for
them: one they may not see is not found, exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .incidents import IncidentError


class IncidentNotFound(IncidentError):
    """No such incident, or none the reader may see."""


class IncidentConflict(IncidentError):
    """The incident's state does not allow the change (acknowledging a resolved one, say)."""


class IncidentService:
    """Reads and changes on an :class:`~workbench.anomaly.incidents.IncidentStore` (blocking)."""

    def __init__(self, store: Callable[[], Any], access: Any = None, who: Any = None):
        # store: gives the IncidentStore when first needed (the detection loop opens it lazily).
        self._store, self.access, self.who = store, access, who

    @property
    def store(self) -> Any:
        return self._store()

    def _visible(self, rows: list[dict]) -> list[dict]:
        if self.access is None or self.who is None:
            return rows
        by_incident: dict[int, list[dict]] = {}
        for a in self.store.anomalies():
            by_incident.setdefault(a["incident_id"], []).append(a)
        return [r for r in rows if self.access.visible(self.who, by_incident.get(r["id"], []))]

    def list(self, status: str | None, since: str | None, limit: int) -> dict:
        """Newest first: those with ``status`` (any if None), changed at or after ``since``."""
        rows = self._visible(self.store.list(status))
        if since:
            rows = [r for r in rows if max(r["updated_at"] or "", r["opened_at"] or "") >= since]
        rows.sort(key=lambda r: r["id"], reverse=True)
        return {"incidents": rows[:limit], "total": len(rows), "status": status, "since": since}

    def get(self, incident_id: int) -> dict:
        """One incident with its anomalies, history and notifications."""
        try:
            inc = self.store.get(incident_id)
        except IncidentError:
            raise IncidentNotFound(f"No incident #{incident_id}.") from None
        if not self._visible([inc]):
            raise IncidentNotFound(f"No incident #{incident_id}.")  # not theirs: as if absent
        return {
            **inc,
            "anomalies": self.store.anomalies(incident_id),
            "history": self.store.history(incident_id),
            "notifications": self.store.notifications(incident_id),
        }

    def change(self, incident_id: int, action: str, actor: str, note: str | None) -> dict:
        """``action`` ("acknowledge" or "resolve") by ``actor``; the incident afterwards."""
        if action not in ("acknowledge", "resolve"):
            raise ValueError(f"unknown incident action {action!r}")
        self.get(incident_id)  # not found before conflict
        try:
            getattr(self.store, action)(incident_id, by=actor, note=note)
        except IncidentError as exc:
            text = str(exc)
            raise IncidentConflict(text[:1].upper() + text[1:] + ".") from None
        return self.get(incident_id)

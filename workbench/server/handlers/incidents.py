"""REST handlers for incidents and the live detection loop.

    GET  incidents                       incidents, newest first (?status=open|acknowledged|resolved,
                                         ?since=ISO time: changed at or after it, ?limit=1..1000)
    GET  incidents/{id}                  one incident with its anomalies, insight, history and
                                         notifications
    POST incidents/{id}/acknowledge      {"note": "..."} optional; roles in ``incident_roles``
    POST incidents/{id}/resolve          {"note": "..."} optional; roles in ``incident_roles``
    GET  detection                       the live detection loop's status (rules, cycles, errors)

The answers are workbench.anomaly.incident_service's, on the store the server's detection loop
writes (``anomaly.incidents_db`` in workbench.yml), shared with the CLI and the dashboard.
Reading needs a log-in; changing an incident also needs a role of ``incident_roles`` (admin and
analyst by default), looked up in principals.yml through the same Jupyter-user -> principal
mapping the queries use (WarehouseHost.principal_for).  Resources ``workbench:incidents`` and
``workbench:detection``; errors are JSON messages, no traceback.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from workbench.anomaly.incident_access import IncidentAccess
from workbench.anomaly.incident_service import IncidentConflict, IncidentNotFound, IncidentService

from .base import READ, WRITE, BadRequest, Conflict, Forbidden, NotFound, WorkbenchHandler

STATUSES = ("open", "acknowledged", "resolved")
_ACTIONS = {"acknowledge": "acknowledge", "resolve": "resolve"}
_MAX_NOTE = 2000


def parse_since(raw: str | None) -> str | None:
    """An ISO date or time -> the store's form (local time, seconds), for string comparison."""
    if raw is None or raw == "":
        return None
    try:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"'since' must be an ISO date or time such as 2026-01-31T08:00:00, not {raw!r}."
        ) from None
    if t.tzinfo is not None:  # the store keeps local times without an offset
        t = t.astimezone().replace(tzinfo=None)
    return t.isoformat(timespec="seconds")


def parse_status(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if raw not in STATUSES:
        raise BadRequest(f"'status' must be one of {', '.join(STATUSES)}, not {raw!r}.")
    return raw


def parse_limit(raw: str) -> int:
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest(f"'limit' must be a whole number, not {raw!r}.") from None
    if not 1 <= limit <= 1000:
        raise BadRequest("'limit' must be between 1 and 1000.")
    return limit


def parse_id(raw: str) -> int:
    if not raw.isdigit():
        raise BadRequest(f"An incident id is a whole number, not {raw!r}.")
    return int(raw)


def parse_note(data: dict[str, Any]) -> str | None:
    unknown = sorted(set(data) - {"note"})
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}. Allowed: note.")
    note = data.get("note")
    if note is not None and not isinstance(note, str):
        raise BadRequest("'note' must be text.")
    if note and len(note) > _MAX_NOTE:
        raise BadRequest(f"'note' is longer than {_MAX_NOTE} characters.")
    return note or None


class IncidentsAPI(WorkbenchHandler):
    auth_resource = "workbench:incidents"

    def incidents(self, who) -> IncidentService:
        """The incidents as ``who`` (the caller's principal) sees them."""
        access = self.settings.get("workbench_incident_access")
        if access is None:
            access = self.settings["workbench_incident_access"] = IncidentAccess(
                self.host.workbench
            )
        return IncidentService(self.settings["workbench_detection"].store, access, who)

    async def service(self) -> IncidentService:
        return self.incidents(await self.run(self.host.principal_for, self.current_user))

    async def answer(self, fn, *args) -> Any:
        """Run an :class:`IncidentService` call; its not-found and conflict become 404 and 409."""
        try:
            return await self.run(fn, *args)
        except IncidentNotFound as exc:
            raise NotFound(str(exc)) from None
        except IncidentConflict as exc:
            raise Conflict(str(exc)) from None


class IncidentsHandler(IncidentsAPI):
    """GET incidents?status=&since=&limit=."""

    auth_actions = READ
    endpoint = "incidents"

    async def get(self) -> None:
        status = parse_status(self.get_argument("status", None))
        since = parse_since(self.get_argument("since", None))
        limit = parse_limit(self.get_argument("limit", "200"))
        self.reply(await self.answer((await self.service()).list, status, since, limit))


class IncidentHandler(IncidentsAPI):
    """GET incidents/{id}."""

    auth_actions = READ
    endpoint = "incidents.one"

    async def get(self, incident_id: str) -> None:
        iid = parse_id(incident_id)
        self.reply(await self.answer((await self.service()).get, iid))


class IncidentActionHandler(IncidentsAPI):
    """POST incidents/{id}/acknowledge|resolve; also needs a role of ``incident_roles``."""

    auth_actions = WRITE
    endpoint = "incidents.action"

    async def post(self, incident_id: str, action: str) -> None:
        iid = parse_id(incident_id)
        note = parse_note(self.body_json())
        who = await self.run(self.host.principal_for, self.current_user)
        allowed = self.settings.get("workbench_incident_roles", ["admin", "analyst"])
        resource = f"incident:{iid}"
        if not who.has_any(allowed):
            self.audit(f"incident.{action}", resource, outcome="denied", principal=who.user)
            raise Forbidden(
                f"Principal '{who.user}' may read incidents but not {action} them; "
                f"that needs one of the roles {', '.join(allowed)}."
            )
        user = getattr(self.current_user, "username", None) or "?"
        actor = f"{user} ({who.user})" if user != who.user else user
        try:
            out = await self.answer(self.incidents(who).change, iid, _ACTIONS[action], actor, note)
        except Exception as exc:
            self.audit(f"incident.{action}", resource, outcome="failure", error=type(exc).__name__)
            raise
        self.audit(f"incident.{action}", resource, principal=who.user, note=note)
        self.log.info("workbench: incident #%s %sd by %s", iid, action, actor)
        self.reply(out)


class DetectionStatusHandler(WorkbenchHandler):
    """GET detection: the live detection loop's status."""

    auth_resource = "workbench:detection"
    auth_actions = READ
    endpoint = "detection"

    async def get(self) -> None:
        self.reply(self.settings["workbench_detection"].status())


def incident_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    iid = r"(?P<incident_id>[^/]+)"
    return [
        (rf"{prefix}/incidents/?", IncidentsHandler),
        (rf"{prefix}/incidents/{iid}/(?P<action>acknowledge|resolve)/?", IncidentActionHandler),
        (rf"{prefix}/incidents/{iid}/?", IncidentHandler),
        (rf"{prefix}/detection/?", DetectionStatusHandler),
    ]

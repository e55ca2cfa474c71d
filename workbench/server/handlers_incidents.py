"""REST handlers for incidents and the live detection loop.

    GET  incidents                       incidents, newest first (?status=open|acknowledged|resolved,
                                         ?since=ISO time: changed at or after it, ?limit=1..1000)
    GET  incidents/{id}                  one incident with its anomalies, insight, history and
                                         notifications
    POST incidents/{id}/acknowledge      {"note": "..."} optional; roles in ``incident_roles``
    POST incidents/{id}/resolve          {"note": "..."} optional; roles in ``incident_roles``
    GET  detection                       the live detection loop's status (rules, cycles, errors)

The store is the :class:`~workbench.anomaly.incidents.IncidentStore` the server's detection loop
writes (``anomaly.incidents_db`` in workbench.yml), shared with the CLI and the dashboard.
Reading needs a log-in; changing an incident also needs a role of ``incident_roles`` (admin and
analyst by default), looked up in principals.yml through the same Jupyter-user -> principal
mapping the queries use. Every handler is ``@tornado.web.authenticated`` + ``@authorized``
(``workbench:incidents`` / ``workbench:detection``); errors are JSON messages, no traceback.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from .handlers import BadRequest, WorkbenchAPIHandler

STATUSES = ("open", "acknowledged", "resolved")
_ACTIONS = {"acknowledge": "acknowledge", "resolve": "resolve"}
_MAX_NOTE = 2000


class Forbidden(Exception):
    """The caller is logged in but their principal may not do this (403)."""


class NotFound(Exception):
    """No such incident (404)."""


class Conflict(Exception):
    """The incident is not in a state that allows the change (409)."""


def parse_since(raw: str | None) -> str | None:
    """An ISO date or time -> the store's form (local time, seconds), for string comparison."""
    if raw is None or raw == "":
        return None
    try:
        t = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"'since' must be an ISO date or time such as 2026-01-31T08:00:00, "
                         f"not {raw!r}.") from None
    if t.tzinfo is not None:          # the store keeps local times without an offset
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


class IncidentService:
    """Incident reads and changes on the detection loop's store, run off the event loop."""

    def __init__(self, loop, access=None, who=None):
        # access (workbench.anomaly.incident_access.IncidentAccess) and who: the reader's row
        # policies decide which incidents they see; without them every incident is listed.
        self.loop, self.access, self.who = loop, access, who

    def _visible(self, rows: list[dict]) -> list[dict]:
        if self.access is None or self.who is None:
            return rows
        by_incident: dict[int, list[dict]] = {}
        for a in self.store.anomalies():
            by_incident.setdefault(a["incident_id"], []).append(a)
        return [r for r in rows if self.access.visible(self.who, by_incident.get(r["id"], []))]

    @property
    def store(self):
        return self.loop.store()

    def list(self, status: str | None, since: str | None, limit: int) -> dict:
        rows = self._visible(self.store.list(status))
        if since:
            rows = [r for r in rows if max(r["updated_at"] or "", r["opened_at"] or "") >= since]
        rows.sort(key=lambda r: r["id"], reverse=True)
        return {"incidents": rows[:limit], "total": len(rows), "status": status, "since": since}

    def get(self, incident_id: int) -> dict:
        from workbench.anomaly.incidents import IncidentError

        try:
            inc = self.store.get(incident_id)
        except IncidentError:
            raise NotFound(f"No incident #{incident_id}.") from None
        if not self._visible([inc]):
            raise NotFound(f"No incident #{incident_id}.")      # not theirs: as if it did not exist
        return {**inc, "anomalies": self.store.anomalies(incident_id),
                "history": self.store.history(incident_id),
                "notifications": self.store.notifications(incident_id)}

    def change(self, incident_id: int, action: str, actor: str, note: str | None) -> dict:
        from workbench.anomaly.incidents import IncidentError

        self.get(incident_id)                       # 404 before 409
        try:
            getattr(self.store, action)(incident_id, by=actor, note=note)
        except IncidentError as exc:
            raise Conflict(str(exc)[0].upper() + str(exc)[1:] + ".") from None
        return self.get(incident_id)


_PRINCIPALS: dict[str, tuple[int, Any]] = {}


def principal_of(host, user) -> Any:
    """The principal (name, roles) this Jupyter user maps to, from principals.yml (re-read when
    it changes). Read here, not through the warehouse, so reading incidents does not open it."""
    from workbench.security.principal import Principal, load_principals

    s = host.settings()
    path = Path(s.path(s.principals_file))
    if getattr(user, "via", "owner") != "owner" and callable(getattr(user, "principal", None)):
        return user.principal()     # a person who logged in: their account's roles and attributes
    name = host.mapper.principal_name(user)
    if not path.exists():      # as workbench.connect: the local user runs as an analyst
        return Principal.of(name or "local", roles=["analyst"])
    mtime = path.stat().st_mtime_ns
    cached = _PRINCIPALS.get(str(path))
    if cached is None or cached[0] != mtime:
        cached = (mtime, load_principals(path))
        _PRINCIPALS[str(path)] = cached
    return cached[1].get(name)


class IncidentAPIHandler(WorkbenchAPIHandler):
    auth_resource = "workbench:incidents"

    @property
    def incidents(self) -> IncidentService:
        from workbench.anomaly.incident_access import IncidentAccess

        access = self.settings.get("workbench_incident_access")
        if access is None:
            access = self.settings["workbench_incident_access"] = IncidentAccess(self.host.workbench)
        return IncidentService(self.settings["workbench_detection"], access,
                               principal_of(self.host, self.current_user))

    async def guarded(self, coro_fn, *args) -> None:
        # The base answers any unknown exception with a 500, so ours are mapped inside it.
        async def mapped(*a):
            try:
                await coro_fn(*a)
            except Forbidden as exc:
                self.fail(403, str(exc))
            except NotFound as exc:
                self.fail(404, str(exc))
            except Conflict as exc:
                self.fail(409, str(exc))

        await super().guarded(mapped, *args)


class IncidentsHandler(IncidentAPIHandler):
    endpoint = "incidents"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        async def go():
            status = parse_status(self.get_argument("status", None))
            since = parse_since(self.get_argument("since", None))
            limit = parse_limit(self.get_argument("limit", "200"))
            self.reply(await self.run(self.incidents.list, status, since, limit))

        await self.guarded(go)


class IncidentHandler(IncidentAPIHandler):
    endpoint = "incidents.one"

    @tornado.web.authenticated
    @authorized
    async def get(self, incident_id: str) -> None:
        async def go():
            self.reply(await self.run(self.incidents.get, parse_id(incident_id)))

        await self.guarded(go)


class IncidentActionHandler(IncidentAPIHandler):
    endpoint = "incidents.action"

    @tornado.web.authenticated
    @authorized
    async def post(self, incident_id: str, action: str) -> None:
        async def go():
            iid = parse_id(incident_id)
            note = parse_note(self.body_json())
            who = await self.run(principal_of, self.host, self.current_user)
            allowed = self.settings.get("workbench_incident_roles", ["admin", "analyst"])
            if not who.has_any(allowed):
                raise Forbidden(f"Principal '{who.user}' may read incidents but not "
                                f"{action} them; that needs one of the roles "
                                f"{', '.join(allowed)}.")
            user = getattr(self.current_user, "username", None) or "?"
            actor = f"{user} ({who.user})" if user != who.user else user
            out = await self.run(self.incidents.change, iid, _ACTIONS[action], actor, note)
            self.log.info("workbench_pipelines: incident #%s %sd by %s", iid, action, actor)
            self.reply(out)

        await self.guarded(go)


class DetectionStatusHandler(WorkbenchAPIHandler):
    auth_resource = "workbench:detection"
    endpoint = "detection"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        async def go():
            self.reply(self.settings["workbench_detection"].status())

        await self.guarded(go)


def incident_handlers(prefix: str) -> list[tuple[str, type]]:
    iid = r"(?P<incident_id>[^/]+)"
    return [
        (rf"{prefix}/incidents/?", IncidentsHandler),
        (rf"{prefix}/incidents/{iid}/(?P<action>acknowledge|resolve)/?", IncidentActionHandler),
        (rf"{prefix}/incidents/{iid}/?", IncidentHandler),
        (rf"{prefix}/detection/?", DetectionStatusHandler),
    ]

"""REST handlers for the quality approval queue and the cleansing lineage, on the warehouse the
server owns (the quality app lists and decides through these while a server runs).

    GET  quality/approvals                                   what awaits a decision
    POST quality/approvals/schema/{id}/{approve|reject}      decide a schema change proposal
    POST quality/approvals/rule/{table}/{name}/{version}/{approve|activate|reject}
                                                             decide a cleansing rule version
    GET  quality/lineage                                     per rule version of each table's
                                                             latest cleansing run: rows changed
    GET  quality/lineage/{table}/{rule}/{version}?limit=200  that rule version's changed rows

The queue and the decisions are the library's (workbench.quality.approval_queue), run on the
host's connection as the person's principal, so the workflows' own role checks apply: a refusal
is a 403 with their message.  Every decision is in the audit trail as action ``approval``
(outcome success, denied or failure).  Resource ``workbench:approvals`` (reading the queue
``read``, deciding ``write``); the lineage is ``workbench:quality`` ``read``, like the scores.
"""

from __future__ import annotations

import re
import threading

from workbench.client.wire import json_records

from .base import READ, WRITE, ApiError, BadRequest, Conflict, Forbidden, NotFound, WorkbenchHandler

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
# One decision at a time in this process: each reads the state, checks it and writes it.
_DECIDE_LOCK = threading.Lock()


def whole_number(text: str, what: str) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise BadRequest(f"'{text}' is not {what} (a whole number).")
    return int(text)


def name_of(text: str, what: str) -> str:
    if not _NAME.match(text):
        raise BadRequest(f"'{text}' is not {what} (letters, digits, '_' and '-').")
    return text


class ApprovalService:
    """The approval queue and lineage of the library on the host's warehouse connection."""

    def __init__(self, host):
        self.host = host

    def _cursor(self):
        return self.host.workbench().engine.cursor()  # SupportsCursor: the host's DuckDB

    def pending(self) -> dict:
        from workbench.quality import approval_queue

        cur = self._cursor()
        try:
            return {"items": approval_queue.pending(cur)}
        finally:
            cur.close()

    def decide(self, principal, key: tuple, decision: str) -> dict:
        """The library's refusals as HTTP errors with its message: no role 403, no such
        proposal or rule 404, a state that does not allow the step 409, else 400."""
        from workbench.quality import approval_queue
        from workbench.quality.cleansing.approval import (
            ApprovalError,
            ApprovalNotFound,
            ApprovalStateError,
            RoleRequiredError,
        )

        with _DECIDE_LOCK:
            cur = self._cursor()
            try:
                if key[0] == "schema":
                    return approval_queue.decide_schema(cur, key[1], decision, principal)
                _, table, name, version = key
                return approval_queue.decide_rule(cur, table, name, version, decision, principal)
            except ApprovalError as exc:
                error = (
                    Forbidden
                    if isinstance(exc, RoleRequiredError)
                    else NotFound
                    if isinstance(exc, ApprovalNotFound)
                    else Conflict
                    if isinstance(exc, ApprovalStateError)
                    else BadRequest
                )
                raise error(str(exc)) from None
            finally:
                cur.close()

    def lineage(self) -> dict:
        from workbench.quality import lineage

        cur = self._cursor()
        try:
            return {"rules": json_records(lineage.summary(cur))}
        finally:
            cur.close()

    def changes(self, table: str, rule: str, version: int, limit: int) -> dict:
        from workbench.quality import lineage

        cur = self._cursor()
        try:
            df = lineage.changes(cur, rule, version, table=table, limit=limit)
        finally:
            cur.close()
        return {"table": table, "rule": rule, "version": version, "changes": json_records(df)}


class ApprovalsHandler(WorkbenchHandler):
    auth_resource = "workbench:approvals"

    @property
    def approvals(self) -> ApprovalService:
        return ApprovalService(self.host)


class ApprovalQueueHandler(ApprovalsHandler):
    """GET quality/approvals: the schema changes and rule versions awaiting a decision."""

    auth_actions = READ
    endpoint = "quality.approvals"

    async def get(self) -> None:
        self.reply(await self.run(self.approvals.pending))


class DecisionHandler(ApprovalsHandler):
    """The decision as the person's principal, audited whatever its outcome."""

    auth_actions = WRITE
    endpoint = "quality.approvals.decide"

    async def decide(self, key: tuple, decision: str, resource: str) -> None:
        principal = self.host.principal_for(self.current_user)
        who = getattr(principal, "user", None)
        try:
            item = await self.run(self.approvals.decide, principal, key, decision)
        except Exception as exc:
            refused = isinstance(exc, Forbidden)
            self.audit(
                "approval",
                resource,
                outcome="denied" if refused else "failure",
                decision=decision,
                principal=who,
                reason=exc.message if isinstance(exc, ApiError) else type(exc).__name__,
            )
            raise
        self.audit(
            "approval",
            resource,
            outcome="success",
            decision=decision,
            principal=who,
            status=item["status"],
        )
        self.log.info(
            "workbench: %s %s by %s: now %s", resource, decision, self.username, item["status"]
        )
        self.reply(item)


class SchemaDecisionHandler(DecisionHandler):
    """POST quality/approvals/schema/{id}/{approve|reject}."""

    async def post(self, proposal: str, decision: str) -> None:
        pid = whole_number(proposal, "a schema change proposal id")
        await self.decide(("schema", pid), decision, f"schema_change:{pid}")


class RuleDecisionHandler(DecisionHandler):
    """POST quality/approvals/rule/{table}/{name}/{version}/{approve|activate|reject}."""

    async def post(self, table: str, name: str, version: str, decision: str) -> None:
        table, name = name_of(table, "a table name"), name_of(name, "a rule name")
        v = whole_number(version, "a rule version")
        await self.decide(("rule", table, name, v), decision, f"cleansing_rule:{table}.{name}.v{v}")


class LineageHandler(WorkbenchHandler):
    auth_resource = "workbench:quality"
    auth_actions = READ

    @property
    def approvals(self) -> ApprovalService:
        return ApprovalService(self.host)


class LineageSummaryHandler(LineageHandler):
    """GET quality/lineage: per rule version of each table's latest run, what it changed."""

    endpoint = "quality.lineage"

    async def get(self) -> None:
        self.reply(await self.run(self.approvals.lineage))


class LineageChangesHandler(LineageHandler):
    """GET quality/lineage/{table}/{rule}/{version}?limit=200: the changed rows."""

    endpoint = "quality.lineage.changes"

    async def get(self, table: str, rule: str, version: str) -> None:
        table, rule = name_of(table, "a table name"), name_of(rule, "a rule name")
        v = whole_number(version, "a rule version")
        limit = whole_number(self.get_argument("limit", "200"), "a row limit")
        if not 1 <= limit <= 10000:
            raise BadRequest("'limit' must be between 1 and 10000.")
        self.reply(await self.run(self.approvals.changes, table, rule, v, limit))


def approval_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    seg = "[^/]+"
    return [
        (rf"{prefix}/quality/approvals/?", ApprovalQueueHandler),
        (
            rf"{prefix}/quality/approvals/schema/(?P<proposal>{seg})/(?P<decision>{seg})/?",
            SchemaDecisionHandler,
        ),
        (
            rf"{prefix}/quality/approvals/rule/(?P<table>{seg})/(?P<name>{seg})/(?P<version>{seg})"
            rf"/(?P<decision>{seg})/?",
            RuleDecisionHandler,
        ),
        (rf"{prefix}/quality/lineage/?", LineageSummaryHandler),
        (
            rf"{prefix}/quality/lineage/(?P<table>{seg})/(?P<rule>{seg})/(?P<version>{seg})/?",
            LineageChangesHandler,
        ),
    ]

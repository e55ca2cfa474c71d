"""The approval queue: every schema change proposal and cleansing rule version awaiting a
decision, as plain data, and the decisions on them.

One place for both ways in: the server's REST API runs these on the warehouse it owns
(``GET /workbench/api/quality/approvals``, ``POST .../approvals/schema/{id}/{decision}`` and
``.../approvals/rule/{table}/{name}/{version}/{step}``), and the quality app run alone (no server)
runs them on its own connection.  The role checks are the workflows' own
(:func:`workbench.quality.cleansing.approval.require_role`).

Each item is JSON-ready: ``kind`` (``schema`` or ``rule``), its key fields, ``status``, the change
in detail and ``decisions``, the steps its status allows.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ..security.principal import Principal
from .cleansing import approval as cleansing_approval
from .cleansing.approval import ApprovalError
from .schema import proposals

SCHEMA_DECISIONS = ("approve", "reject")
SCHEMA_STEPS = {"proposed": ("approve", "reject"), "approved": ("reject",)}
RULE_STEPS = {"proposed": ("approve", "reject"), "approved": ("activate", "reject")}


class UnknownDecision(ApprovalError, ValueError):
    """A decision word that the kind of item does not have."""


def _exists(con: Any, table: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
            "AND table_schema = current_schema()",
            [table],
        ).fetchone()[0]
        > 0
    )


def _when(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and value != value):  # None, NaT
        return None
    return value.isoformat() if isinstance(value, (dt.datetime, dt.date)) else str(value)


def _text(value: Any) -> str | None:
    """A text column's value; NULL (None, or NaN out of a DataFrame) is None."""
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def _schema_item(r: dict) -> dict:
    return {
        "kind": "schema",
        "id": int(r["id"]),
        "table": r["table_name"],
        "base_version": int(r["base_version"]),
        "compatibility": r["compatibility"],
        "status": r["status"],
        "changes": json.loads(r["changes_json"]),
        "migration": json.loads(r["migration_json"]),
        "proposed_by": _text(r["proposed_by"]),
        "proposed_at": _when(r["proposed_at"]),
        "decided_by": _text(r["decided_by"]),
        "decided_at": _when(r["decided_at"]),
        "decisions": list(SCHEMA_STEPS.get(r["status"], ())),
    }


def _rule_item(r: dict) -> dict:
    return {
        "kind": "rule",
        "table": r["table_name"],
        "name": r["rule_name"],
        "version": int(r["rule_version"]),
        "status": r["status"],
        "action": r["action"],
        "description": _text(r["description"]),
        "spec": json.loads(r["spec_json"]),
        "proposed_by": _text(r["proposed_by"]),
        "proposed_at": _when(r["proposed_at"]),
        "approved_by": _text(r["approved_by"]),
        "approved_at": _when(r["approved_at"]),
        "activated_by": _text(r["activated_by"]),
        "rejected_by": _text(r["rejected_by"]),
        "decisions": list(RULE_STEPS.get(r["status"], ())),
    }


def pending(con: Any) -> list[dict]:
    """Everything awaiting a decision: schema changes (oldest first), then rule versions.  Works on
    a read-only connection: a warehouse without the workflow tables has nothing pending."""
    items: list[dict] = []
    if _exists(con, proposals.TABLE):
        items += [_schema_item(r) for r in proposals.pending(con).to_dict("records")]
    if _exists(con, "cleansing_rules"):
        rules = cleansing_approval.statuses(con)
        rules = rules[rules.status.isin(list(RULE_STEPS))]
        items += [_rule_item(r) for r in rules.to_dict("records")]
    return items


def decide_schema(
    con: Any, proposal_id: int, decision: str, principal: Principal | None, note: str | None = None
) -> dict:
    """Approve or reject schema change proposal ``proposal_id``; its row as an item."""
    if decision not in SCHEMA_DECISIONS:
        raise UnknownDecision(
            f"'{decision}' is not a decision on a schema change; use "
            f"{' or '.join(SCHEMA_DECISIONS)}."
        )
    step = proposals.approve if decision == "approve" else proposals.reject
    return _schema_item(step(con, proposal_id, principal, note))


def decide_rule(
    con: Any,
    table: str,
    name: str,
    version: int,
    step: str,
    principal: Principal | None,
    note: str | None = None,
) -> dict:
    """Approve, activate or reject one rule version; its row as an item."""
    allowed = sorted({s for steps in RULE_STEPS.values() for s in steps})
    if step not in allowed:
        raise UnknownDecision(
            f"'{step}' is not a decision on a cleansing rule; use {', '.join(allowed)}."
        )
    return _rule_item(
        cleansing_approval.transition(con, table, name, version, step, principal, note)
    )

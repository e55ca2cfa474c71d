"""Approval workflow for cleansing rules, kept in the warehouse:

    proposed -> approved -> active -> retired        (and proposed/approved -> rejected)

Each transition records who and when (``cleansing_rule_events`` keeps the full history). Only
``active`` rule versions are applied. Activating a version retires the rule's previous active
version. Approving, activating, retiring and rejecting need an approver role taken from the
principal (:data:`APPROVER_ROLES`); :func:`require_role` is the one hook the security
services will tighten.

A rule version is pinned by the hash of its definition: if the YAML of ``name`` v1 changes after
it was proposed, it is refused until the version number is bumped.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from ...security.principal import Principal
from ...semantic.errors import SemanticError

APPROVER_ROLES = frozenset({"data_steward", "admin"})
_MOVES = {
    "approve": ({"proposed"}, "approved"),
    "activate": ({"approved"}, "active"),
    "retire": ({"active", "approved"}, "retired"),
    "reject": ({"proposed", "approved"}, "rejected"),
}


class ApprovalError(SemanticError):
    """A workflow step that is not allowed (wrong state, changed definition)."""


class RoleRequiredError(ApprovalError, PermissionError):
    """The principal lacks the role a step needs."""


class ApprovalNotFound(ApprovalError, LookupError):
    """No such schema change proposal or rule version."""


class ApprovalStateError(ApprovalError):
    """The proposal or rule version is not in a state that allows the step."""


def require_role(
    principal: Principal | None, action: str, roles: frozenset[str] = APPROVER_ROLES
) -> str:
    """The principal's user name, if they may ``action``; RoleRequiredError otherwise."""
    if principal is None:
        raise RoleRequiredError(
            f"{action} needs a principal with one of the roles "
            f"{', '.join(sorted(roles))}; none was given."
        )
    if not principal.has_any(roles):
        have = ", ".join(sorted(principal.roles)) or "no roles"
        raise RoleRequiredError(
            f"{principal.user} ({have}) may not {action}: it needs one of the "
            f"roles {', '.join(sorted(roles))}."
        )
    return principal.user


def now() -> dt.datetime:
    """UTC, naive (DuckDB TIMESTAMP), with microseconds so that events keep their order."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def ensure_tables(con: Any) -> None:
    if _exists(con, "cleansing_rule_events"):  # also lets read-only connections list (nothing)
        return
    con.execute("""
        CREATE TABLE IF NOT EXISTS cleansing_rules (
            table_name VARCHAR, rule_name VARCHAR, rule_version INTEGER, action VARCHAR,
            spec_hash VARCHAR, spec_json VARCHAR, description VARCHAR, status VARCHAR,
            proposed_by VARCHAR, proposed_at TIMESTAMP, approved_by VARCHAR, approved_at TIMESTAMP,
            activated_by VARCHAR, activated_at TIMESTAMP, retired_by VARCHAR, retired_at TIMESTAMP,
            rejected_by VARCHAR, rejected_at TIMESTAMP, note VARCHAR)""")
    con.execute("""
        CREATE TABLE IF NOT EXISTS cleansing_rule_events (
            table_name VARCHAR, rule_name VARCHAR, rule_version INTEGER, from_status VARCHAR,
            to_status VARCHAR, by_user VARCHAR, at_time TIMESTAMP, note VARCHAR)""")


def _row(con: Any, table: str, name: str, version: int) -> dict | None:
    cur = con.execute(
        "SELECT * FROM cleansing_rules WHERE table_name = ? AND rule_name = ? AND rule_version = ?",
        [table, name, version],
    )
    cols = [d[0] for d in cur.description]
    r = cur.fetchone()
    return dict(zip(cols, r, strict=True)) if r else None


def _event(con, table, name, version, before, after, user, note=None):
    con.execute(
        "INSERT INTO cleansing_rule_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [table, name, version, before, after, user, now(), note],
    )


def propose(
    con: Any, ruleset, principal: Principal | None, names: list[str] | None = None
) -> list[dict]:
    """Register the rules of ``ruleset`` (or just ``names``) as ``proposed``. Anyone may
    propose; a rule version already known is left alone (its state is returned), unless its
    definition changed, which is refused."""
    ensure_tables(con)
    user = principal.user if principal else None
    out = []
    for r in ruleset.rules:
        if names and r.name not in names:
            continue
        row = _row(con, ruleset.table, r.name, r.version)
        if row:
            if row["spec_hash"] != r.spec_hash:
                i = ruleset.rules.index(r)
                raise ruleset.error(
                    f"rule '{r.name}' version {r.version} changed since it was "
                    f"{row['status']}; bump its version to propose the change",
                    i,
                    "version",
                )
            out.append({"rule": r.name, "version": r.version, "status": row["status"]})
            continue
        con.execute(
            "INSERT INTO cleansing_rules (table_name, rule_name, rule_version, action, "
            "spec_hash, spec_json, description, status, proposed_by, proposed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 'proposed', ?, ?)",
            [
                ruleset.table,
                r.name,
                r.version,
                r.action,
                r.spec_hash,
                json.dumps(r.model_dump(), default=str),
                r.description,
                user,
                now(),
            ],
        )
        _event(con, ruleset.table, r.name, r.version, None, "proposed", user)
        out.append({"rule": r.name, "version": r.version, "status": "proposed"})
    return out


def transition(
    con: Any,
    table: str,
    name: str,
    version: int,
    step: str,
    principal: Principal | None,
    note: str | None = None,
) -> dict:
    """Move one rule version: ``step`` is approve, activate, retire or reject."""
    if step not in _MOVES:
        raise ApprovalError(f"unknown step '{step}' (one of {', '.join(_MOVES)})")
    ensure_tables(con)
    user = require_role(principal, f"{step} cleansing rules")
    row = _row(con, table, name, version)
    if row is None:
        raise ApprovalNotFound(f"rule '{name}' version {version} on '{table}' was never proposed.")
    allowed, target = _MOVES[step]
    if row["status"] not in allowed:
        raise ApprovalStateError(
            f"cannot {step} rule '{name}' v{version}: it is {row['status']} "
            f"(only {' or '.join(sorted(allowed))} rules can be)."
        )
    col = {
        "approved": "approved",
        "active": "activated",
        "retired": "retired",
        "rejected": "rejected",
    }[target]
    con.execute("BEGIN TRANSACTION")
    try:
        if target == "active":
            for (old,) in con.execute(
                "SELECT rule_version FROM cleansing_rules WHERE table_name = ? AND rule_name = ? "
                "AND status = 'active' AND rule_version <> ?",
                [table, name, version],
            ).fetchall():
                con.execute(
                    "UPDATE cleansing_rules SET status = 'retired', retired_by = ?, retired_at = ? "
                    "WHERE table_name = ? AND rule_name = ? AND rule_version = ?",
                    [user, now(), table, name, old],
                )
                _event(
                    con, table, name, old, "active", "retired", user, f"superseded by v{version}"
                )
        con.execute(
            f"UPDATE cleansing_rules SET status = ?, {col}_by = ?, {col}_at = ?, "
            "note = coalesce(?, note) WHERE table_name = ? AND rule_name = ? AND rule_version = ?",
            [target, user, now(), note, table, name, version],
        )
        _event(con, table, name, version, row["status"], target, user, note)
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    moved = _row(con, table, name, version)
    if moved is None:  # not reached: the row was just updated in a committed transaction
        raise ApprovalNotFound(f"rule '{name}' version {version} on '{table}' disappeared.")
    return moved


def approve(con, table, name, version, principal, note=None):
    return transition(con, table, name, version, "approve", principal, note)


def activate(con, table, name, version, principal, note=None):
    return transition(con, table, name, version, "activate", principal, note)


def retire(con, table, name, version, principal, note=None):
    return transition(con, table, name, version, "retire", principal, note)


def reject(con, table, name, version, principal, note=None):
    return transition(con, table, name, version, "reject", principal, note)


def statuses(con: Any, table: str | None = None, status: str | None = None):
    """The rule versions and their states, newest first, as a DataFrame."""
    ensure_tables(con)
    sql = (
        "SELECT * FROM cleansing_rules WHERE (? IS NULL OR table_name = ?) AND (? IS NULL OR status = ?) "
        "ORDER BY table_name, rule_name, rule_version DESC"
    )
    return con.execute(sql, [table, table, status, status]).df()


def active_versions(con: Any, table: str) -> dict[str, tuple[int, str]]:
    """``{rule name: (version, spec hash)}`` of the active rules on ``table``."""
    ensure_tables(con)
    rows = con.execute(
        "SELECT rule_name, rule_version, spec_hash FROM cleansing_rules "
        "WHERE table_name = ? AND status = 'active'",
        [table],
    ).fetchall()
    return {n: (v, h) for n, v, h in rows}


def history(con: Any, table: str | None = None):
    ensure_tables(con)
    return con.execute(
        "SELECT * FROM cleansing_rule_events WHERE (? IS NULL OR table_name = ?) "
        "ORDER BY at_time, rule_name",
        [table, table],
    ).df()


def _exists(con: Any, table: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
            "AND table_schema = current_schema()",
            [table],
        ).fetchone()[0]
        > 0
    )

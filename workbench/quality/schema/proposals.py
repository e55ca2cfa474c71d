"""Schema changes awaiting approval, kept in the warehouse (``schema_change_proposals``).

A drift check proposes the migration; a data steward approves or rejects it; applying an
approved proposal runs its ``ALTER`` statements in one transaction and registers the table's new
schema version in the registry (a new YAML file to commit). Who and when are recorded at every
step; the role check is :func:`workbench.quality.cleansing.approval.require_role`.
"""

from __future__ import annotations

import json
from typing import Any

from ...security.principal import Principal
from ..cleansing.approval import (
    ApprovalError,
    ApprovalNotFound,
    ApprovalStateError,
    now,
    require_role,
)
from .evolution import Change, SchemaDiff
from .registry import ColumnSpec, SchemaRegistry, SchemaVersion, schema_of_table

TABLE = "schema_change_proposals"


def ensure_table(con: Any) -> None:
    if con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
        "AND table_schema = current_schema()",
        [TABLE],
    ).fetchone()[0]:
        return
    con.execute(f"""
        CREATE TABLE IF NOT EXISTS {TABLE} (
            id INTEGER, table_name VARCHAR, base_version INTEGER, compatibility VARCHAR,
            changes_json VARCHAR, incoming_json VARCHAR, migration_json VARCHAR, status VARCHAR,
            proposed_by VARCHAR, proposed_at TIMESTAMP, decided_by VARCHAR, decided_at TIMESTAMP,
            applied_version INTEGER, note VARCHAR)""")


def propose(con: Any, diff: SchemaDiff, principal: Principal | None = None) -> int | None:
    """Record ``diff`` for approval; returns its id (an identical open proposal is reused).
    Nothing to propose when nothing changed: None."""
    if not diff.changes:
        return None
    ensure_table(con)
    incoming = json.dumps([c.model_dump() for c in diff.incoming], sort_keys=True)
    row = con.execute(
        f"SELECT id FROM {TABLE} WHERE table_name = ? AND base_version = ? AND "
        "changes_json = ? AND incoming_json = ? AND status IN ('proposed', 'approved')",
        [diff.table, diff.base.version, diff.to_json(), incoming],
    ).fetchone()
    if row:
        return row[0]
    new_id = con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {TABLE}").fetchone()[0]
    con.execute(
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, 'proposed', ?, ?, NULL, NULL, NULL, NULL)",
        [
            new_id,
            diff.table,
            diff.base.version,
            diff.compatibility,
            diff.to_json(),
            incoming,
            json.dumps(diff.migration_sql()),
            principal.user if principal else None,
            now(),
        ],
    )
    return new_id


def get(con: Any, proposal_id: int) -> dict:
    ensure_table(con)
    cur = con.execute(f"SELECT * FROM {TABLE} WHERE id = ?", [proposal_id])
    r = cur.fetchone()
    if r is None:
        raise ApprovalNotFound(f"There is no schema change proposal #{proposal_id}.")
    d = dict(zip([c[0] for c in cur.description], r, strict=True))
    d["changes"] = json.loads(d["changes_json"])
    d["migration"] = json.loads(d["migration_json"])
    return d


def pending(con: Any, table: str | None = None):
    """Open proposals (proposed or approved but not applied), oldest first, as a DataFrame."""
    ensure_table(con)
    return con.execute(
        f"SELECT id, table_name, base_version, compatibility, changes_json, migration_json, "
        f"status, proposed_by, proposed_at, decided_by, decided_at FROM {TABLE} "
        "WHERE status IN ('proposed', 'approved') AND (? IS NULL OR table_name = ?) ORDER BY id",
        [table, table],
    ).df()


def _decide(con, proposal_id, principal, target, allowed, note):
    user = require_role(
        principal, f"{target[:-1] if target.endswith('ed') else target} schema changes"
    )
    p = get(con, proposal_id)
    if p["status"] not in allowed:
        raise ApprovalStateError(
            f"Proposal #{proposal_id} is {p['status']}; only "
            f"{' or '.join(allowed)} proposals can be {target}."
        )
    con.execute(
        f"UPDATE {TABLE} SET status = ?, decided_by = ?, decided_at = ?, note = coalesce(?, note) "
        "WHERE id = ?",
        [target, user, now(), note, proposal_id],
    )
    return get(con, proposal_id)


def approve(
    con: Any, proposal_id: int, principal: Principal | None, note: str | None = None
) -> dict:
    return _decide(con, proposal_id, principal, "approved", ("proposed",), note)


def reject(
    con: Any, proposal_id: int, principal: Principal | None, note: str | None = None
) -> dict:
    return _decide(con, proposal_id, principal, "rejected", ("proposed", "approved"), note)


def apply(
    con: Any, proposal_id: int, registry: SchemaRegistry, principal: Principal | None
) -> SchemaVersion:
    """Run an approved proposal's migration and register the new schema version."""
    user = require_role(principal, "apply schema changes")
    p = get(con, proposal_id)
    if p["status"] != "approved":
        raise ApprovalError(f"Proposal #{proposal_id} is {p['status']}; it must be approved first.")
    if p["table_name"] not in registry.tables() and p["base_version"] == 1:
        # proposed by a pipeline's schema gate against its spec (no registered version yet): the
        # live table as it is becomes version 1, so the registry keeps the diff of this change
        registry.register(p["table_name"], schema_of_table(con, p["table_name"]), key=[], by=user)
    base = registry.get(p["table_name"])
    if base.version != p["base_version"]:
        raise ApprovalError(
            f"Proposal #{proposal_id} was made against v{p['base_version']} of "
            f"'{p['table_name']}', which is now at v{base.version}; check the batch again."
        )
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? "
        "AND table_schema = current_schema()",
        [p["table_name"]],
    ).fetchone()[0]
    con.execute("BEGIN TRANSACTION")
    try:
        if exists:
            for stmt in p["migration"]:
                con.execute(stmt)
        con.execute(
            f"UPDATE {TABLE} SET status = 'applied', note = coalesce(note, ?) WHERE id = ?",
            [f"applied by {user}", proposal_id],
        )
        con.execute("COMMIT")
    except Exception as e:
        con.execute("ROLLBACK")
        raise ApprovalError(
            f"The migration of proposal #{proposal_id} failed and was rolled back: "
            f"{str(e).splitlines()[0]}"
        ) from None
    cols = _new_columns(con, base, p, exists)
    # Only what changed the registered schema; CAST-on-load and NULL-filled columns did not.
    changes = [
        Change(**c)
        for c in p["changes"]
        if c["compatibility"] != "forward" and c["kind"] != "removed"
    ]
    version = registry.register(
        p["table_name"], cols, key=base.key, by=user, changes=changes, migration=p["migration"]
    )
    con.execute(
        f"UPDATE {TABLE} SET applied_version = ? WHERE id = ?", [version.version, proposal_id]
    )
    return version


def _new_columns(con, base: SchemaVersion, p: dict, exists: bool) -> list[ColumnSpec]:
    """The table's schema after the migration; nullability carried over from the registry
    (through renames), new columns nullable."""
    renamed = {c["column"]: c["old_name"] for c in p["changes"] if c["kind"] == "renamed"}
    if exists:
        current = schema_of_table(con, p["table_name"])
    else:
        current = [ColumnSpec(**c) for c in json.loads(p["incoming_json"])]
    out = []
    for c in current:
        prev = base.column(renamed.get(c.name, c.name))
        out.append(c.model_copy(update={"nullable": prev.nullable if prev else True}))
    return out

"""The schema gate of a pipeline stage: check a batch against the registered schema before
anything is written, stop on a breaking change, and otherwise load it into the registered
columns with strict CASTs in one transaction.

    from workbench.quality.schema.gate import load_batch
    report = load_batch(con, registry, "customers", batch_df, stage="silver")

A breaking change raises :class:`SchemaDriftError` naming the table, the stage and each change,
and records a proposal (with its migration SQL) for a person to approve. Nothing is written.
Compatible changes load: a new column is left out until its migration is approved (the report
and the open proposal say so); a narrower type is CAST; a dropped nullable column loads as NULL.
A value that does not fit the registered type fails the whole load (strict CAST) instead of
being changed, so silver and gold are never silently corrupted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...security.principal import Principal
from ...semantic.errors import SemanticError
from ..lineage import q
from . import proposals
from .evolution import SchemaDiff, detect_changes
from .registry import SchemaRegistry, schema_of_table


class SchemaDriftError(SemanticError):
    """A breaking schema change stopped a pipeline stage."""

    def __init__(
        self,
        diff: SchemaDiff,
        stage: str,
        proposal_id: int | None = None,
        registry_path: str | None = None,
        detail: str | None = None,
    ):
        self.diff, self.stage, self.proposal_id = diff, stage, proposal_id
        where = f" ({registry_path})" if registry_path else ""
        if detail:
            lines = [
                f"Schema check stopped stage '{stage}' for table '{diff.table}' "
                f"(registered version {diff.base.version}{where}): {detail}"
            ]
        else:
            lines = [
                f"Schema drift stopped stage '{stage}' for table '{diff.table}': "
                f"{len(diff.breaking)} breaking change(s) against registered version "
                f"{diff.base.version}{where}."
            ]
        lines += [f"  - {c}" for c in (diff.breaking or diff.changes)]
        others = [c for c in diff.changes if c.compatibility != "breaking"]
        if others:
            lines.append(f"  (and {len(others)} compatible change(s))")
        lines.append(
            "Nothing was written. "
            + (
                f"Review and approve schema change proposal #{proposal_id} (its migration SQL is "
                "attached), or fix the source."
                if proposal_id
                else "Fix the source or migrate the table."
            )
        )
        super().__init__("\n".join(lines))


@dataclass
class LoadReport:
    table: str
    target: str
    stage: str
    rows: int
    diff: SchemaDiff
    proposal_id: int | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        head = f"{self.stage}: loaded {self.rows} row(s) into {self.target}"
        return "\n".join([head] + [f"  - {n}" for n in self.notes])


def check(
    registry: SchemaRegistry,
    table: str,
    incoming: Any,
    *,
    stage: str = "silver",
    renames: dict[str, str] | None = None,
    con: Any = None,
    principal: Principal | None = None,
) -> SchemaDiff:
    """The diff of ``incoming`` (ColumnSpecs or a DataFrame) against ``table``'s latest
    registered schema. With ``con``, a change is recorded as a proposal. Raises
    SchemaDriftError on a breaking change."""
    diff = detect_changes(registry.get(table), incoming, renames=renames)
    pid = proposals.propose(con, diff, principal) if con is not None and diff else None
    if diff.breaking:
        raise SchemaDriftError(diff, stage, pid, str(registry.path(table, diff.base.version)))
    diff.proposal_id = pid
    return diff


def load_batch(
    con: Any,
    registry: SchemaRegistry,
    table: str,
    batch: Any,
    *,
    stage: str = "silver",
    target: str | None = None,
    renames: dict[str, str] | None = None,
    principal: Principal | None = None,
) -> LoadReport:
    """Append ``batch`` (a DataFrame, or the name of a table/view in ``con``) to ``target``
    (default: ``table``) after the schema gate."""
    target = target or table
    is_frame = not isinstance(batch, str)
    source = "_wb_incoming_batch" if is_frame else batch
    if is_frame:
        con.execute("SELECT 1").fetchall()  # DuckDB refuses register() with a result pending
        con.register(source, batch)
    try:
        diff = check(
            registry,
            table,
            schema_of_table(con, source),
            stage=stage,
            renames=renames,
            con=con,
            principal=principal,
        )
        live = {c.name: c.type for c in schema_of_table(con, target)}
        registered = {c.name: c.type for c in diff.base.columns}
        if live != registered:
            raise SchemaDriftError(
                detect_changes(diff.base, schema_of_table(con, target)),
                stage,
                detail=f"the live table '{target}' does not match its registered schema; apply the "
                "approved migration or register the table's current schema first.",
            )
        select = diff.load_select(source)
        con.execute("BEGIN TRANSACTION")
        try:
            cols = ", ".join(q(c.name) for c in diff.base.columns)
            rows = con.execute(f"INSERT INTO {q(target)} ({cols}) {select}").fetchone()[0]
            con.execute("COMMIT")
        except Exception as e:
            con.execute("ROLLBACK")
            raise SchemaDriftError(
                diff,
                stage,
                diff.proposal_id,
                detail=(
                    "a value does not fit the registered type, so the load was rolled back: "
                    f"{str(e).splitlines()[0]}"
                ),
            ) from None
    finally:
        if is_frame:
            con.execute("SELECT 1").fetchall()
            con.unregister(source)
    notes = []
    for c in diff.changes:
        if c.kind == "added":
            notes.append(
                f"new column '{c.column}' not loaded until proposal "
                f"#{diff.proposal_id} is approved and applied"
            )
        elif c.kind == "retyped":
            notes.append(f"'{c.column}' arrived as {c.new_type}, loaded as {c.old_type}")
        elif c.kind == "removed":
            notes.append(f"'{c.column}' missing from the batch, loaded as NULL")
    return LoadReport(table, target, stage, rows, diff, diff.proposal_id, notes)

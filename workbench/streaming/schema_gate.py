"""The schema gate of the streaming silver stage: each batch's change events against the table's
registered columns, before anything of the batch is written.

The registered schema of a pipeline table is its ``tables:`` entry in the pipeline spec (the
columns silver is built from); with ``quality: {schema: {registry: pipelines/schemas}}`` a
registered version of the silver table (``pipelines/schemas/silver_orders/``) adds nullability
and the version number proposals are made against.

**Schema drift or per-event garbage?** One event with a wrong value or a missing column is
garbage and goes to the dead-letter table, as before (``apply.py``). A *schema change* is what
the whole batch says about a table:

* the source declares it: Debezium JSON with schemas (``{"schema": ..., "payload": ...}``, as
  Kafka Connect's JsonConverter writes it: compact, ``"schema"`` first)
  carries each column's type; a declared type, a declared new column or a column no longer
  declared is a change even in a batch of one event. A plain ``string`` declared for a typed
  column is an encoding (Debezium's ``decimal.handling.mode=string``, ISO timestamps), not a
  type: its values are cast per event;
* without a declared schema, a key present in the after-images that is not registered is an
  added column; a registered column absent from *every* after-image of the table in the batch
  (and at least ``min_events`` of them, default 2) is a removed column. A column missing from
  only some events stays a per-event matter (a missing key column is dead-lettered).
  Undeclared value types are never guessed: a value that does not cast is per-event garbage.

Each change is classified by :func:`workbench.quality.schema.evolution.detect_changes`
(backward, forward or breaking). A compatible change is recorded as a schema change proposal
(``schema_change_proposals``, with its migration SQL) in the batch's transaction and the batch
goes on: a new column's values stay in bronze (the raw payload) until the migration is approved
and applied, a removed nullable column loads as NULL. A breaking change (a removed key or
required column, a rename, a type that does not convert) stops the stage with
:class:`StreamSchemaDriftError`: the batch's transaction is rolled back, so neither bronze,
silver, gold nor the checkpoint move, and the proposal is recorded on its own. After the
migration is applied and the pipeline spec's ``tables:`` updated, a restart re-reads the same
events from the source: nothing is lost.

Cost: one grouped DuckDB query per batch over the events' key sets (``json_keys``) and the
declared schemas of wrapped events; Python sees one row per distinct key set, not per event.
"""

from __future__ import annotations

import logging
import types
from typing import TYPE_CHECKING

from ..quality.schema.evolution import SchemaDiff, detect_changes
from ..quality.schema.gate import SchemaDriftError
from ..quality.schema.registry import ColumnSpec, SchemaVersion, canonical_type

if TYPE_CHECKING:
    from .spec import PipelineSpec

log = logging.getLogger("workbench.streaming")

# Debezium / Kafka Connect schema types -> DuckDB types (logical names first)
_LOGICAL = {
    "io.debezium.time.Timestamp": "TIMESTAMP",
    "io.debezium.time.MicroTimestamp": "TIMESTAMP",
    "io.debezium.time.NanoTimestamp": "TIMESTAMP",
    "io.debezium.time.ZonedTimestamp": "TIMESTAMPTZ",
    "io.debezium.time.Date": "DATE",
    "org.apache.kafka.connect.data.Date": "DATE",
    "org.apache.kafka.connect.data.Timestamp": "TIMESTAMP",
    "io.debezium.data.Json": "JSON",
    "io.debezium.data.Uuid": "UUID",
}
_PRIMITIVE = {
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
}
_JSON_TYPES = {
    "BIGINT": "BIGINT",
    "UBIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "VARCHAR": "VARCHAR",
    "BOOLEAN": "BOOLEAN",
    "OBJECT": "JSON",
    "ARRAY": "JSON",
}


def declared_type(field: dict) -> str | None:
    """The DuckDB type of one field of a Debezium schema, or None when there is no equivalent."""
    name, typ = field.get("name"), field.get("type")
    if name == "org.apache.kafka.connect.data.Decimal":
        p = field.get("parameters") or {}
        return f"DECIMAL({int(p.get('connect.decimal.precision', 38))},{int(p.get('scale', 0))})"
    return _LOGICAL.get(name or "") or _PRIMITIVE.get(typ or "")


class StreamSchemaDriftError(SchemaDriftError):
    """A breaking schema change stopped a pipeline's silver stage; the checkpoint did not move."""

    def __init__(
        self,
        diff: SchemaDiff,
        pipeline: str,
        positions: tuple[str, str],
        proposal_id: int | None,
        registry_path: str | None,
    ):
        super().__init__(diff, "silver", proposal_id, registry_path)
        self.pipeline, self.positions = pipeline, positions
        self.args = (
            f"pipeline '{pipeline}': {self.args[0]}\nThe batch (positions {positions[0]} .. "
            f"{positions[1]}) was rolled back and the checkpoint not advanced. After the migration is "
            f"applied and tables.{diff.table.split('.')[-1]} in the pipeline spec updated (or the "
            "source fixed), restart the pipeline: it resumes at this batch.",
        )


class SchemaGate:
    """Called once per batch by BatchApplier, on the batch's parsed events (`_ev`)."""

    def __init__(self, spec: PipelineSpec, pipeline: str):
        from .quality_gate import SchemaGateSpec

        self.spec, self.pipeline = spec, pipeline
        self.cfg = spec.quality.schema_ if spec.quality is not None else SchemaGateSpec()
        self.bases: dict[str, SchemaVersion] = {}
        self.registry_paths: dict[str, str] = {}
        registry = self._registry()
        for name, t in spec.tables.items():
            silver = spec.storage.silver_prefix + name
            nullable = {c: c not in t.primary_key for c in t.columns}
            version = 1
            if registry is not None and silver in registry.tables():
                reg = registry.get(silver)
                version = reg.version
                self.registry_paths[name] = str(registry.path(silver, version))
                nullable.update(
                    {
                        c.name: c.nullable and c.name not in t.primary_key
                        for c in reg.columns
                        if c.name in nullable
                    }
                )
            self.bases[name] = SchemaVersion(
                table=silver,
                version=version,
                key=list(t.primary_key),
                columns=[
                    ColumnSpec(name=c, type=canonical_type(typ), nullable=nullable[c])
                    for c, typ in t.columns.items()
                ],
            )
        self._logged: set[tuple[str, str]] = set()  # (table, diff) already logged by this process

    def _registry(self):
        if not self.cfg.registry:
            return None
        from ..config import load_settings
        from ..quality.schema.registry import SchemaRegistry

        return SchemaRegistry(load_settings().path(self.cfg.registry))

    # -- the per-batch hook -------------------------------------------------------------------
    def check(self, con) -> list[SchemaDiff]:
        """Compare the batch in `_ev` with the registered columns. Returns the compatible diffs
        (recorded as proposals); raises StreamSchemaDriftError on a breaking one."""
        if not self.cfg.enabled:
            return []
        # one row per (table, distinct key set of the after-images): usually one per table; and
        # one per (table, distinct declared schema) of wrapped events. One statement for both: a
        # statement's fixed cost is most of what this gate adds to a small batch
        rows = con.execute(
            "SELECT tname, json_keys(after) AS ks, count(*) AS n, NULL::JSON AS f FROM _ev "
            "WHERE reason IS NULL AND op <> 'd' AND after IS NOT NULL GROUP BY ALL "
            "UNION ALL SELECT DISTINCT tname, NULL, NULL, json_extract(payload, '$.schema.fields') FROM _ev "
            "WHERE reason IS NULL AND op <> 'd' AND payload LIKE '{\"schema\"%'"
        ).fetchall()
        keysets = [(t, ks, n) for t, ks, n, f in rows if n is not None]
        declared = self._declared([(t, f) for t, ks, n, f in rows if n is None])
        out = []
        seen: dict[str, tuple[int, dict[str, int]]] = {}
        for tname, ks, n in keysets:
            if not ks:
                continue  # not an object: that event is dead-lettered by the silver stage
            total, counts = seen.setdefault(tname, (0, {}))
            for k in ks:
                counts[k] = counts.get(k, 0) + n
            seen[tname] = (total + n, counts)
        for name in set(seen) | set(declared):
            if name not in self.bases:
                continue
            diff = self._diff(con, name, *seen.get(name, (0, {})), declared.get(name))
            if diff is None or not diff.changes:
                continue
            if diff.breaking:
                self._stop(con, diff)
            from ..quality.schema import proposals

            # an identical open proposal is reused (so a batch that rolls back loses nothing)
            diff.proposal_id = proposals.propose(con, diff, self._who())
            key = (name, diff.to_json())
            if key not in self._logged:
                self._logged.add(key)
                log.warning(
                    "pipeline %s: schema change of %s recorded as proposal #%s (stage continues): %s",
                    self.pipeline,
                    diff.table,
                    diff.proposal_id,
                    "; ".join(map(str, diff.changes)),
                )
            out.append(diff)
        return out

    def _declared(self, rows) -> dict[str, dict[str, str | None]]:
        """{table: {column: declared DuckDB type}} from wrapped events' schemas (last one wins);
        `rows` are the batch's distinct (table, schema fields)."""
        out: dict[str, dict[str, str | None]] = {}
        import json

        for tname, f in rows:
            fields = json.loads(f) if isinstance(f, str) else f
            after = next(
                (x for x in fields or [] if isinstance(x, dict) and x.get("field") == "after"), None
            )
            if not after or not after.get("fields"):
                continue  # a schema without column types declares nothing
            out[tname] = {x["field"]: declared_type(x) for x in after["fields"] if "field" in x}
        return out

    def _diff(
        self,
        con,
        name: str,
        total: int,
        counts: dict[str, int],
        declared: dict[str, str | None] | None,
    ) -> SchemaDiff | None:
        base = self.bases[name]
        reg = {c.name: c.type for c in base.columns}
        if declared is not None:
            # a plain string declared for a typed column is an encoding (Debezium's
            # decimal.handling.mode=string, ISO timestamps): its values are cast per event
            present = {
                c: (reg.get(c) if t is None or (t == "VARCHAR" and c in reg) else t) or "VARCHAR"
                for c, t in declared.items()
            }
        else:
            present = {
                c: reg[c] for c in reg if counts.get(c, 0) > 0 or total < self.cfg.min_events
            }
            added = [k for k in counts if k not in reg]
            present.update(self._infer(con, name, added))
        if set(present) == set(reg) and all(
            present[c] == reg[c] or _fits(present[c], reg[c]) for c in reg
        ):
            return None
        incoming = [
            ColumnSpec(
                name=c,
                type=canonical_type(present[c])
                if c not in reg or not _fits(present[c], reg[c])
                else reg[c],
                nullable=True,
            )
            for c in present
        ]
        return detect_changes(base, incoming)

    def _infer(self, con, name: str, added: list[str]) -> dict[str, str]:
        """Types of undeclared new columns from their JSON values (VARCHAR when mixed)."""
        out = {}
        for col in added:
            types_ = {
                r[0]
                for r in con.execute(
                    "SELECT DISTINCT json_type(json_extract(after, ?)) FROM _ev WHERE reason IS NULL AND tname = ? "
                    "AND op <> 'd' AND json_type(after) = 'OBJECT'",
                    ['$."' + col.replace('"', '\\"') + '"', name],
                ).fetchall()
            } - {None, "NULL"}
            mapped = {_JSON_TYPES.get(t, "VARCHAR") for t in types_}
            out[col] = (
                mapped.pop()
                if len(mapped) == 1
                else "DOUBLE"
                if mapped == {"BIGINT", "DOUBLE"}
                else "VARCHAR"
            )
        return out

    def _who(self):
        return types.SimpleNamespace(user=f"pipeline {self.pipeline}")

    def _stop(self, con, diff: SchemaDiff) -> None:
        """Roll the batch back, record the proposal on its own, raise."""
        first, last = con.execute(
            "SELECT arg_min(position, (hi, lo)), arg_max(position, (hi, lo)) FROM _ev"
        ).fetchone()
        con.execute("ROLLBACK")  # apply.py's own ROLLBACK then finds no transaction; that is fine
        pid = None
        try:
            from ..quality.schema import proposals

            con.execute("BEGIN TRANSACTION")
            pid = proposals.propose(con, diff, self._who())
            con.execute("COMMIT")
        except Exception:  # the stop must be reported even if the proposal cannot be written
            log.exception("pipeline %s: could not record the schema change proposal", self.pipeline)
            try:
                con.execute("ROLLBACK")
            except Exception:  # noqa: S110  the failure is logged just above; a failed ROLLBACK adds nothing
                pass
        name = diff.table.removeprefix(self.spec.storage.silver_prefix)
        raise StreamSchemaDriftError(
            diff, self.pipeline, (first, last), pid, self.registry_paths.get(name)
        )


def _fits(incoming: str, registered: str) -> bool:
    """A declared type whose every value the registered column holds exactly needs no change
    (a source INTEGER into a BIGINT silver column)."""
    from ..quality.schema.evolution import widens

    try:
        return widens(incoming, registered)
    except Exception:
        return False


__all__ = ["SchemaGate", "StreamSchemaDriftError", "declared_type"]

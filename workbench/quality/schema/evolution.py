"""Schema evolution: what changed between a registered schema and an incoming batch or table,
how compatible each change is, and the SQL that would migrate the table (for a person to approve).

Compatibility, from the point of view of the registered table and its readers (silver, gold):

- **backward**: the registered table can be migrated to the incoming schema and every existing
  row stays valid: a new (nullable) column, a widened type (INTEGER -> BIGINT,
  DECIMAL(12,2) -> DECIMAL(18,4), DATE -> TIMESTAMP). The migration is an ``ALTER TABLE``.
- **forward**: the incoming batch can be read into the registered schema with no loss: a
  narrower type (INTEGER arriving for a BIGINT column) is ``CAST`` on load; a removed column
  the registry marks nullable loads as NULL.
- **breaking**: data would be lost or misread: a removed required column, a rename (readers
  ask for the old name), a type change neither way lossless (DOUBLE arriving for DECIMAL money
  would round; VARCHAR arriving for INTEGER may not parse; a typed column arriving as text loses
  its type for every reader). A breaking change stops the
  pipeline stage (see :mod:`.gate`).

The migration SQL is built as sqlglot expressions with quoted identifiers; no user text is ever
pasted into SQL.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from sqlglot import exp

from .registry import ColumnSpec, SchemaVersion, canonical_type, schema_of_frame

Kind = Literal["added", "removed", "renamed", "retyped"]
Compat = Literal["backward", "forward", "breaking"]

_INT_RANK = {"TINYINT": 1, "SMALLINT": 2, "INTEGER": 3, "BIGINT": 4, "HUGEINT": 5}
_UINT_RANK = {"UTINYINT": 1, "USMALLINT": 2, "UINTEGER": 3, "UBIGINT": 4, "UHUGEINT": 5}
_INT_DIGITS = {1: 3, 2: 5, 3: 10, 4: 20, 5: 39}
_TEXT = {"VARCHAR"}


def _dtype(t: str) -> exp.DataType:
    return exp.DataType.build(t, dialect="duckdb")


def _decimal(t: str) -> tuple[int, int] | None:
    d = _dtype(t)
    if d.this != exp.DataType.Type.DECIMAL:
        return None
    args = [int(e.sql()) for e in d.expressions]
    return (args[0] if args else 18, args[1] if len(args) > 1 else 3)


def widens(src: str, dst: str) -> bool:
    """True when every value of type ``src`` is represented exactly by type ``dst``."""
    src, dst = canonical_type(src), canonical_type(dst)
    if src == dst:
        return True
    if dst in _TEXT:
        return True  # every scalar has an exact text form
    if src in _INT_RANK and dst in _INT_RANK:
        return _INT_RANK[dst] >= _INT_RANK[src]
    if src in _UINT_RANK and dst in _UINT_RANK:
        return _UINT_RANK[dst] >= _UINT_RANK[src]
    if src in _UINT_RANK and dst in _INT_RANK:
        return _INT_RANK[dst] > _UINT_RANK[src]
    rank = _INT_RANK.get(src) or _UINT_RANK.get(src)
    dec_dst = _decimal(dst)
    if rank and dec_dst:
        return dec_dst[0] - dec_dst[1] >= _INT_DIGITS[rank]
    if rank and dst == "DOUBLE":
        return rank <= 3  # 53-bit mantissa: exact up to INTEGER
    if rank and dst == "FLOAT":
        return rank <= 2
    dec_src = _decimal(src)
    if dec_src and dec_dst:
        return dec_dst[1] >= dec_src[1] and dec_dst[0] - dec_dst[1] >= dec_src[0] - dec_src[1]
    if src == "FLOAT" and dst == "DOUBLE":
        return True
    if src == "DATE" and dst in ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_US"):
        return True
    return False


@dataclass(frozen=True)
class Change:
    kind: Kind
    column: str  # the column's name in the incoming schema (or removed name)
    compatibility: Compat
    reason: str
    old_name: str | None = None  # renamed: the registered name
    old_type: str | None = None
    new_type: str | None = None

    def record(self) -> dict:
        return {k: v for k, v in asdict(self).items()}

    def __str__(self) -> str:
        what = {
            "added": f"column '{self.column}' ({self.new_type}) added",
            "removed": f"column '{self.column}' ({self.old_type}) removed",
            "renamed": f"column '{self.old_name}' renamed to '{self.column}'",
            "retyped": f"column '{self.column}' retyped {self.old_type} -> {self.new_type}",
        }
        return f"{what[self.kind]}: {self.compatibility} ({self.reason})"


@dataclass
class SchemaDiff:
    table: str
    base: SchemaVersion
    incoming: list[ColumnSpec]
    changes: list[Change] = field(default_factory=list)
    proposal_id: int | None = None  # set when the diff was recorded for approval

    @property
    def breaking(self) -> list[Change]:
        return [c for c in self.changes if c.compatibility == "breaking"]

    @property
    def compatibility(self) -> Compat | None:
        """The worst change: breaking > forward > backward; None when nothing changed."""
        order = {"backward": 0, "forward": 1, "breaking": 2}
        return max((c.compatibility for c in self.changes), key=order.__getitem__, default=None)

    def __bool__(self) -> bool:
        return bool(self.changes)

    def frame(self):
        import pandas as pd

        cols = ["kind", "column", "old_name", "old_type", "new_type", "compatibility", "reason"]
        return pd.DataFrame([c.record() for c in self.changes], columns=cols)

    def migration_sql(self, table: str | None = None) -> list[str]:
        return migration_sql(table or self.table, self.changes)

    def load_select(self, source: str) -> str:
        return load_select(source, self.base, self.incoming, self.changes)

    def to_json(self) -> str:
        return json.dumps([c.record() for c in self.changes], sort_keys=True)

    def __str__(self) -> str:
        if not self.changes:
            return f"{self.table}: no schema changes against v{self.base.version}"
        lines = [
            f"{self.table}: {len(self.changes)} change(s) against registered v{self.base.version}"
        ]
        lines += [f"  - {c}" for c in self.changes]
        return "\n".join(lines)


def _similar(a: str, b: str) -> float:
    """Similarity of two column names; one name inside the other (email / email_address)
    counts as 0.8."""
    a, b = a.lower().replace("_", ""), b.lower().replace("_", "")
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    return max(ratio, 0.8) if len(min(a, b, key=len)) >= 3 and (a in b or b in a) else ratio


def detect_changes(
    base: SchemaVersion,
    incoming: list[ColumnSpec] | Any,
    renames: dict[str, str] | None = None,
    rename_similarity: float = 0.75,
) -> SchemaDiff:
    """Compare ``incoming`` (ColumnSpecs, a DataFrame, or ``schema_of_table`` output) with the
    registered ``base`` schema.

    A removed and an added column are taken for a rename when ``renames`` says so
    (``{old: new}``), or when they have the same type and similar names (difflib ratio of the
    names without underscores >= ``rename_similarity``, or one name contains the other), or when
    they have the same type and the same position and are the only such pair. Anything else is a
    removal plus an addition.
    """
    if not isinstance(incoming, list):
        incoming = schema_of_frame(incoming)
    reg = {c.name: c for c in base.columns}
    inc = {c.name: c for c in incoming}
    removed = [n for n in reg if n not in inc]
    added = [n for n in inc if n not in reg]
    pairs: dict[str, tuple[str, str]] = {}  # new -> (old, why)
    for old, new in (renames or {}).items():
        if old in removed and new in added:
            pairs[new] = (old, "declared rename")
    cands = []
    for old in removed:
        for new in added:
            if new in pairs or old in {o for o, _ in pairs.values()}:
                continue
            if reg[old].type != inc[new].type:
                continue
            score = _similar(old, new)
            same_pos = base.names.index(old) == [c.name for c in incoming].index(new)
            if score >= rename_similarity:
                cands.append((score, old, new, f"same type, similar name ({score:.2f})"))
            elif same_pos and len(removed) == 1 and len(added) == 1:
                cands.append((0.0, old, new, "same type, same position"))
    for _score, old, new, why in sorted(cands, reverse=True):
        if new not in pairs and old not in {o for o, _ in pairs.values()}:
            pairs[new] = (old, why)
    renamed_old = {o for o, _ in pairs.values()}

    changes: list[Change] = []
    for c in base.columns:
        if c.name in inc:
            new_t = inc[c.name].type
            if new_t != c.type:
                changes.append(_retype(c.name, c.type, new_t))
        elif c.name not in renamed_old:
            if c.nullable and c.name not in base.key:
                changes.append(
                    Change(
                        "removed",
                        c.name,
                        "forward",
                        "nullable in the registry: loads as NULL",
                        old_type=c.type,
                    )
                )
            else:
                why = "key column" if c.name in base.key else "required column (not nullable)"
                changes.append(
                    Change(
                        "removed",
                        c.name,
                        "breaking",
                        f"{why}: rows would have no value",
                        old_type=c.type,
                    )
                )
    for c in incoming:
        if c.name in pairs:
            old, why = pairs[c.name]
            extra = "" if reg[old].type == c.type else f", type {reg[old].type} -> {c.type}"
            changes.append(
                Change(
                    "renamed",
                    c.name,
                    "breaking",
                    f"{why}{extra}; readers still ask for '{old}'",
                    old_name=old,
                    old_type=reg[old].type,
                    new_type=c.type,
                )
            )
        elif c.name not in reg:
            changes.append(
                Change(
                    "added",
                    c.name,
                    "backward",
                    "new nullable column; existing rows get NULL",
                    new_type=c.type,
                )
            )
    return SchemaDiff(base.table, base, list(incoming), changes)


def _retype(name: str, old: str, new: str) -> Change:
    if new in _TEXT and old not in _TEXT:
        # Lossless as text, but readers lose the type: date arithmetic, numeric sums, ordering.
        return Change(
            "retyped",
            name,
            "breaking",
            f"{old} arriving as text: readers of '{name}' lose the {old} type",
            old_type=old,
            new_type=new,
        )
    if widens(old, new):
        return Change(
            "retyped",
            name,
            "backward",
            f"every {old} value fits {new}: widen the table",
            old_type=old,
            new_type=new,
        )
    if widens(new, old):
        return Change(
            "retyped",
            name,
            "forward",
            f"every {new} value fits {old}: CAST on load",
            old_type=old,
            new_type=new,
        )
    return Change(
        "retyped",
        name,
        "breaking",
        f"{new} values do not all convert exactly to {old} nor the reverse",
        old_type=old,
        new_type=new,
    )


# -- SQL ----------------------------------------------------------------------------------------


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _new_type(c: Change) -> exp.DataType:
    """The type an added, retyped or renamed column migrates to (such a change always has one)."""
    if c.new_type is None:
        raise ValueError(f"{c.kind} column '{c.column}' has no new type")
    return _dtype(c.new_type)


def _table(name: str) -> exp.Table:
    parts = name.split(".")
    if len(parts) == 2:
        return exp.Table(this=_ident(parts[1]), db=_ident(parts[0]))
    return exp.Table(this=_ident(name))


def migration_sql(table: str, changes: list[Change]) -> list[str]:
    """``ALTER TABLE`` statements that bring ``table`` to the incoming schema: renames first,
    then type changes, additions and (for removed columns) nothing: a removed column is kept,
    so no data is ever dropped by a migration; a person drops it by hand if they mean it.

    Forward-compatible type changes need no ALTER: they are CASTs on load (``load_select``)."""
    out: list[exp.Expression] = []
    for c in changes:
        if c.kind == "renamed":
            if c.old_name is None:
                raise ValueError(f"renamed column '{c.column}' has no old name")
            out.append(
                exp.Alter(
                    this=_table(table),
                    kind="TABLE",
                    actions=[
                        exp.RenameColumn(
                            this=exp.column(_ident(c.old_name)), to=exp.column(_ident(c.column))
                        )
                    ],
                )
            )
    for c in changes:
        col = c.column
        if (c.kind == "retyped" and c.compatibility == "backward") or (
            c.kind == "renamed" and c.old_type != c.new_type
        ):
            dtype = _new_type(c)
            out.append(
                exp.Alter(
                    this=_table(table),
                    kind="TABLE",
                    actions=[
                        exp.AlterColumn(
                            this=_ident(col),
                            dtype=dtype,
                            using=exp.Cast(this=exp.column(_ident(col)), to=dtype.copy()),
                        )
                    ],
                )
            )
        elif c.kind == "retyped" and c.compatibility == "breaking":
            # Strict CAST: if a person approves it and a value does not convert, the ALTER
            # fails as a whole instead of turning that value into NULL.
            dtype = _new_type(c)
            out.append(
                exp.Alter(
                    this=_table(table),
                    kind="TABLE",
                    actions=[
                        exp.AlterColumn(
                            this=_ident(col),
                            dtype=dtype,
                            using=exp.Cast(this=exp.column(_ident(col)), to=dtype.copy()),
                        )
                    ],
                )
            )
        elif c.kind == "added":
            out.append(
                exp.Alter(
                    this=_table(table),
                    kind="TABLE",
                    actions=[exp.ColumnDef(this=_ident(col), kind=_new_type(c))],
                )
            )
    return [e.sql("duckdb") for e in out]


def load_select(
    source: str, base: SchemaVersion, incoming: list[ColumnSpec], changes: list[Change]
) -> str:
    """``SELECT`` that reads ``source`` (the incoming batch) into the registered columns of
    ``base``: CAST to the registered type, NULL for a removed nullable column. The CAST is
    strict: a value that does not fit fails the load rather than being changed."""
    inc = {c.name for c in incoming}
    renamed = {c.old_name: c.column for c in changes if c.kind == "renamed"}
    cols = []
    for c in base.columns:
        src_name = c.name if c.name in inc else renamed.get(c.name)
        value: exp.Expression = exp.column(_ident(src_name)) if src_name else exp.Null()
        cols.append(exp.Cast(this=value, to=_dtype(c.type)).as_(_ident(c.name)))
    return exp.select(*cols).from_(_table(source)).sql("duckdb")

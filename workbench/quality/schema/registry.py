"""The schema registry: one YAML file per table version under ``pipelines/schemas/<table>/``.

    pipelines/schemas/customers/v0001.yml
    pipelines/schemas/customers/v0002.yml   # + the diff from v0001, who registered it and when

The files are meant to be reviewed and committed to git like any other pipeline spec: a schema
change shows up in a pull request as a new file whose ``changes`` list says what changed and how
compatible it is. Files are read with ruamel.yaml so that every error names the file, the line
and the field (:class:`~workbench.specfile.SourceMap`, shared by every spec reader).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from sqlglot import exp

from ...semantic.errors import EngineError, SemanticError
from ...specfile import SourceMap, plain, read_yaml, validate_spec

DEFAULT_DIR = Path("pipelines") / "schemas"
_FILE = re.compile(r"^v(\d{4,})\.ya?ml$")


def canonical_type(text: str) -> str:
    """A DuckDB type in one spelling (``int`` -> ``INTEGER``, ``decimal(12, 2)`` ->
    ``DECIMAL(12,2)``), parsed by sqlglot so that nonsense is rejected."""
    from sqlglot import exp
    from sqlglot.errors import ParseError

    try:
        dtype = exp.DataType.build(str(text), dialect="duckdb")
    except (ParseError, ValueError) as e:
        raise ValueError(f"'{text}' is not a SQL type") from e
    if dtype.this == exp.DataType.Type.USERDEFINED:
        raise ValueError(f"'{text}' is not a SQL type")
    out = dtype.sql("duckdb").replace(", ", ",")
    return {
        "INT": "INTEGER",
        "TEXT": "VARCHAR",
        "INT128": "HUGEINT",
        "FLOAT": "FLOAT",
        "REAL": "FLOAT",
    }.get(out, out)


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(..., min_length=1, description="Column name, as in the warehouse.")
    type: str = Field(..., description="DuckDB type, e.g. INTEGER, VARCHAR, DECIMAL(12,2).")
    nullable: bool = Field(
        True,
        description="False: every row must have a value; a batch "
        "without this column is a breaking change.",
    )

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        return canonical_type(v)


class ChangeRecord(BaseModel):
    """One line of a version's diff from the previous version (see :class:`.evolution.Change`)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["added", "removed", "renamed", "retyped"] = Field(
        ..., description="What happened to the column."
    )
    column: str = Field(..., description="The column (its new name, for a rename).")
    old_name: str | None = Field(None, description="renamed: the name it had before.")
    old_type: str | None = Field(None, description="Its type before (removed, renamed, retyped).")
    new_type: str | None = Field(None, description="Its type now (added, renamed, retyped).")
    compatibility: Literal["backward", "forward", "breaking"] = Field(
        ..., description="For the registered table and its readers (see the evolution module)."
    )
    reason: str = Field("", description="Why the change has that compatibility, for the approver.")


class SchemaVersion(BaseModel):
    """One registered version of one table's schema."""

    model_config = ConfigDict(extra="forbid")
    table: str = Field(..., min_length=1, description="Warehouse table name.")
    version: int = Field(..., ge=1, description="1, 2, ...; equals the number in the file name.")
    key: list[str] = Field(default_factory=list, description="Columns that identify a row.")
    columns: list[ColumnSpec] = Field(
        ..., min_length=1, description="The table's columns and their types."
    )
    registered_at: str | None = Field(None, description="ISO timestamp (UTC).")
    registered_by: str | None = Field(None, description="Principal who registered it.")
    migration: list[str] = Field(default_factory=list, description="SQL that was applied.")
    changes: list[ChangeRecord] = Field(
        default_factory=list, description="Diff from the previous version."
    )

    def column(self, name: str) -> ColumnSpec | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


class RegistryError(SemanticError):
    """The registry cannot do what was asked (unknown table, version clash)."""


def _check(spec: SchemaVersion, src: SourceMap, path: Path) -> None:
    seen: set[str] = set()
    for i, col in enumerate(spec.columns):
        if col.name in seen:
            raise src.error(f"duplicate column '{col.name}'", ("columns", i, "name"))
        seen.add(col.name)
    for i, k in enumerate(spec.key):
        if k not in seen:
            raise src.error(f"key column '{k}' is not among the columns", ("key", i))
    m = _FILE.match(path.name)
    if m and int(m.group(1)) != spec.version:
        raise src.error(
            f"version {spec.version} does not match the file name {path.name}", ("version",)
        )
    if path.parent.name != spec.table and path.parent.name != "schemas":
        raise src.error(f"table '{spec.table}' is filed under '{path.parent.name}/'", ("table",))


def load_version(path: str | Path) -> SchemaVersion:
    """Read one schema file; a problem raises ModelError naming the file, line and field."""
    path = Path(path)
    root, src = read_yaml(path, "a mapping with 'table', 'version' and 'columns'")
    spec = validate_spec(SchemaVersion, plain(root), src)
    _check(spec, src, path)
    return spec


def _dump(spec: SchemaVersion) -> str:
    """Stable, reviewable YAML: one flow mapping per column so a diff is one line per column."""
    data = CommentedMap()
    data["table"] = spec.table
    data["version"] = spec.version
    data["registered_at"] = spec.registered_at
    data["registered_by"] = spec.registered_by
    data["key"] = _flow(list(spec.key))
    cols = CommentedSeq()
    for c in spec.columns:
        cols.append(_flow_map({"name": c.name, "type": c.type, "nullable": c.nullable}))
    data["columns"] = cols
    if spec.changes:
        ch = CommentedSeq()
        for r in spec.changes:
            ch.append(_flow_map({k: v for k, v in r.model_dump().items() if v not in (None, "")}))
        data["changes"] = ch
    if spec.migration:
        data["migration"] = list(spec.migration)
    data.yaml_set_start_comment(
        f"Registered schema of table '{spec.table}', version {spec.version}.\n"
        "Written by workbench.quality.schema.registry; review and commit it with the pipeline."
    )
    y = YAML(typ="rt")
    y.width = 4096  # one line per column or change: diffs stay readable
    buf = io.StringIO()
    y.dump(data, buf)
    return buf.getvalue()


def _flow(seq: list) -> CommentedSeq:
    s = CommentedSeq(seq)
    s.fa.set_flow_style()
    return s


def _flow_map(d: dict) -> CommentedMap:
    m = CommentedMap(d)
    m.fa.set_flow_style()
    return m


class SchemaRegistry:
    """Versions of table schemas in a folder (default ``pipelines/schemas``)."""

    def __init__(self, root: str | Path = DEFAULT_DIR):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"<SchemaRegistry {self.root}: {', '.join(self.tables()) or 'empty'}>"

    def tables(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._files(p.name))

    def _files(self, table: str) -> dict[int, Path]:
        folder = self.root / table
        out: dict[int, Path] = {}
        if folder.is_dir():
            for p in folder.iterdir():
                m = _FILE.match(p.name)
                if m:
                    out[int(m.group(1))] = p
        return dict(sorted(out.items()))

    def path(self, table: str, version: int) -> Path:
        return self.root / table / f"v{version:04d}.yml"

    def versions(self, table: str) -> list[SchemaVersion]:
        return [load_version(p) for p in self._files(table).values()]

    def get(self, table: str, version: int | None = None) -> SchemaVersion:
        files = self._files(table)
        if not files:
            from ...semantic.errors import closest

            hint = closest(table, self.tables())
            raise RegistryError(
                f"No schema is registered for table '{table}' in {self.root}."
                + (f" Did you mean: {', '.join(hint)}?" if hint else "")
                + " Register one with SchemaRegistry.register_table(con, table)."
            )
        if version is None:
            version = max(files)
        if version not in files:
            raise RegistryError(
                f"Table '{table}' has no schema version {version} "
                f"(registered: {', '.join(map(str, files))})."
            )
        return load_version(files[version])

    latest = get

    def register(
        self,
        table: str,
        columns: list[ColumnSpec],
        *,
        key: list[str] | None = None,
        by: str | None = None,
        changes: list | None = None,
        migration: list[str] | None = None,
    ) -> SchemaVersion:
        """Write the next version of ``table`` and return it. ``changes`` are :mod:`.evolution`
        Changes (or ChangeRecords) from the previous version."""
        files = self._files(table)
        version = max(files) + 1 if files else 1
        if key is None:
            key = self.get(table).key if files else []
        spec = SchemaVersion(
            table=table,
            version=version,
            key=list(key),
            columns=list(columns),
            registered_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            registered_by=by,
            migration=list(migration or []),
            changes=[
                c if isinstance(c, ChangeRecord) else ChangeRecord(**c.record())
                for c in changes or []
            ],
        )
        path = self.path(table, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(_dump(spec), encoding="utf-8")
        tmp.replace(path)
        return load_version(path)

    def register_table(
        self, con: Any, table: str, *, key: list[str] | None = None, by: str | None = None
    ) -> SchemaVersion:
        """Register the current schema of warehouse table ``table`` (a DuckDB connection).

        ``nullable`` is taken from the table's NOT NULL constraints and, since the demo tables
        declare none, from the data: a column without a single NULL today is registered as
        required. Edit the file to relax it."""
        cols = schema_of_table(con, table, infer_required=True)
        key = list(key or [])
        cols = [c.model_copy(update={"nullable": False}) if c.name in key else c for c in cols]
        return self.register(table, cols, key=key, by=by)

    def history(self, table: str) -> list[dict]:
        """One row per version: version, when, who, and its changes in words."""
        rows = []
        for v in self.versions(table):
            rows.append(
                {
                    "version": v.version,
                    "registered_at": v.registered_at,
                    "registered_by": v.registered_by,
                    "columns": len(v.columns),
                    "changes": "; ".join(_describe(c) for c in v.changes) or "(initial)",
                }
            )
        return rows


def _describe(c: ChangeRecord) -> str:
    if c.kind == "renamed":
        return f"{c.old_name} renamed to {c.column} [{c.compatibility}]"
    if c.kind == "retyped":
        return f"{c.column} {c.old_type} -> {c.new_type} [{c.compatibility}]"
    return f"{c.column} {c.kind} [{c.compatibility}]"


# -- reading a table's schema: what register_table records, and what .evolution compares


def schema_of_table(con: Any, table: str, infer_required: bool = False) -> list[ColumnSpec]:
    """Columns of a DuckDB table or view, in order. ``infer_required``: a column with no NULL
    in the data is marked not nullable (used when first registering an unconstrained table)."""
    rows = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
        [table],
    ).fetchall()
    if not rows:
        raise EngineError(f"Table '{table}' does not exist in the warehouse.")
    nulls: dict[str, int] = {}
    if infer_required:
        counts = ", ".join(f"count(*) - count({_q(n)})" for n, _, _ in rows)
        # names from the warehouse catalog, quoted; no caller text reaches this SQL
        vals = con.execute(f"SELECT {counts} FROM {_q(table)}").fetchone()  # noqa: S608
        nulls = {n: v for (n, _, _), v in zip(rows, vals, strict=True)}
    return [
        ColumnSpec(
            name=n,
            type=t,
            nullable=(nullable == "YES" and (not infer_required or nulls.get(n, 1) > 0)),
        )
        for n, t, nullable in rows
    ]


def schema_of_frame(df: Any) -> list[ColumnSpec]:
    """Columns of a pandas DataFrame as DuckDB types (what DuckDB would make of it)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("_incoming", df)
        rows = con.execute("DESCRIBE _incoming").fetchall()
    finally:
        con.close()
    return [ColumnSpec(name=r[0], type=r[1], nullable=True) for r in rows]


def _q(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")

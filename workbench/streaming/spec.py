"""Pipeline specs (`pipelines/<name>.yml`) parsed into typed settings.

Errors name the file, line and field, the same way semantic models do (ruamel keeps lines).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..semantic.errors import ModelError
from ..specfile import SourceMap, plain, read_yaml, validate_spec
from .quality_gate import (  # quality gate (optional `quality:` section)
    QualityGateSpec,
    spec_problems,
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TYPE = re.compile(
    r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|INT|BIGINT|HUGEINT|REAL|FLOAT|DOUBLE|VARCHAR|TEXT|DATE|"
    r"TIMESTAMP|TIMESTAMPTZ|UUID|JSON|DECIMAL\(\s*\d+\s*,\s*\d+\s*\))$",
    re.I,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchSpec(_Strict):
    max_events: int = Field(20_000, ge=1, description="Largest micro-batch, in events.")
    max_latency_ms: int = Field(
        200, ge=1, description="A batch is committed at most this long after its first event."
    )
    max_queue: int = Field(
        100_000,
        ge=1,
        description="Events buffered ahead of the applier; the reader blocks when full (backpressure).",
    )
    idle_sleep_ms: int = Field(
        20, ge=1, description="Pause between polls when the source has nothing."
    )
    linger_ms: int = Field(
        10,
        ge=0,
        description=(
            "A batch smaller than max_events is committed once no more events arrived for this long "
            "(never later than max_latency_ms after its first event)."
        ),
    )
    threads: int | None = Field(
        1,
        ge=1,
        description=(
            "DuckDB threads while a batch of fewer than threads_below events applies (None: the instance's "
            "setting). A small batch is ~24 small statements: on 2 cores one thread costs 10-25% less CPU per "
            "batch, and the source reader keeps the other core. The instance's own setting is used for larger "
            "batches and restored whenever the pipeline is idle or stops, for queries sharing the instance."
        ),
    )
    threads_below: int = Field(
        5_000, ge=1, description="Batch size from which `threads` no longer applies."
    )


class TableSpec(_Strict):
    primary_key: list[str] = Field(
        ..., min_length=1, description="Key columns of the source table."
    )
    columns: dict[str, str] = Field(
        ..., description="Column name -> DuckDB type of the silver table."
    )
    source_name: str | None = Field(
        None, description="Table name in the events if it differs (schema.table allowed)."
    )

    @field_validator("columns")
    @classmethod
    def _types(cls, v):
        for name, typ in v.items():
            if not _IDENT.match(name):
                raise ValueError(f"column name '{name}' is not a plain identifier")
            if not _TYPE.match(str(typ).strip()):
                raise ValueError(f"column '{name}': unsupported type '{typ}'")
        return v

    @model_validator(mode="after")
    def _keys(self):
        for k in self.primary_key:
            if k not in self.columns:
                raise ValueError(f"primary key column '{k}' is not in columns")
        return self


class MeasureSpec(_Strict):
    agg: Literal["sum", "count"] = Field(
        ..., description="sum or count: both can be maintained exactly from deltas."
    )
    expr: str | None = Field(None, description="SQL expression over the view's tables (sum only).")
    filter: str | None = Field(
        None, description="SQL condition; rows failing it contribute nothing."
    )

    @model_validator(mode="after")
    def _expr(self):
        if self.agg == "sum" and not self.expr:
            raise ValueError("a sum needs 'expr'")
        return self


class TimeSpec(_Strict):
    column: str = Field(..., description="Time column or SQL expression (e.g. orders.ordered_at).")
    grain: Literal["second", "minute", "hour", "day", "week", "month"] = Field(
        "minute", description="Bucket width: the time column is truncated to it."
    )
    name: str = Field("bucket", description="Name of the bucket column in the gold table.")


class JoinSpec(_Strict):
    table: str = Field(
        ...,
        description="A table of this pipeline (silver) or, with reference: true, a warehouse table.",
    )
    on: dict[str, str] = Field(
        ..., description="{column of the view's rows: column of the joined table}."
    )
    reference: bool = Field(
        False, description="A static warehouse table: its changes are not tracked."
    )
    alias: str | None = Field(
        None, description="Name the joined table goes by in expressions; default: its table name."
    )


class GoldSpec(_Strict):
    name: str = Field(..., description="Name of the gold table in the warehouse.")
    description: str | None = Field(None, description="What the gold table holds, for people.")
    from_: str = Field(..., alias="from", description="The silver table whose rows are aggregated.")
    joins: list[JoinSpec] = Field(
        default_factory=list, description="Tables joined to the rows before aggregating."
    )
    where: str | None = Field(None, description="SQL condition applied to every measure.")
    time: TimeSpec | None = Field(
        None, description="Time bucket column of the gold table; none: no time breakdown."
    )
    dimensions: dict[str, str] = Field(
        default_factory=dict, description="{output column: SQL expression}."
    )
    measures: dict[str, MeasureSpec] = Field(
        ..., min_length=1, description="{output column: aggregate}, kept incrementally."
    )
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not _IDENT.match(v):
            raise ValueError(f"'{v}' is not a plain identifier")
        return v


class SourceSpec(BaseModel):
    """kind picks the Source class; the other keys are that class's options (checked by it)."""

    model_config = ConfigDict(extra="allow")
    kind: str = Field(
        ..., description="Registered source name: embedded, postgres, redis, rabbitmq, ..."
    )

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class StorageSpec(_Strict):
    silver_prefix: str = Field("silver_", description="silver table = prefix + table name.")
    bronze_table: str = Field(
        "bronze_events", description="Append-only table of every event received."
    )
    dead_letter_table: str = Field(
        "stream_dead_letters", description="Events that could not be applied, with the reason."
    )
    checkpoint_table: str = Field(
        "stream_checkpoints", description="Source position committed with each batch, per pipeline."
    )
    bronze: bool = Field(
        True, description="Keep bronze (turn off only for benchmarks of silver/gold alone)."
    )
    checkpoint_wal_mb: int = Field(
        32,
        ge=1,
        description=(
            "Checkpoint the warehouse between batches once its write-ahead log is this large (at once when the "
            "applier has no backlog, else at twice the size), instead of inside a batch's commit."
        ),
    )
    checkpoint_wal_max_mb: int = Field(
        256,
        ge=1,
        description=(
            "DuckDB's own automatic checkpoint threshold (inside a commit): the backstop when the checkpoints "
            "between batches cannot keep up."
        ),
    )


class PipelineSpec(_Strict):
    title: str | None = Field(None, description="Name for people, in the pipeline list and status.")
    description: str | None = Field(None, description="What the pipeline keeps fresh, for people.")
    warehouse: str | None = Field(None, description="DuckDB file; default: the workbench setting.")
    source: SourceSpec = Field(..., description="Where change events come from (kind + options).")
    batch: BatchSpec = Field(BatchSpec(), description="Micro-batch sizes, latency and threads.")
    storage: StorageSpec = Field(
        StorageSpec(), description="Warehouse table names and checkpoints."
    )
    tables: dict[str, TableSpec] = Field(
        ...,
        min_length=1,
        description="{source table: key and columns}, each kept as a silver table.",
    )
    gold: list[GoldSpec] = Field(
        default_factory=list, description="Aggregate views over silver, refreshed incrementally."
    )
    metrics_port: int | None = Field(
        None, description="Serve Prometheus metrics on this port (CLI)."
    )
    reference_tables: list[str] = Field(
        default_factory=list,
        description=(
            "Warehouse tables the gold views and semantic/live.yml join to; the demo's (products, categories, "
            "regions, channels) get small stand-ins when the warehouse lacks them."
        ),
    )
    # quality gate: row-level checks per silver table, see workbench/streaming/quality_gate.py
    quality: QualityGateSpec | None = Field(
        None,
        description=(
            "Row-level checks per silver table; failing rows are quarantined and skipped by gold."
        ),
    )

    @model_validator(mode="after")
    def _refs(self):
        for i, g in enumerate(self.gold):
            if g.from_ not in self.tables:
                raise ValueError(f"gold[{i}] ({g.name}): 'from' table '{g.from_}' is not in tables")
            for j in g.joins:
                if not j.reference and j.table not in self.tables:
                    raise ValueError(
                        f"gold[{i}] ({g.name}): join table '{j.table}' is not in tables "
                        "(add it there or mark the join reference: true)"
                    )
        return self


def parse_spec(data: dict, file: str = "<spec>", root=None) -> PipelineSpec:
    if root is not None:
        spec = validate_spec(PipelineSpec, data, SourceMap(file, root))
    else:
        try:
            spec = PipelineSpec.model_validate(data)
        except ValidationError as e:
            err = e.errors()[0]
            raise ModelError(
                err["msg"].removeprefix("Value error, "), file, None, ".".join(map(str, err["loc"]))
            ) from None
    # quality gate: its tables and columns must exist (reported at the line of the check)
    for msg, path in spec_problems(spec)[:1]:
        if root is not None:
            raise SourceMap(file, root).error(msg, path)
        raise ModelError(msg, file, None, ".".join(map(str, path)))
    return spec


def load_spec(path: str | Path) -> tuple[PipelineSpec, SourceMap]:
    root, src = read_yaml(path, "a mapping with 'source' and 'tables'")
    return parse_spec(plain(root), str(path), root), src

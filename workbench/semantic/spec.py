"""Typed specification of a semantic model file (semantic/*.yml).

Every field is documented so `workbench models` and the catalog can explain it; unknown keys are
rejected so a typo is reported with its file and line instead of being ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..specfile import SourceMap

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"

DimensionType = Literal["categorical", "numeric", "boolean", "time"]
Agg = Literal["sum", "count", "count_distinct", "avg", "min", "max", "median", "percentile"]
MetricType = Literal[
    "simple",
    "ratio",
    "derived",
    "cumulative",
    "rolling",
    "period_over_period",
    "percent_of_total",
    "rank",
]
Relationship = Literal["many_to_one", "one_to_one", "one_to_many"]
Format = Literal["currency", "percent", "integer", "number", "text", "date", "datetime"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(_Spec):
    name: str = Field(pattern=IDENT, description="Identifier used in queries.")
    label: str | None = Field(None, description="Human name shown in apps.")
    description: str = Field("", description="What the member means, in business words.")
    synonyms: tuple[str, ...] = Field((), description="Other words people use for it (NLQ).")
    format: Format | None = Field(None, description="How values are displayed.")
    unit: str | None = Field(None, description="Unit of the values, e.g. EUR.")
    examples: tuple[Any, ...] = Field((), description="Example values.")

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


class Dimension(Member):
    type: DimensionType = Field("categorical", description="Kind of dimension.")
    column: str | None = Field(None, description="Column of the model's table.")
    expr: str | None = Field(None, description="Expression over the model's columns.")
    primary_key: bool = Field(False, description="Whether this dimension identifies a row.")
    metric: str | None = Field(
        None,
        description="A metric (or measure) evaluated per row of this "
        "model and used as a dimension: customers by number of orders, "
        "products by their category's average price.",
    )
    at: tuple[str, ...] | None = Field(
        None,
        description="metric: this model's dimensions the "
        "metric is grouped by (default: the primary key; [] for "
        "the grand total). Each row gets its group's value.",
    )
    filter: str | None = Field(
        None,
        description="metric: only rows matching this filter count "
        "towards the metric (the query's own filters do not apply).",
    )

    @model_validator(mode="after")
    def _column_or_expr(self) -> Self:
        if sum(bool(x) for x in (self.column, self.expr, self.metric)) > 1:
            raise ValueError("give one of 'column', 'expr' or 'metric'")
        if not self.metric and (self.at is not None or self.filter):
            raise ValueError("'at' and 'filter' belong to a dimension with 'metric'")
        if self.metric and self.type not in ("numeric", "categorical"):
            raise ValueError("a dimension with 'metric' is numeric")
        return self

    @property
    def source(self) -> str:
        return self.expr or self.column or self.name


class Measure(Member):
    agg: Agg = Field(description="Aggregation applied to expr.")
    expr: str | None = Field(None, description="Column or expression aggregated (not for count).")
    column: str | None = Field(None, description="Alias of expr for a plain column.")
    filter: str | None = Field(None, description="Only rows matching this filter are aggregated.")
    percentile: float | None = Field(None, gt=0, lt=1, description="For agg=percentile.")

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.column and self.expr:
            raise ValueError("give either 'column' or 'expr', not both")
        if self.agg == "percentile" and self.percentile is None:
            raise ValueError("agg 'percentile' needs 'percentile' (0 < p < 1)")
        if self.agg not in ("count",) and not (self.expr or self.column):
            raise ValueError(f"agg '{self.agg}' needs 'expr' or 'column'")
        return self

    @property
    def source(self) -> str | None:
        return self.expr or self.column

    @property
    def additive(self) -> bool:
        return self.agg in ("sum", "count")

    @property
    def zero_when_empty(self) -> bool:
        """Sums and counts of a group with nothing to add are 0, never NULL (docs: "Empty
        groups"): a filtered sum then behaves like a filtered count, and ratios over it stay
        defined."""
        return self.agg in ("sum", "count", "count_distinct")


class Metric(Member):
    type: MetricType = Field(description="Kind of metric.")
    measure: str | None = Field(None, description="simple: the measure it wraps.")
    filter: str | None = Field(None, description="simple: extra filter on the measure.")
    numerator: str | None = Field(None, description="ratio: numerator metric.")
    denominator: str | None = Field(None, description="ratio: denominator metric.")
    expr: str | None = Field(None, description="derived: expression over other metrics.")
    metric: str | None = Field(None, description="Window/comparison metrics: the base metric.")
    window: int | None = Field(None, ge=1, description="rolling: window size in query periods.")
    agg: Literal["sum", "avg", "min", "max"] = Field("sum", description="rolling/cumulative.")
    offset: Literal["previous_period", "same_period_last_year"] = Field(
        "previous_period", description="period_over_period: which earlier period is compared."
    )
    comparison: Literal["value", "difference", "ratio", "percent_change"] = Field(
        "percent_change",
        description="period_over_period: the earlier value itself, or current "
        "minus it, current over it, or the change in percent of it.",
    )
    within: tuple[str, ...] = Field(
        (),
        description="percent_of_total and rank: dimensions to "
        "share or rank within (each must be in the query).",
    )
    descending: bool = Field(
        True,
        description="rank: 1 is the highest value (false: the lowest). "
        "Ties share a rank, so 'rank <= 3' keeps every tied row.",
    )

    @model_validator(mode="after")
    def _required(self) -> Self:
        need = {
            "simple": ["measure"],
            "ratio": ["numerator", "denominator"],
            "derived": ["expr"],
            "cumulative": ["metric"],
            "rolling": ["metric", "window"],
            "period_over_period": ["metric"],
            "percent_of_total": ["metric"],
            "rank": ["metric"],
        }[self.type]
        missing = [f for f in need if getattr(self, f) in (None, "")]
        if missing:
            raise ValueError(f"metric type '{self.type}' needs {', '.join(missing)}")
        return self

    def references(self) -> list[str]:
        """Names of metrics or measures this metric is built on (derived: parsed elsewhere)."""
        return [r for r in (self.measure, self.numerator, self.denominator, self.metric) if r]


class Segment(Member):
    filter: str = Field(description="Reusable filter expression.")


class Join(_Spec):
    to: str = Field(description="Name of the model joined to.")
    name: str | None = Field(
        None,
        pattern=IDENT,
        description="Name of this relationship, needed "
        "when two joins lead to the same model (role-playing: ordered_by, "
        "shipped_to); queries choose one with via.",
    )
    relationship: Relationship = Field(
        "many_to_one",
        description="Rows of this model per row of the other: decides where sums would fan out.",
    )
    on: dict[str, str] = Field(description="This model's column: the other model's column.")
    required: bool = Field(
        False,
        description="Every row has a match (a valid, non-null foreign "
        "key): the engine may use an inner join, which is faster.",
    )

    @field_validator("on")
    @classmethod
    def _nonempty(cls, v: dict[str, str]) -> dict[str, str]:
        if not v:
            raise ValueError("'on' needs at least one column pair")
        return v


class RowFilter(_Spec):
    filter: str = Field(description="Filter; may use {user.ATTR}.")
    roles: tuple[str, ...] = Field((), description="Applies only to these roles (default: all).")
    unless_roles: tuple[str, ...] = Field((), description="Roles exempt from this filter.")


class ColumnPolicy(_Spec):
    members: tuple[str, ...] = Field(description="Members (dimension or measure) concerned.")
    action: Literal["hide", "mask"] = Field(
        "mask",
        description="hide: the members do not exist for "
        "these roles; mask: they exist, values masked (text) or null.",
    )
    roles: tuple[str, ...] = Field((), description="Applies only to these roles (default: all).")
    unless_roles: tuple[str, ...] = Field((), description="Roles exempt from this policy.")


class Policies(_Spec):
    row_filters: tuple[RowFilter, ...] = Field(
        (), description="Rows a principal may see, per role."
    )
    inherit: bool = Field(
        True,
        description="Hide rows whose many-to-one parent is hidden by "
        "the parent's row policies (secure by default).",
    )
    columns: tuple[ColumnPolicy, ...] = Field((), description="Members hidden or masked, per role.")


class Model(Member):
    table: str | None = Field(None, description="Table the model sits on.")
    sql: str | None = Field(None, description="Or a SQL query the model sits on.")
    primary_key: str | tuple[str, ...] | None = Field(None, description="Column(s) of a row's key.")
    default_time_dimension: str | None = Field(None, description="Time dimension for time ranges.")
    joins: tuple[Join, ...] = Field(
        (), description="Relationships to other models of the namespace."
    )
    paths: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Join-path preferences: {target model: [models or "
        "joins to go through]} when paths through this model reach the target by several "
        "equally short ways (otherwise such a query is an error naming the paths); '*' "
        "applies to every target.",
    )
    dimensions: tuple[Dimension, ...] = Field(
        (), description="What results are grouped and filtered by."
    )
    measures: tuple[Measure, ...] = Field((), description="Aggregations over the model's rows.")
    metrics: tuple[Metric, ...] = Field(
        (), description="Governed business numbers built on measures."
    )
    segments: tuple[Segment, ...] = Field((), description="Named, reusable filters.")
    policies: Policies = Field(Policies(), description="Row and column security for this model.")

    @model_validator(mode="after")
    def _source(self) -> Self:
        if bool(self.table) == bool(self.sql):
            raise ValueError("a model needs exactly one of 'table' or 'sql'")
        return self

    @property
    def key_columns(self) -> tuple[str, ...]:
        pk = self.primary_key
        return (pk,) if isinstance(pk, str) else tuple(pk or ())


class NamespaceSpec(_Spec):
    label: str | None = Field(None, description="Human name of the namespace shown in apps.")
    description: str = Field("", description="What the namespace covers, in business words.")
    version: int = Field(
        1,
        description="Version of the definitions, for people (caches key on the "
        "file's content, not this number).",
    )
    schema_: str | None = Field(None, alias="schema", description="Database schema of tables.")
    fiscal_year_start_month: int = Field(
        1,
        ge=1,
        le=12,
        description="Month the fiscal year starts (fiscal quarters and 'FY2025' follow it).",
    )
    live: bool = Field(
        False,
        description="Streaming pipelines keep the namespace's tables "
        "current: apps read it up to now (not up to its newest row) and use it "
        "only once it answers (its gold views exist).",
    )
    models: tuple[Model, ...] = Field(min_length=1, description="The namespace's models.")


@dataclass
class LoadedNamespace:
    """A namespace file as loaded: its spec and where each node came from. It lives beside the
    spec, not in the loader, so the validator and Namespace can use it without importing the
    loader (which runs the validator)."""

    name: str
    spec: NamespaceSpec
    source: SourceMap
    path: Path
    version: str  # content hash: part of every cache key
    mtime: float = 0.0
    extra: dict[str, Any] = dataclass_field(default_factory=dict)

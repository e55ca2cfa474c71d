"""What the compiler's parts share: a query's dimensions, measure uses and filters, and the state
and steps that Compiler and its mixins (Aggregation, GrainMetrics, WindowMetrics) call on one
another, declared once here so that each mixin is type-checked against them."""

from __future__ import annotations

import datetime as dt
import hashlib
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from typing import TypeVar

import ibis.expr.types as ir

from .errors import QueryError
from .namespace import Namespace, Ref
from .policy import Access
from .querydef import QuerySpec
from .relations import Relations


@dataclass(frozen=True)
class Dim:
    out: str  # output column name, as the user wrote it
    ref: Ref
    grain: str | None


@dataclass(frozen=True)
class Use:
    """A measure as used by the query, possibly with a simple metric's extra filter."""

    ref: Ref
    extra: str | None = None
    extra_model: str | None = None

    @property
    def col(self) -> str:
        base = f"__m_{self.ref.model}_{self.ref.name}"
        if not self.extra:
            return base
        return base + "_" + hashlib.sha1(self.extra.encode(), usedforsecurity=False).hexdigest()[:8]


@dataclass
class Filter:
    text: str
    prefer: str | None
    post: bool  # refers to metrics: applied after aggregation


# The query's time range: its time dimension and the half-open [start, end) it keeps.
TimeRange = tuple[Ref, dt.datetime, dt.datetime]
# Time dimensions moved by a period (period-over-period): {dimension: {"months": 1}}.
Shift = dict[Ref, dict[str, int]]
# A dimension with `metric:`, compiled: its table, (dimension, table column, keyed) per join key,
# the value column, and whether the value is additive (0 for rows with nothing to count).
GrainTable = tuple[ir.Table, list[tuple[Ref, str, bool]], str, bool]

_T = TypeVar("_T")


def required(value: _T | None, ref: Ref, field: str) -> _T:
    """A field the member's spec guarantees for its type (spec.py's validators)."""
    if value is None or value == "":
        raise QueryError(f"'{ref.qualified}' has no '{field}'.")
    return value


class CompilerParts(ABC):
    """The Compiler's state, and the steps one mixin takes from another."""

    space: Namespace
    rel: Relations
    access: Access
    spec: QuerySpec
    fiscal: int
    aliases: dict[str, str]
    stack: tuple[Ref, ...]  # dimensions-with-metric being evaluated (cycle check)
    grain: set[Ref]  # dimensions with metric: this query reads
    grain_filters: list[Filter]  # conditions a per-row metric may take inside
    grain_cache: dict[tuple[Ref, QuerySpec], GrainTable]

    @abstractmethod
    def compile(self, spec: QuerySpec) -> ir.Table:
        """Compiler."""

    @abstractmethod
    def _nested(self, stack: tuple[Ref, ...]) -> CompilerParts:
        """Compiler: a compiler for a query inside this one, sharing its grain tables."""

    @abstractmethod
    def _closure(self, refs: list[Ref]) -> list[Ref]:
        """Compiler."""

    @abstractmethod
    def _uses(self, ref: Ref) -> list[Use]:
        """Compiler."""

    @abstractmethod
    def _value(self, ref: Ref, t: ir.Table) -> ir.Value:
        """Compiler."""

    @abstractmethod
    def _aggregate(
        self,
        dims: list[Dim],
        uses: Collection[Use],
        pre: list[Filter],
        trange: TimeRange | None,
        shift: Shift | None = None,
    ) -> ir.Table:
        """Aggregation."""

    @abstractmethod
    def _with_grain(self, w: ir.Table, models: set[str]) -> ir.Table:
        """GrainMetrics."""

    @abstractmethod
    def _additive(self, ref: Ref) -> bool:
        """GrainMetrics."""

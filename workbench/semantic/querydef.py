"""The typed description of one semantic query, normalised so equal queries hash equally."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import QueryError

# What callers may pass (wb.query): names or expressions, comma-separated text, and
# dictionaries shaped like YAML members (metrics, dimensions) or structured filters (where).
MemberItems = str | dict[str, Any] | Iterable[str | dict[str, Any]] | None
Definitions = dict[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]] | None
Names = str | Iterable[object] | None


def _tuple(v: Names) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return tuple(x.strip() for x in v.split(",") if x.strip())
    return tuple(str(x).strip() for x in v if str(x).strip())


@dataclass(frozen=True)
class QuerySpec:
    namespace: str
    model: str | None = None  # preferred model for unqualified names
    metrics: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    grain: str | None = None
    where: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    time_range: str | None = None
    time_dimension: str | None = None
    order: tuple[str, ...] = ()
    limit: int | None = None
    via: tuple[str, ...] = ()  # join path choice: models or joins to go through
    define: tuple[str, ...] = ()  # query-time members, as sorted JSON (adhoc.py)
    distinct: bool = False  # detail queries: one row per distinct combination
    today: dt.date | None = field(default=None)  # anchor for relative time ranges

    @classmethod
    def build(
        cls,
        target: str,
        metrics: MemberItems = None,
        dimensions: MemberItems = None,
        where: MemberItems = None,
        segments: Names = None,
        order: Names = None,
        define: Definitions = None,
        top: dict[str, Any] | None = None,
        **kw: Any,
    ) -> QuerySpec:
        from .adhoc import freeze, normalise

        namespace, _, model = target.partition(".")
        defs = (
            [dict(v, name=k) for k, v in define.items()]
            if isinstance(define, dict)
            else [dict(d) for d in define or ()]
        )
        if isinstance(metrics, (str, dict)):
            metrics = [metrics] if isinstance(metrics, dict) or "(" in metrics else metrics
        if isinstance(dimensions, (str, dict)):
            dimensions = (
                [dimensions] if isinstance(dimensions, dict) or "(" in dimensions else dimensions
            )
        metric_tokens = normalise(_items(metrics), "metric", defs)
        dimension_tokens = normalise(_items(dimensions), "dimension", defs)
        limit = kw.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise QueryError(f"limit must be a non-negative whole number, not {limit!r}.")
        given = (where,) if isinstance(where, (str, dict)) else tuple(where or ())
        where_t = tuple(structured_filter(w) if isinstance(w, dict) else w for w in given)
        if top is not None:
            rank, cond = top_filter(top)
            defs.append(rank)
            where_t = tuple(where_t) + (cond,)
        spec = cls(
            namespace=namespace,
            model=model or kw.pop("model", None),
            metrics=metric_tokens,
            dimensions=dimension_tokens,
            define=freeze(defs),
            where=tuple(w for w in where_t if w and w.strip()),
            segments=_tuple(segments),
            order=_tuple(order),
            **{**kw, "via": _tuple(kw.get("via"))},
        )
        if not spec.metrics and not spec.dimensions:
            raise QueryError("A query needs at least one metric or dimension.")
        return spec

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    @property
    def is_detail(self) -> bool:
        return not self.metrics


def _items(v: MemberItems) -> tuple[str | dict[str, Any], ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return tuple(x.strip() for x in v.split(",") if x.strip())
    return tuple(
        x if isinstance(x, dict) else str(x).strip()
        for x in v
        if isinstance(x, dict) or str(x).strip()
    )


def top_filter(top: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """top={"n": 3, "by": "revenue", "per": ["region"]}: a rank metric within the groups and a
    filter keeping ranks <= n. Ties share a rank, so every tied row is kept."""
    if not isinstance(top, dict) or set(top) - {"n", "by", "per", "lowest"} or "by" not in top:
        raise QueryError(
            "top needs {'n': N, 'by': metric, 'per': [dimensions]} "
            f"(optional 'lowest': true); got {top!r}."
        )
    n = top.get("n", 1)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise QueryError(f"top 'n' must be a whole number >= 1, not {n!r}.")
    per = top.get("per") or []
    per = [per] if isinstance(per, str) else list(per)
    digest = hashlib.sha1(json.dumps(top, sort_keys=True).encode(), usedforsecurity=False)
    name = "top_rank_" + digest.hexdigest()[:8]
    rank = {
        "name": name,
        "kind": "metric",
        "type": "rank",
        "metric": str(top["by"]),
        "within": per,
        "descending": not top.get("lowest", False),
        "label": f"rank by {top['by']}",
    }
    return rank, f"{name} <= {n}"


_OPS = {
    "=": "eq",
    "==": "eq",
    "eq": "eq",
    "!=": "neq",
    "neq": "neq",
    "<": "lt",
    "lt": "lt",
    "<=": "lte",
    "lte": "lte",
    ">": "gt",
    "gt": "gt",
    ">=": "gte",
    "gte": "gte",
    "in": "in",
    "not_in": "not_in",
    "between": "between",
    "like": "like",
    "is_null": "is_null",
    "not_null": "not_null",
}


def structured_filter(f: Mapping[str, Any]) -> str:
    """{"member": "region", "op": "in", "values": ["North"]} -> a filter in the expression
    language. The tree is built node by node with sqlglot, so values are always quoted literals."""
    from sqlglot import exp

    extra = set(f) - {"member", "op", "value", "values"}
    if "member" not in f or extra:
        raise QueryError(
            f"A structured filter needs 'member', 'op' and 'value' or 'values' (got {sorted(f)})."
        )
    op = _OPS.get(str(f.get("op", "=")).lower())
    if op is None:
        raise QueryError(
            f"Unknown filter operator {f.get('op')!r}; use one of {sorted(set(_OPS))}."
        )
    parts = str(f["member"]).split(".")
    if len(parts) > 2 or not all(p.isidentifier() for p in parts):
        raise QueryError(f"Bad member name {f['member']!r} in a structured filter.")
    col = exp.column(parts[-1], table=parts[0] if len(parts) == 2 else None)

    def lit(v: object) -> exp.Expr:
        if v is None:
            return exp.null()
        if isinstance(v, bool):
            return exp.true() if v else exp.false()
        if isinstance(v, (int, float)):
            return exp.Literal.number(v)
        return exp.Literal.string(str(v))

    values = f.get("values", [f["value"]] if "value" in f else [])
    node: exp.Expr
    if op in ("is_null", "not_null"):
        node = exp.Is(this=col, expression=exp.null())
        node = exp.Not(this=node) if op == "not_null" else node
    elif op in ("in", "not_in"):
        node = exp.In(this=col, expressions=[lit(v) for v in values])
        node = exp.Not(this=node) if op == "not_in" else node
    elif op == "between":
        if len(values) != 2:
            raise QueryError("'between' needs two values.")
        node = exp.Between(this=col, low=lit(values[0]), high=lit(values[1]))
    else:
        if len(values) != 1:
            raise QueryError(f"'{f.get('op')}' needs one value.")
        cls = {
            "eq": exp.EQ,
            "neq": exp.NEQ,
            "lt": exp.LT,
            "lte": exp.LTE,
            "gt": exp.GT,
            "gte": exp.GTE,
            "like": exp.Like,
        }[op]
        node = cls(this=col, expression=lit(values[0]))
    return node.sql(dialect="duckdb")

"""Query-time members: measures, metrics and dimensions a query defines for itself.

`wb.query(..., define={...})`, dictionaries in `metrics=`/`dimensions=`, expressions written in
place of a name (`count_distinct(s_suppkey)`, `year(o_orderdate)`, `gross_revenue / 7`) and the
`model.metric` shorthand (`customer.order_count`: the metric per customer, as a dimension) all
become members of an overlay of the namespace that lives for one query. They are typed by the
same specs as YAML members and compiled by the same code, so fan-out safety, row and column
policies apply to them exactly as to members a model declares.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import sqlglot
from pydantic import BaseModel, ValidationError
from sqlglot import exp

from .errors import QueryError
from .expr import column_refs, parse
from .namespace import Namespace
from .spec import Dimension, Measure, Metric

if TYPE_CHECKING:  # querydef imports this module
    from .querydef import QuerySpec

# A query-time member as added to a model: (model, "measures"|"metrics"|"dimensions", spec).
Added = tuple[str, str, Dimension | Measure | Metric]
_Spec = TypeVar("_Spec", bound=BaseModel)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")
_AGGS = {
    exp.Sum: "sum",
    exp.Avg: "avg",
    exp.Min: "min",
    exp.Max: "max",
    exp.Count: "count",
    exp.Median: "median",
}
_METRIC_TYPES = {
    "simple",
    "ratio",
    "derived",
    "cumulative",
    "rolling",
    "period_over_period",
    "percent_of_total",
    "rank",
}


def is_name(token: str) -> bool:
    return bool(_NAME.match(token.strip()))


def internal_name(text: str) -> str:
    return "q_" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:10]


def normalise(
    items: Iterable[str | dict[str, Any]], kind: str, define: list[dict[str, Any]]
) -> tuple[str, ...]:
    """metrics=/dimensions= items as tokens; dictionaries become `define` entries."""
    out = []
    for item in items or ():
        if isinstance(item, dict):
            if not item.get("name"):
                raise QueryError(f"A {kind} given as a dictionary needs a 'name' (got {item}).")
            define.append(dict(item, kind=kind))
            out.append(str(item["name"]))
        else:
            out.append(str(item).strip())
    return tuple(out)


def freeze(
    define: dict[str, Mapping[str, Any]] | Iterable[Mapping[str, Any]] | None,
) -> tuple[str, ...]:
    """Definitions as sorted JSON strings: hashable, and equal queries hash equally."""
    if not define:
        return ()
    items = [dict(v, name=k) for k, v in define.items()] if isinstance(define, dict) else define
    return tuple(sorted(json.dumps(d, sort_keys=True, default=str) for d in items))


def overlay(space: Namespace, spec: QuerySpec) -> tuple[Namespace, dict[str, str]]:
    """The namespace with the query's own members, and {token as written: member name}."""
    defs = [json.loads(d) for d in spec.define]
    aliases: dict[str, str] = {}
    for tok in spec.metrics:
        if not is_name(tok):
            defs.append({"name": internal_name(tok), "expression": tok, "kind": "metric"})
            aliases[tok] = internal_name(tok)
    for tok in spec.dimensions:
        base = tok.rsplit("__", 1)[0] if "__" in tok and is_name(tok.rsplit("__", 1)[0]) else tok
        if not is_name(base):
            defs.append({"name": internal_name(tok), "expr": tok, "kind": "dimension"})
            aliases[tok] = internal_name(tok)
    texts = (
        list(spec.dimensions)
        + list(spec.where)
        + [o.lstrip("-").split()[0] for o in spec.order if o.strip()]
    )
    defs += _per_entity_shorthands(space, texts, {d["name"] for d in defs})
    if not defs:
        return space, aliases
    models = {m.name: m for m in space.spec.models}
    added: dict[str, dict[str, list[Dimension | Measure | Metric]]] = {}
    for d in defs:
        for model, kind, member in _members(space, spec, d):
            if model not in models:
                raise QueryError(f"'{d.get('name')}' is defined on unknown model '{model}'.")
            added.setdefault(model, {}).setdefault(kind, []).append(member)
    new_models = []
    for m in space.spec.models:
        extra = added.get(m.name)
        if extra:
            m = m.model_copy(update={k: getattr(m, k) + tuple(v) for k, v in extra.items()})
        new_models.append(m)
    nspec = space.spec.model_copy(update={"models": tuple(new_models)})
    blob = "\n".join(spec.define).encode() + repr(sorted(aliases)).encode()
    version = space.version + "+" + hashlib.sha1(blob, usedforsecurity=False).hexdigest()[:12]
    out = Namespace(replace(space.loaded, spec=nspec, version=version))
    _check(
        out,
        {(m, member.name) for m, kinds in added.items() for ms in kinds.values() for member in ms},
    )
    return out, aliases


def _per_entity_shorthands(
    space: Namespace, texts: list[str], taken: set[str]
) -> list[dict[str, Any]]:
    """`customer.order_count` where customer has no such dimension but order_count is a metric:
    the metric per customer (grouped by the customer's key), as a dimension of customer."""
    out: list[dict[str, Any]] = []
    seen = set(taken)
    for text in texts:
        head, dot, tail = text.partition(".")
        try:
            refs = (
                column_refs(parse(text))
                if not is_name(text)
                else [(head, tail) if dot else (None, text)]
            )
        except QueryError:
            continue
        for q, n in refs:
            if not q or q not in space.models or f"{q}.{n}" in seen:
                continue
            try:
                space.resolve(f"{q}.{n}", ("dimension",))
                continue
            except QueryError:
                pass
            try:
                met = space.resolve(n, ("metric", "measure"), prefer=q)
            except QueryError:
                continue
            seen.add(f"{q}.{n}")
            out.append(
                {
                    "name": n,
                    "model": q,
                    "metric": met.qualified,
                    "kind": "dimension",
                    "description": f"{met.qualified} per {q}",
                }
            )
    return out


def _members(space: Namespace, spec: QuerySpec, d: dict[str, Any]) -> Iterator[Added]:
    """(model, 'measures'|'metrics'|'dimensions', member spec) for one definition."""
    d = dict(d)
    kind = d.pop("kind", None)
    name = str(d.pop("name"))
    model = d.pop("model", None)
    if "." in name:
        model, name = name.split(".", 1)
    if "expression" in d:
        yield from _expression_metric(space, spec, name, model, d.pop("expression"))
        return
    if "agg" in d:
        model = model or _owner(space, spec, d.get("expr") or d.get("column"), name)
        yield model, "measures", _typed(Measure, dict(d, name=name), name)
        return
    if kind == "metric" or d.get("type") in _METRIC_TYPES or {"numerator", "measure"} & set(d):
        if "type" not in d:
            d["type"] = "derived" if "expr" in d else "simple" if "measure" in d else "ratio"
        model = model or _metric_owner(space, spec, d, name)
        yield model, "metrics", _typed(Metric, dict(d, name=name), name)
        return
    if d.get("metric"):
        if not model:
            raise QueryError(
                f"'{name}' evaluates '{d['metric']}' per row of a model: say which "
                "with 'model' (e.g. model: customer)."
            )
        d.setdefault("type", "numeric")
    else:
        model = model or _owner(space, spec, d.get("expr"), name)
        d.setdefault("type", "numeric" if d.get("expr") else "categorical")
    yield model, "dimensions", _typed(Dimension, dict(d, name=name), name)


def _typed(cls: type[_Spec], data: dict[str, Any], name: str) -> _Spec:
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "definition"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        raise QueryError(f"Query-time member '{name}': {where}: {msg}.") from None


def _owner(space: Namespace, spec: QuerySpec, text: str | None, name: str) -> str:
    """The model an expression over dimensions belongs to: the one whose rows reach every
    other referenced model many-to-one (the finest grain)."""
    if not text:
        if spec.model:
            return spec.model
        raise QueryError(f"'{name}' needs a model (e.g. model: orders) or an expression.")
    models: list[str] = []
    for q, n in column_refs(parse(text)):
        ref = space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=spec.model)
        if ref.model not in models:
            models.append(ref.model)
    if not models:
        if spec.model:
            return spec.model
        raise QueryError(f"'{name}' refers to no dimension; say which model it belongs to.")
    for m in models:
        try:
            tree = space.tree(m, set(models) - {m}, spec.via)
        except QueryError:
            continue
        if not any(e.fans_out for e in tree.values()):
            return m
    raise QueryError(
        f"'{text}' mixes models ({', '.join(models)}) none of whose rows reach the "
        "others many-to-one; define it on one model with 'model'."
    )


def _metric_owner(space: Namespace, spec: QuerySpec, d: dict[str, Any], name: str) -> str:
    for key in ("metric", "measure", "numerator"):
        if d.get(key):
            return space.resolve(d[key], ("metric", "measure"), prefer=spec.model).model
    if d.get("expr"):
        for q, n in column_refs(parse(d["expr"])):
            return space.resolve(
                f"{q}.{n}" if q else n, ("metric", "measure"), prefer=spec.model
            ).model
    if spec.model:
        return spec.model
    raise QueryError(
        f"Query-time metric '{name}' refers to no metric; say which model it "
        "belongs to with 'model'."
    )


def _expression_metric(
    space: Namespace, spec: QuerySpec, name: str, model: str | None, text: str
) -> Iterator[Added]:
    """`count_distinct(s_suppkey)`, `sum(case ... end)`, `gross_revenue / 7.0`, or a mix:
    each aggregate call becomes a measure, the rest a derived metric over them."""
    try:
        tree = sqlglot.parse_one(text, read="duckdb")
    except sqlglot.errors.ParseError as e:
        first = e.errors[0]["description"] if e.errors else str(e)
        raise QueryError(f"cannot parse metric {text!r}: {first}") from None
    measures: list[tuple[str, Measure]] = []
    default_owner = [model]

    def agg_of(node: exp.Expr) -> tuple[str, exp.Expr | None] | None:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "count_distinct":
            return "count_distinct", node.expressions[0] if node.expressions else None
        for cls, agg in _AGGS.items():
            if type(node) is cls:
                arg = node.this
                if isinstance(arg, exp.Distinct):
                    if agg != "count":
                        raise QueryError(f"only count(distinct ...) is supported in {text!r}")
                    return "count_distinct", arg.expressions[0]
                return agg, (None if isinstance(arg, exp.Star) else arg)
        return None

    def swap(node: exp.Expr) -> exp.Expr:
        found = agg_of(node)
        if found is None:
            return node
        agg, arg = found
        arg_sql = arg.sql(dialect="duckdb") if arg is not None else None
        if agg != "count" and arg_sql is None:
            raise QueryError(f"{agg}() needs an expression in {text!r}")
        if arg_sql is not None:
            parse(arg_sql)  # the whitelist of the expression language
        if arg_sql is None:
            counted = default_owner[0] or spec.model
            if not counted:
                raise QueryError(
                    f"count(*) in {text!r} needs a model: count a column "
                    "(count(o_orderkey)) or query a model (e.g. 'tpch.orders')."
                )
            owner = counted
        else:
            owner = model or _owner(space, spec, arg_sql, text)
        mname = internal_name(f"{agg}:{arg_sql}:{owner}")
        data = {"name": mname, "agg": agg, "description": f"{agg}({arg_sql or '*'})"}
        if arg_sql is not None:
            data["expr"] = _qualify(space, owner, arg_sql, spec)
        measures.append((owner, _typed(Measure, data, text)))
        return exp.column(mname, table=owner)

    if model is None:  # count(*) beside other aggregates counts their model's rows
        for node in tree.walk():
            found = agg_of(node)
            if found and found[1] is not None:
                default_owner[0] = _owner(space, spec, found[1].sql(dialect="duckdb"), text)
                break
    if agg_of(tree) is not None:
        swap(tree)
        owner, m = measures[0]
        yield owner, "measures", m.model_copy(update={"name": name, "label": text})
        return
    rewritten = tree.transform(swap)
    for owner, m in measures:
        yield owner, "measures", m
    expr_text = rewritten.sql(dialect="duckdb")
    parse(expr_text)
    owner = model or (
        measures[0][0] if measures else _metric_owner(space, spec, {"expr": expr_text}, text)
    )
    yield (
        owner,
        "metrics",
        _typed(Metric, {"name": name, "type": "derived", "expr": expr_text, "label": text}, text),
    )


def _qualify(space: Namespace, owner: str, text: str, spec: QuerySpec) -> str:
    """Names in a query-time measure are dimensions of any model; the measure, compiled in its
    owner's terms, reads its owner's dimensions by bare name and the others' qualified."""
    tree = parse(text).copy()
    for col in tree.find_all(exp.Column):
        q, n = col.table or None, col.name
        ref = space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=spec.model or owner)
        col.set("this", exp.to_identifier(ref.name))
        col.set("table", None if ref.model == owner else exp.to_identifier(ref.model))
    return tree.sql(dialect="duckdb")


def _check(space: Namespace, new: set[tuple[str, str]]) -> None:
    """References of the new members resolve (a clear error now, not an engine error later)."""
    from .validate import metric_dependencies

    for ref in space.members:
        if (ref.model, ref.name) not in new:
            continue
        try:
            if ref.kind == "metric":
                metric_dependencies(space, ref)
            elif ref.kind == "dimension" and (dim := space.dimension(ref)).metric:
                space.resolve(dim.metric, ("metric", "measure"), prefer=ref.model)
        except QueryError as e:
            raise QueryError(f"Query-time member '{ref.qualified}': {e}") from None

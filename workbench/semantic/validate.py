"""Checks a namespace beyond its types: names, references, cycles, expressions, policies, and
(once a warehouse is at hand) that every column exists. Each problem names file, line, field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlglot import exp

from ..specfile import SourceMap
from .errors import QueryError, closest
from .expr import column_refs, parse
from .model_sql import ModelSQLError, parse_model_sql
from .spec import LoadedNamespace

if TYPE_CHECKING:
    from .namespace import Namespace, Ref

# Where a problem is in a model file: ("models", 0, "measures", 2, "expr").
FieldPath = tuple[str | int, ...]


def validate_namespace(ns: LoadedNamespace) -> None:
    from .namespace import Namespace

    src, spec = ns.source, ns.spec
    seen_models: dict[str, int] = {}
    for i, m in enumerate(spec.models):
        if m.name in seen_models:
            raise src.error(f"duplicate model name '{m.name}'", ("models", i, "name"))
        seen_models[m.name] = i
    space = Namespace(ns)
    for i, m in enumerate(spec.models):
        base: FieldPath = ("models", i)
        path: FieldPath
        if m.sql:
            try:
                parse_model_sql(m.sql)
            except ModelSQLError as e:
                raise src.error(str(e), base + ("sql",)) from None
        names: dict[str, str] = {}
        for kind in ("dimensions", "measures", "metrics", "segments"):
            for j, item in enumerate(getattr(m, kind)):
                prev = names.get(item.name)
                # a metric may share its measure's name only when it wraps that measure
                if prev and not (kind == "metrics" and prev == "measures"):
                    raise src.error(
                        f"duplicate name '{item.name}' in model '{m.name}' (already a {prev[:-1]})",
                        base + (kind, j, "name"),
                    )
                names[item.name] = kind
        targets: dict[str, list[str | None]] = {}
        for j, join in enumerate(m.joins):
            if join.to not in seen_models:
                raise src.error(
                    f"join to unknown model '{join.to}'" + _did_you_mean(join.to, seen_models),
                    base + ("joins", j, "to"),
                )
            others = targets.setdefault(join.to, [])
            if others and (join.name is None or None in others or join.name in others):
                raise src.error(
                    f"model '{m.name}' joins '{join.to}' more than once: give each "
                    "of these joins its own name (e.g. name: shipped_to)",
                    base + ("joins", j, "name"),
                )
            others.append(join.name)
        joins = {jn.name for mm in spec.models for jn in mm.joins if jn.name}
        for target, via in m.paths.items():
            if target not in seen_models and target != "*":
                raise src.error(
                    f"paths names unknown model '{target}'" + _did_you_mean(target, seen_models),
                    base + ("paths", target),
                )
            for v in via:
                if v not in seen_models and v not in joins:
                    raise src.error(
                        f"paths: '{v}' is not a model or join name"
                        + _did_you_mean(v, list(seen_models) + sorted(joins)),
                        base + ("paths", target),
                    )
        own = {d.name for d in m.dimensions}
        for j, d in enumerate(m.dimensions):
            if d.expr:
                _parse(src, d.expr, base + ("dimensions", j, "expr"))
            if d.metric:
                path = base + ("dimensions", j)
                try:
                    space.resolve(d.metric, ("metric", "measure"), prefer=m.name)
                except QueryError as e:
                    raise src.error(str(e), path + ("metric",)) from None
                for k, a in enumerate(d.at or ()):
                    if a not in own:
                        raise src.error(
                            f"'at' names '{a}', which is not a dimension of model "
                            f"'{m.name}'" + _did_you_mean(a, own),
                            path + ("at", k),
                        )
                if d.filter:
                    _parse(src, d.filter, path + ("filter",))
        for j, me in enumerate(m.measures):
            for f in ("expr", "filter"):
                if getattr(me, f):
                    _check_refs(
                        space,
                        m.name,
                        _parse(src, getattr(me, f), base + ("measures", j, f)),
                        src,
                        base + ("measures", j, f),
                    )
        for j, s in enumerate(m.segments):
            _check_refs(
                space,
                m.name,
                _parse(src, s.filter, base + ("segments", j, "filter")),
                src,
                base + ("segments", j, "filter"),
            )
        for j, rf in enumerate(m.policies.row_filters):
            path = base + ("policies", "row_filters", j, "filter")
            tree = _parse(src, rf.filter, path)
            _check_refs(space, m.name, tree, src, path)
            for q, n in column_refs(tree):
                try:
                    ref = space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=m.name)
                except QueryError:
                    continue
                if space.dimension(ref).metric:
                    raise src.error(
                        f"a row policy cannot use '{ref.qualified}', a metric per "
                        "row (policies are applied before anything is aggregated)",
                        path,
                    )
        for j, cp in enumerate(m.policies.columns):
            for member in cp.members:
                try:
                    space.resolve(member, ("dimension", "measure", "metric"), prefer=m.name)
                except QueryError as e:
                    raise src.error(
                        f"policy names unknown member: {e}",
                        base + ("policies", "columns", j, "members"),
                    ) from None
        if m.default_time_dimension:
            try:
                ref = space.resolve(m.default_time_dimension, ("dimension",), prefer=m.name)
                if space.dimension(ref).type != "time":
                    raise QueryError("not a time dimension")
            except QueryError:
                raise src.error(
                    f"default_time_dimension '{m.default_time_dimension}' is not a time dimension",
                    base + ("default_time_dimension",),
                ) from None
        for j, met in enumerate(m.metrics):
            path = base + ("metrics", j)
            for field in ("measure", "numerator", "denominator", "metric"):
                ref = getattr(met, field)
                if ref:
                    kinds = ("measure",) if field == "measure" else ("measure", "metric")
                    try:
                        space.resolve(ref, kinds, prefer=m.name)
                    except QueryError as e:
                        raise src.error(str(e), path + (field,)) from None
            if met.expr:
                tree = _parse(src, met.expr, path + ("expr",))
                for q, name in column_refs(tree):
                    try:
                        space.resolve(
                            f"{q}.{name}" if q else name, ("measure", "metric"), prefer=m.name
                        )
                    except QueryError as e:
                        raise src.error(f"derived metric refers to {e}", path + ("expr",)) from None
            for k, dim in enumerate(met.within):
                try:
                    space.resolve(dim, ("dimension",), prefer=m.name)
                except QueryError as e:
                    raise src.error(str(e), path + ("within", k)) from None
    _check_cycles(space)


def _did_you_mean(name: str, cands: Iterable[str]) -> str:
    hits = closest(name, cands)
    return f" (did you mean {', '.join(hits)}?)" if hits else ""


def _parse(src: SourceMap, text: str, path: FieldPath) -> exp.Expr:
    try:
        return parse(text)
    except QueryError as e:
        raise src.error(str(e), path) from None


def _check_refs(
    space: Namespace, model: str, tree: exp.Expr, src: SourceMap, path: FieldPath
) -> None:
    """Qualified references (other_model.dimension) must name a dimension; unqualified ones are
    columns, checked against the table once the warehouse is bound."""
    for q, name in column_refs(tree):
        if q and q not in space.models:
            raise src.error(
                f"unknown model '{q}' in '{q}.{name}'" + _did_you_mean(q, space.models), path
            )
        if q:
            try:
                space.resolve(f"{q}.{name}", ("dimension",))
            except QueryError as e:
                raise src.error(str(e), path) from None


def metric_dependencies(space: Namespace, ref: Ref) -> list[Ref]:
    """Direct dependencies (Refs) of a metric."""
    met = space.metric(ref)
    deps = []
    for field, name in (
        ("measure", met.measure),
        ("numerator", met.numerator),
        ("denominator", met.denominator),
        ("metric", met.metric),
    ):
        if name:
            kinds = ("measure",) if field == "measure" else ("metric", "measure")
            deps.append(space.resolve(name, kinds, prefer=ref.model))
    if met.type == "derived" and met.expr:  # a derived metric has an expr (spec.Metric)
        for q, name in column_refs(parse(met.expr)):
            deps.append(
                space.resolve(f"{q}.{name}" if q else name, ("metric", "measure"), prefer=ref.model)
            )
    return deps


def _check_cycles(space: Namespace) -> None:
    state: dict[Ref, str] = {}
    model_index = {m: i for i, m in enumerate(space.models)}

    def visit(ref: Ref, stack: list[Ref]) -> None:
        if state.get(ref) == "done":
            return
        if state.get(ref) == "active":
            cycle = " -> ".join(r.qualified for r in stack[stack.index(ref) :] + [ref])
            m = space.models[ref.model]
            j = [x.name for x in m.metrics].index(ref.name)
            raise space.loaded.source.error(
                f"cycle in metric definitions: {cycle}",
                ("models", model_index[ref.model], "metrics", j),
            )
        state[ref] = "active"
        for dep in metric_dependencies(space, ref):
            if dep.kind == "metric":
                visit(dep, stack + [ref])
        state[ref] = "done"

    for ref in space.members:
        if ref.kind == "metric":
            visit(ref, [])


def bind_check(space: Namespace, schemas: dict[str, dict[str, str]]) -> None:
    """Every column a model uses exists in its table. `schemas`: model -> {column: type}."""
    src = space.loaded.source
    idx = {m: i for i, m in enumerate(space.models)}
    for name, m in space.models.items():
        cols = schemas.get(name)
        if cols is None:
            continue
        base: FieldPath = ("models", idx[name])
        where = f"table '{m.table}'" if m.table else "the model's SQL"

        def need(
            col: str, path: FieldPath, what: str, cols: dict[str, str] = cols, where: str = where
        ) -> None:
            if col not in cols:
                raise src.error(
                    f"unknown column '{col}' in {where} ({what})" + _did_you_mean(col, cols), path
                )

        for k in m.key_columns:
            need(k, base + ("primary_key",), "primary_key")
        for j, d in enumerate(m.dimensions):
            path = base + ("dimensions", j)
            if d.metric:
                continue  # computed by a query, not read from the table
            if d.expr:
                for q, c in column_refs(parse(d.expr)):
                    if not q:
                        need(c, path + ("expr",), f"dimension {d.name}")
            else:
                need(
                    d.column or d.name,
                    path + (("column",) if d.column else ("name",)),
                    f"dimension {d.name}",
                )
        for j, me in enumerate(m.measures):
            for f in ("expr", "column", "filter"):
                text = getattr(me, f)
                if text:
                    for q, c in column_refs(parse(text)):
                        if not q and c not in cols:
                            # a measure filter may name a dimension of its own model
                            if f == "filter" and any(d.name == c for d in m.dimensions):
                                continue
                            need(c, base + ("measures", j, f), f"measure {me.name}")
        for j, join in enumerate(m.joins):
            other = schemas.get(join.to)
            for a, b in join.on.items():
                if a not in cols:
                    raise src.error(
                        f"unknown join key '{a}' in {where}" + _did_you_mean(a, cols),
                        base + ("joins", j, "on"),
                    )
                if other is not None and b not in other:
                    raise src.error(
                        f"unknown join key '{b}' in model '{join.to}'" + _did_you_mean(b, other),
                        base + ("joins", j, "on"),
                    )

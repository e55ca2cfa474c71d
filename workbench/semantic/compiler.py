"""Compile a QuerySpec into one Ibis expression.

Plan: every measure is aggregated at its own model's grain (joined only to the models it needs),
the per-model aggregates are joined on the query's dimensions, and metrics are computed over
that. This is what makes sums immune to fan-out and chasm traps. Window and comparison metrics
(cumulative, rolling, period-over-period, percent-of-total) are auxiliary aggregates joined in.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from sqlglot import exp

from .aggregation import Aggregation
from .compiler_parts import Dim, Filter, GrainTable, TimeRange, Use, required
from .errors import QueryError, UnknownMemberError
from .expr import Resolver, Translator, column_refs, parse
from .grain_metrics import GrainMetrics, coalesce_additive
from .namespace import AmbiguousPathError, Namespace, Ref
from .policy import Access
from .querydef import QuerySpec
from .relations import Relations
from .timegrain import GRAINS, check_grain, parse_time_range
from .validate import metric_dependencies
from .window_metrics import WindowMetrics


class Compiler(Aggregation, GrainMetrics, WindowMetrics):
    def __init__(
        self,
        space: Namespace,
        relations: Relations,
        access: Access,
        aliases: dict[str, str] | None = None,
        stack: tuple[Ref, ...] = (),
        grain_cache: dict[tuple[Ref, QuerySpec], GrainTable] | None = None,
    ):
        self.space, self.rel, self.access = space, relations, access
        self.aliases = aliases or {}
        self.stack = stack  # dimensions-with-metric being evaluated (cycle check)
        self.grain = set()  # dimensions with metric: this query reads
        self.grain_filters = []  # conditions a per-row metric may take inside
        # their compiled tables, built once per query (nested compilations share it)
        self.grain_cache = {} if grain_cache is None else grain_cache

    def _nested(self, stack: tuple[Ref, ...]) -> Compiler:
        return type(self)(
            self.space, self.rel, self.access, stack=stack, grain_cache=self.grain_cache
        )

    # entry --------------------------------------------------------------------------------
    def compile(self, spec: QuerySpec) -> ir.Table:
        self.spec = spec
        self.fiscal = self.space.spec.fiscal_year_start_month
        prefer = spec.model
        if prefer and prefer not in self.space.models:
            raise UnknownMemberError(prefer, "model", self.space.models)
        dims = [self._dim(tok) for tok in spec.dimensions]
        if spec.grain and not any(self.space.dimension(d.ref).type == "time" for d in dims):
            raise QueryError(
                f"grain '{spec.grain}' needs a time dimension in the query "
                "(e.g. add order_date to the dimensions)."
            )
        if len({d.out for d in dims}) != len(dims):
            raise QueryError("A dimension is listed twice.")
        mets = [(tok, self._metric_ref(tok)) for tok in spec.metrics]
        filters = [self._classify(c, prefer) for w in spec.where for c in _conjuncts(w)]
        for seg in spec.segments:
            ref = self.space.resolve(seg, ("segment",), prefer=prefer)
            filters.append(Filter(self.space.segment(ref).filter, ref.model, False))
        for f in filters:
            self._check_filter(f)
        trange = self._time_range(spec, dims, [r for _, r in mets])
        if spec.is_detail:
            if any(f.post for f in filters):
                names = [r.qualified for f in filters if f.post for r in self._filter_metrics(f)]
                raise QueryError(
                    "Filters on metrics need at least one metric in the query "
                    f"({', '.join(names)}). To filter rows by a metric per row, "
                    "name the entity: e.g. 'customer.order_count > 2' evaluates "
                    "order_count per customer."
                )
            self.grain = self._grain_refs(dims, filters, trange, [])
            self.grain_filters = filters
            return self._finish(self._detail(dims, filters, trange), dims, mets, [])
        closure = self._closure(
            [r for _, r in mets] + [r for f in filters if f.post for r in self._filter_metrics(f)]
        )
        uses = {u for r in closure for u in self._uses(r)}
        pre = [f for f in filters if not f.post]
        self.grain = self._grain_refs(dims, pre, trange, uses)
        self.grain_filters = pre
        main = self._aggregate(dims, uses, pre, trange)
        for ref in closure:
            main = self._attach_aux(main, ref, dims, pre, trange)
        post = [f for f in filters if f.post]
        if post:
            resolve = self._post_resolver(main, dims)
            main = main.filter([Translator(resolve, {}, f.text)(parse(f.text)) for f in post])
        out = main.select(
            [main[d.out] for d in dims] + [self._value(ref, main).name(tok) for tok, ref in mets]
        )
        return self._finish(out, dims, mets, [])

    # resolution ---------------------------------------------------------------------------
    def _dim(self, token: str) -> Dim:
        name, grain = self.aliases.get(token, token), None
        base, sep, tail = name.rpartition("__")
        if sep and tail.lower() in GRAINS:
            name, grain = base, tail.lower()
        try:
            ref = self.space.resolve(name, ("dimension",), prefer=self.spec.model)
        except UnknownMemberError as unknown:
            try:
                other = self.space.resolve(name, ("metric", "measure"), prefer=self.spec.model)
            except QueryError:
                raise unknown from None
            raise QueryError(self._group_by_metric_hint(name, other)) from None
        self.access.check(ref, "group by")
        d = self.space.dimension(ref)
        if d.type == "time":
            grain = grain or (check_grain(self.spec.grain) if self.spec.grain else None)
        elif grain:
            raise QueryError(f"'{name}' is not a time dimension, so it has no grain '{grain}'.")
        return Dim(token, ref, grain)

    def _group_by_metric_hint(self, name: str, ref: Ref) -> str:
        """A metric asked for as a dimension: say how to group by its value per entity."""
        parents = [e.dst for e in self.space.adjacency[ref.model] if not e.fans_out]
        ents = ([ref.model] if self.space.models[ref.model].key_columns else []) + parents
        examples = ", ".join(f"'{m}.{ref.name}'" for m in ents[:3]) or f"'<model>.{ref.name}'"
        return (
            f"'{name}' is a {ref.kind} ({ref.qualified}), not a dimension. To group by its "
            f"value per entity, name the entity: {examples} (the {ref.kind} per row of that "
            "model, 0 where there is nothing to count); or keep it as a metric and group by "
            "a dimension."
        )

    def _metric_ref(self, token: str) -> Ref:
        token = self.aliases.get(token, token)
        ref = self.space.resolve(token, ("metric", "measure"), prefer=self.spec.model)
        self.access.check(ref, "select")
        return ref

    def _classify(self, text: str, prefer: str | None) -> Filter:
        tree = parse(text)
        post = False
        for q, n in column_refs(tree):
            name = f"{q}.{n}" if q else n
            try:
                self.space.resolve(name, ("dimension",), prefer=prefer)
            except QueryError:
                try:
                    self.space.resolve(name, ("metric", "measure"), prefer=prefer)
                    post = True
                except QueryError:
                    self.space.resolve(name, ("dimension", "metric", "measure"), prefer=prefer)
        return Filter(text, prefer, post)

    def _check_filter(self, f: Filter) -> None:
        for q, n in column_refs(parse(f.text)):
            name = f"{q}.{n}" if q else n
            kinds = ("dimension", "metric", "measure") if f.post else ("dimension",)
            ref = self.space.resolve(name, kinds, prefer=f.prefer)
            self.access.check(ref, "filter on")
            if ref.kind != "dimension":
                for r in self._closure([ref]):
                    self.access.check(r, "filter on")

    def _filter_metrics(self, f: Filter) -> list[Ref]:
        out: list[Ref] = []
        for q, n in column_refs(parse(f.text)):
            name = f"{q}.{n}" if q else n
            try:
                self.space.resolve(name, ("dimension",), prefer=f.prefer)
            except QueryError:
                out.append(self.space.resolve(name, ("metric", "measure"), prefer=f.prefer))
        return out

    def _closure(self, refs: list[Ref]) -> list[Ref]:
        """All metrics and measures the refs depend on, dependencies first."""
        seen: list[Ref] = []

        def visit(r: Ref) -> None:
            if r in seen:
                return
            self.access.check(r, "use")
            if r.kind == "metric":
                for d in metric_dependencies(self.space, r):
                    visit(d)
            seen.append(r)

        for r in refs:
            visit(r)
        return seen

    def _uses(self, ref: Ref) -> list[Use]:
        if ref.kind == "measure":
            return [Use(ref)]
        met = self.space.metric(ref)
        if met.type == "simple":
            mref = self.space.resolve(
                required(met.measure, ref, "measure"), ("measure",), prefer=ref.model
            )
            return [Use(mref, met.filter, ref.model)]
        return [u for d in metric_dependencies(self.space, ref) for u in self._uses(d)]

    def _time_range(self, spec: QuerySpec, dims: list[Dim], mets: list[Ref]) -> TimeRange | None:
        if not spec.time_range:
            return None
        if spec.time_dimension:
            ref = self.space.resolve(spec.time_dimension, ("dimension",), prefer=spec.model)
        else:
            timed = [d.ref for d in dims if self.space.dimension(d.ref).type == "time"]
            ref = timed[0] if timed else self._default_time_dimension(mets, spec.model)
        self.access.check(ref, "filter on")
        if self.space.dimension(ref).type != "time":
            raise QueryError(f"'{ref.qualified}' is not a time dimension.")
        start, end = parse_time_range(spec.time_range, spec.today, self.fiscal)
        return ref, start, end

    def _default_time_dimension(self, mets: list[Ref], prefer: str | None) -> Ref:
        models = [prefer] if prefer else []
        for r in self._closure(mets):
            if r.kind == "measure":
                models.append(r.model)
        for model in models:
            m = self.space.models[model]
            if m.default_time_dimension:
                return self.space.resolve(m.default_time_dimension, ("dimension",), prefer=model)
            timed = self.space.time_dimensions(model)
            if len(timed) == 1:
                return timed[0]
        raise QueryError(
            "A time range needs a time dimension: add one to the dimensions or "
            "name it with time_dimension."
        )

    # metrics over aggregates --------------------------------------------------------------
    def _value(self, ref: Ref, t: ir.Table) -> ir.Value:
        if ref.kind == "measure":
            v = t[Use(ref).col]
            return coalesce_additive(v) if self.space.measure(ref).zero_when_empty else v
        met = self.space.metric(ref)
        if met.type == "simple":
            v = t[self._uses(ref)[0].col]
            return coalesce_additive(v) if self._additive(ref) else v
        if met.type == "ratio":
            num = self._value(
                self.space.resolve(
                    required(met.numerator, ref, "numerator"),
                    ("metric", "measure"),
                    prefer=ref.model,
                ),
                t,
            )
            den = self._value(
                self.space.resolve(
                    required(met.denominator, ref, "denominator"),
                    ("metric", "measure"),
                    prefer=ref.model,
                ),
                t,
            )
            return num.cast("float64") / den.cast("float64").nullif(0)
        if met.type == "derived":

            def resolve(q: str | None, n: str) -> ir.Value:
                r = self.space.resolve(
                    f"{q}.{n}" if q else n, ("metric", "measure"), prefer=ref.model
                )
                return self._value(r, t).cast("float64")

            text = required(met.expr, ref, "expr")
            return Translator(resolve, {}, text)(parse(text))
        col = t[self._aux_col(ref)]
        base = self._base(ref)
        if met.type == "period_over_period":
            cur, prior = self._value(base, t).cast("float64"), col.cast("float64")
            return {
                "value": prior,
                "difference": cur - prior,
                "ratio": cur / prior.nullif(0),
                "percent_change": (cur - prior) / prior.nullif(0),
            }[met.comparison]
        if met.type == "percent_of_total":
            return self._value(base, t).cast("float64") / col.cast("float64").nullif(0)
        return col

    def _post_resolver(self, main: ir.Table, dims: list[Dim]) -> Resolver:
        by_ref = {d.ref: d for d in dims}

        def resolve(q: str | None, n: str) -> ir.Value:
            name = f"{q}.{n}" if q else n
            try:
                ref = self.space.resolve(name, ("dimension",), prefer=self.spec.model)
            except QueryError:
                ref = self.space.resolve(name, ("metric", "measure"), prefer=self.spec.model)
                return self._value(ref, main)
            if ref not in by_ref:
                raise QueryError(
                    f"'{name}' is combined with a metric inside OR/NOT in one "
                    "filter, which is applied to the grouped result, so it can only "
                    f"use the query's dimensions. Add '{name}' to the dimensions, or "
                    "write the row condition as its own filter (conditions joined "
                    "by AND are split: rows first, then groups)."
                )
            return main[by_ref[ref].out]

        return resolve

    # detail queries -----------------------------------------------------------------------
    def _detail(self, dims: list[Dim], filters: list[Filter], trange: TimeRange | None) -> ir.Table:
        models = {d.ref.model for d in dims}
        for d in dims:
            models |= self._dim_models(d.ref)
        for f in filters:
            for q, n in column_refs(parse(f.text)):
                models.add(
                    self.space.resolve(
                        f"{q}.{n}" if q else n, ("dimension",), prefer=f.prefer
                    ).model
                )
        if trange:
            models.add(trange[0].model)
        # the dimensions' own models first, then a model linking them (orders links customers
        # and stores): the first whose rows they all describe many-to-one is the row grain
        order = (
            ([self.spec.model] if self.spec.model else [])
            + sorted(models)
            + sorted(set(self.space.models) - models)
        )
        for root in order:
            try:
                edges = self.space.tree(root, models - {root}, self.spec.via)
            except AmbiguousPathError:
                raise
            except QueryError:
                continue
            if not any(e.fans_out for e in edges.values()):
                break
        else:
            raise QueryError(
                "These dimensions do not share a model whose rows they all describe "
                f"(models: {', '.join(sorted(models))}); add a metric to aggregate."
            )
        w = self._with_grain(self.rel.wide(root, edges), {root} | set(edges))
        conds = self._conditions(w, filters, trange, None)
        if conds:
            w = w.filter(conds)
        if root not in models and not self.spec.distinct:
            w = w.select(**{d.out: self._dim_value(w, d) for d in dims})
            return w.distinct()  # a linking model's rows are not what was asked for
        out = w.select(**{d.out: self._dim_value(w, d) for d in dims})
        return out.distinct() if self.spec.distinct else out

    # order and limit ----------------------------------------------------------------------
    def _finish(
        self, t: ir.Table, dims: list[Dim], mets: list[tuple[str, Ref]], _: object
    ) -> ir.Table:
        keys = []
        outputs = {d.ref: d.out for d in dims} | {r: tok for tok, r in mets}
        for item in self.spec.order:
            tok, desc = item.strip(), False
            if tok.startswith("-"):
                tok, desc = tok[1:].strip(), True
            low = tok.lower()
            if low.endswith(" desc") or low.endswith(" asc"):
                desc = low.endswith(" desc")
                tok = tok.rsplit(" ", 1)[0].strip()
            col = tok if tok in t.columns else None
            if col is None:
                ref: Ref | None
                try:
                    ref = self.space.resolve(self.aliases.get(tok, tok), prefer=self.spec.model)
                except QueryError:
                    ref = None
                if ref is not None:
                    self.access.check(ref, "order by")
                    col = outputs.get(ref)
            if col is None:
                from .errors import closest

                raise QueryError(
                    f"Cannot order by '{tok}': it is not a dimension or metric of this query.",
                    closest(tok, t.columns),
                )
            keys.append(ibis.desc(t[col]) if desc else ibis.asc(t[col]))
        if keys:
            t = t.order_by(keys)
        if self.spec.limit is not None:
            t = t.limit(self.spec.limit)
        return t


def _conjuncts(text: str) -> list[str]:
    """'revenue > 100 and region = 'North'' as two filters: the row condition is applied to
    rows and the metric condition to groups, as a person means it (and the region need not be
    a dimension of the query)."""
    tree = parse(text)
    node = tree.this if isinstance(tree, exp.Paren) else tree
    if not isinstance(node, exp.And):
        return [text]
    parts = list(node.flatten())
    return [p.sql(dialect="duckdb") for p in parts]

"""Aggregation: each measure at its own model's grain, joined only to the models it needs.

This is what keeps sums safe from fan-out and chasm traps: measures reached through a one-to-many
join are de-duplicated by the model's primary key, and several models' aggregates are stacked and
collapsed on the query's dimensions rather than joined row by row.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

import ibis
import ibis.expr.types as ir

from .compiler_parts import CompilerParts, Dim, Filter, Shift, TimeRange, Use
from .errors import QueryError
from .expr import Resolver, Translator, column_refs, parse
from .namespace import Edge, Ref
from .timegrain import truncate


class Aggregation(CompilerParts):
    """Mixin of the Compiler: needs self.space, self.rel and self.fiscal."""

    def _aggregate(
        self,
        dims: list[Dim],
        uses: Collection[Use],
        pre: list[Filter],
        trange: TimeRange | None,
        shift: Shift | None = None,
    ) -> ir.Table:
        by_model: dict[str, list[Use]] = {}
        for u in sorted(uses, key=lambda u: u.col):
            by_model.setdefault(u.ref.model, []).append(u)
        parts = [
            self._model_aggregate(m, us, dims, pre, trange, shift) for m, us in by_model.items()
        ]
        if len(parts) == 1:
            return parts[0]
        names = [d.out for d in dims]
        if not names:
            out = parts[0]
            for p in parts[1:]:
                out = out.cross_join(p.view())
            return out
        # Several models: stack their aggregates and collapse on the dimensions. Each part has
        # one row per dimension value, so max() picks the one non-null value per measure. This
        # is a full outer join that treats NULL keys as equal, on every engine (PostgreSQL
        # cannot FULL JOIN on IS NOT DISTINCT FROM).
        cols = [c for p in parts for c in p.columns if c not in names]
        types = {c: p.schema()[c] for p in parts for c in p.columns if c not in names}
        padded = [
            p.select(
                [p[n] for n in names]
                + [p[c] if c in p.columns else ibis.null().cast(types[c]).name(c) for c in cols]
            )
            for p in parts
        ]
        stacked = ibis.union(*padded, distinct=False)
        return stacked.group_by(names).aggregate(**{c: stacked[c].max() for c in cols})

    def _needed_models(
        self,
        model: str,
        dims: list[Dim],
        pre: list[Filter],
        trange: TimeRange | None,
        uses: Iterable[Use],
    ) -> tuple[set[str], set[str]]:
        need = {d.ref.model for d in dims}
        for f in pre:
            for q, n in column_refs(parse(f.text)):
                ref = self.space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=f.prefer)
                need.add(ref.model)
                need |= self._dim_models(ref)
        for d in dims:
            need |= self._dim_models(d.ref)
        if trange:
            need.add(trange[0].model)
        meas: set[str] = set()
        for u in uses:
            m = self.space.measure(u.ref)
            for text in (m.source, m.filter):
                if text:
                    meas |= self.rel.models_of_expr(text, model)
            if u.extra:
                for q, n in column_refs(parse(u.extra)):
                    ref = self.space.resolve(
                        f"{q}.{n}" if q else n, ("dimension",), prefer=u.extra_model
                    )
                    meas.add(ref.model)
        return (need | meas) - {model}, meas - {model}

    def _dim_models(self, ref: Ref) -> set[str]:
        d = self.space.dimension(ref)
        return self.rel.models_of_expr(d.expr, ref.model) if d.expr else set()

    def _model_aggregate(
        self,
        model: str,
        uses: list[Use],
        dims: list[Dim],
        pre: list[Filter],
        trange: TimeRange | None,
        shift: Shift | None,
    ) -> ir.Table:
        need, meas = self._needed_models(model, dims, pre, trange, uses)
        edges = self.space.tree(model, need, self.spec.via)
        medges = self.space.tree(model, meas, self.spec.via)
        if any(e.fans_out for e in medges.values()):
            raise QueryError(f"Measures of '{model}' may only reference models joined many-to-one.")
        w = self._with_grain(self.rel.wide(model, edges), {model} | set(edges))
        conds = self._conditions(w, pre, trange, shift)
        if conds:
            w = w.filter(conds)
        dvals = {d.out: self._dim_value(w, d, shift) for d in dims}
        fans = any(e.fans_out for e in edges.values())
        if not fans:
            aggs = {u.col: self._measure(w, model, u) for u in uses}
            return w.group_by(**dvals).aggregate(**aggs) if dims else w.aggregate(**aggs)
        keys = self.space.models[model].key_columns
        if not keys:
            raise QueryError(
                f"Model '{model}' needs a primary_key: its measures are reached "
                "through a one-to-many join and must be de-duplicated."
            )
        kcols = {f"__pk{i}": w[f"{model}__{k}"] for i, k in enumerate(keys)}
        semi = self._semi_join_plan(model, edges, medges, dims, shift, w, kcols, keys, uses)
        if semi is not None:
            return semi
        distinct = w.select(**kcols, **dvals).distinct()
        mw = self._with_grain(self.rel.wide(model, medges), {model} | set(medges))
        j = distinct.join(
            mw,
            [distinct[f"__pk{i}"] == mw[f"{model}__{k}"] for i, k in enumerate(keys)],
            how="inner",
        )
        aggs = {u.col: self._measure(j, model, u) for u in uses}
        return (
            j.group_by([j[d.out] for d in dims]).aggregate(**aggs) if dims else j.aggregate(**aggs)
        )

    def _semi_join_plan(
        self,
        model: str,
        edges: dict[str, Edge],
        medges: dict[str, Edge],
        dims: list[Dim],
        shift: Shift | None,
        w: ir.Table,
        kcols: dict[str, ir.Value],
        keys: tuple[str, ...],
        uses: list[Use],
    ) -> ir.Table | None:
        """When the one-to-many joins serve only filters (orders with at least one late line,
        grouped by an order attribute), each row of the model keeps one value of every
        dimension: a semi-join on the key ("exists a matching line") gives the same groups
        as de-duplicating the fanned-out rows, without the distinct and the join back."""
        fanned: set[str] = set()
        for m in edges:
            node = m
            path: list[Edge] = []
            while node != model:
                path.append(edges[node])
                node = edges[node].src
            if any(x.fans_out for x in path):
                fanned.add(m)
        dim_models: set[str] = set()
        for d in dims:
            dim_models |= {d.ref.model} | self._dim_models(d.ref)
        if dim_models & fanned or not fanned:
            return None
        keep = {m: e for m, e in edges.items() if m not in fanned} | dict(medges)
        mw = self._with_grain(self.rel.wide(model, keep), {model} | set(keep))
        matched = w.select(**kcols)
        mw = mw.semi_join(
            matched, [mw[f"{model}__{k}"] == matched[f"__pk{i}"] for i, k in enumerate(keys)]
        )
        dvals = {d.out: self._dim_value(mw, d, shift) for d in dims}
        aggs = {u.col: self._measure(mw, model, u) for u in uses}
        return mw.group_by(**dvals).aggregate(**aggs) if dims else mw.aggregate(**aggs)

    def _conditions(
        self, w: ir.Table, filters: list[Filter], trange: TimeRange | None, shift: Shift | None
    ) -> list[ir.Value]:
        conds = []
        for f in filters:
            resolve = self._shifted_resolver(w, f.prefer, shift)
            conds.append(Translator(resolve, {}, f.text)(parse(f.text)))
        if trange:
            ref, start, end = trange
            v = self.rel.dimension(w, ref, shift)
            lo, hi = ibis.literal(start), ibis.literal(end)
            if v.type().is_date():
                lo, hi = lo.cast("date"), hi.cast("date")
            conds.append((v >= lo) & (v < hi))
        return conds

    def _shifted_resolver(self, w: ir.Table, prefer: str | None, shift: Shift | None) -> Resolver:
        def resolve(q: str | None, n: str) -> ir.Value:
            ref = self.space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=prefer)
            return self.rel.dimension(w, ref, shift)

        return resolve

    def _dim_value(self, w: ir.Table, d: Dim, shift: Shift | None = None) -> ir.Value:
        v = self.rel.dimension(w, d.ref, shift)
        return truncate(v, d.grain, self.fiscal) if d.grain else v

    def _measure(self, w: ir.Table, model: str, u: Use) -> ir.Value:
        m = self.space.measure(u.ref)
        resolve = self.rel.column_resolver(w, model)
        value = Translator(resolve, {}, m.source)(parse(m.source)) if m.source else None
        if value is not None and not isinstance(value, ir.Column):
            raise QueryError(
                f"Measure '{u.ref.qualified}' aggregates '{m.source}', which reads "
                "no column: aggregate a column or an expression over one (for a row "
                "count use agg: count without expr)."
            )
        conds = []
        if m.filter:
            conds.append(Translator(resolve, {}, m.filter)(parse(m.filter)))
        if u.extra:
            dres = self.rel.dimension_resolver(w, u.extra_model)
            conds.append(Translator(dres, {}, u.extra)(parse(u.extra)))
        where = None
        for c in conds:
            where = c if where is None else where & c
        agg = m.agg
        if agg == "count":
            return value.count(where=where) if value is not None else w.count(where=where)
        if value is None:  # spec.Measure: every agg but count has an expr or a column
            raise QueryError(f"Measure '{u.ref.qualified}' has nothing to aggregate ({agg}).")
        if agg == "count_distinct":
            return value.nunique(where=where)
        if value.type().is_null():
            # An expression that is always NULL (`case ... then null else null end`): Ibis types it
            # as a NullColumn, which has no aggregates; SQL's sum/avg/min/max of NULLs is NULL.
            value = value.cast("float64")
        if agg == "avg" and value.type().is_decimal():
            # exact decimal sum over a count: engines round avg(decimal) to a fixed scale
            # (Spark: 6 places), and casting every row to double would cost more
            return value.sum(where=where).cast("float64") / value.count(where=where).nullif(0).cast(
                "float64"
            )
        if agg == "percentile":
            out = value.quantile(m.percentile, where=where)
        else:
            fn = {"sum": "sum", "avg": "mean", "min": "min", "max": "max", "median": "median"}[agg]
            out = getattr(value, fn)(where=where)
        computed = m.source and f"{model}__{m.source.strip()}" not in w.columns
        if value.type().is_decimal() and (agg in ("avg", "median", "percentile") or computed):
            # Ibis types the product of two decimal(15,2)s, and their average, as decimal(15,2)
            # and would round the result to it; the engine computes exactly, so only the
            # aggregate is converted (per-row casts would cost more than the arithmetic).
            out = out.cast("float64")
        return out

"""Metrics evaluated per row of a model, used as dimensions (a dimension with `metric:`).

"Customers by number of orders", "products above their category's average price", "orders
with at least one returned line", "suppliers whose revenue equals the maximum": each is a metric
computed at a declared grain (the model's key, some of its dimensions, or the grand total) and
joined back to the model's rows, where it is an ordinary numeric dimension to group by, filter
on, compare with or aggregate again. The metric is compiled as its own governed query (same
policies, fan-out safe), so nothing here is a second SQL path. Additive metrics are 0, not
NULL, for rows with nothing to count (customers with no orders are in the 0 group).
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import ibis.expr.types as ir

from .compiler_parts import CompilerParts, Dim, Filter, GrainTable, TimeRange, Use, required
from .errors import QueryError
from .expr import column_refs, parse
from .namespace import Ref


class GrainMetrics(CompilerParts):
    """Mixin of the Compiler: needs self.space, self.rel, self.access and self.spec."""

    def _grain_refs(
        self, dims: list[Dim], filters: list[Filter], trange: TimeRange | None, uses: Iterable[Use]
    ) -> set[Ref]:
        """Dimensions with `metric:` that this query reads, directly or through expressions."""
        found: set[Ref] = set()
        todo: list[Ref] = [d.ref for d in dims]
        for f in filters:
            todo += self._dims_in(f.text, f.prefer, own=None)
        if trange:
            todo.append(trange[0])
        for u in uses:
            m = self.space.measure(u.ref)
            for text in (m.source, m.filter):
                if text:
                    todo += self._dims_in(text, u.ref.model, own=u.ref.model)
            if u.extra:
                todo += self._dims_in(u.extra, u.extra_model, own=None)
        while todo:
            ref = todo.pop()
            if ref in found:
                continue
            found.add(ref)
            d = self.space.dimension(ref)
            if d.expr:
                todo += self._dims_in(d.expr, ref.model, own=ref.model)
        return {r for r in found if self.space.dimension(r).metric}

    def _dims_in(self, text: str, prefer: str | None, own: str | None) -> list[Ref]:
        out: list[Ref] = []
        for q, n in column_refs(parse(text)):
            if own and not q:
                if any(d.name == n for d in self.space.models[own].dimensions):
                    out.append(Ref(own, n, "dimension"))
                continue
            try:
                out.append(
                    self.space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=prefer)
                )
            except QueryError:
                pass  # a metric in a filter, checked elsewhere
        return out

    def _with_grain(self, w: ir.Table, models: set[str]) -> ir.Table:
        for ref in sorted(self.grain, key=lambda r: r.qualified):
            if ref.model in models:
                w = self._join_grain(w, ref)
        return w

    def _join_grain(self, w: ir.Table, ref: Ref) -> ir.Table:
        inner, keys, value, additive = self._grain_table(ref)
        if keys:
            preds = [
                (self.rel.dimension(w, k) == inner[c])
                if pk
                else self.rel.dimension(w, k).identical_to(inner[c])
                for k, c, pk in keys
            ]
            j = w.left_join(inner, preds)
        else:
            j = w.cross_join(inner)
        v = j[value].coalesce(0) if additive else j[value]
        return j.select([j[c] for c in w.columns] + [v.name(f"{ref.model}__{ref.name}")])

    def _grain_table(self, ref: Ref) -> GrainTable:
        if ref in self.stack:
            raise QueryError(
                "Dimension '"
                + ref.qualified
                + "' is evaluated from itself: "
                + " -> ".join(r.qualified for r in self.stack + (ref,))
                + "."
            )
        d = self.space.dimension(ref)
        model = self.space.models[ref.model]
        if d.at is not None:
            at = [self.space.resolve(f"{ref.model}.{a}", ("dimension",)) for a in d.at]
            keyed = False
        else:
            at, keyed = self._key_dimensions(ref), True
        for a in at:
            if self.space.dimension(a).metric:
                raise QueryError(
                    f"'{ref.qualified}' is grouped by '{a.qualified}', itself a "
                    "metric per row; group by plain dimensions."
                )
        met = self.space.resolve(
            required(d.metric, ref, "metric"), ("metric", "measure"), prefer=ref.model
        )
        self.access.check(met, "use")
        from .querydef import QuerySpec

        where: tuple[str, ...] = (d.filter,) if d.filter else ()
        if keyed:
            # One group per row of the model: the query's conditions on that model's own
            # columns select the same groups, so they go inside too (TPC-H Q17 computes the
            # average for the few parts of one brand, not for every part).
            where += tuple(
                t for t in (self._own_condition(f, ref.model) for f in self.grain_filters) if t
            )
        group = (self._foreign_key_dimensions(met, ref.model, at) if keyed else None) or at
        spec = QuerySpec(
            namespace=self.spec.namespace,
            model=model.name,
            metrics=(met.qualified,),
            dimensions=tuple(a.qualified for a in group),
            where=where,
            today=self.spec.today,
            via=self.spec.via,
        )
        # shared with nested compilations: Q15's revenue per supplier is one table (one CTE)
        # for the supplier's value and for the maximum over suppliers
        cache, key = self.grain_cache, (ref, spec)
        if key in cache:
            return cache[key]
        t = self._nested(self.stack + (ref,)).compile(spec)
        n = len(cache)
        names = {g.qualified: f"__gm{n}_{i}" for i, g in enumerate(group)}
        value = f"__gm{n}_v"
        t = t.rename({v: k for k, v in names.items()} | {value: met.qualified})
        keys = [(a, names[g.qualified], keyed) for a, g in zip(at, group, strict=True)]
        cache[key] = (t, keys, value, self._additive(met))
        return cache[key]

    def _foreign_key_dimensions(self, met: Ref, model: str, keys: list[Ref]) -> list[Ref] | None:
        """A metric of one child model per row of its parent groups by the child's foreign key
        (lines by l_orderkey) instead of joining the parent to read its key: same groups, as
        each child row's key is its parent's, one join less. None when that does not hold."""
        owners = {u.ref.model for u in self._uses(met)}
        if len(owners) != 1 or model in owners:
            return None
        child = owners.pop()
        cols = {self.space.dimension(k).column or k.name: k for k in keys}
        for e in self.space.adjacency[child]:
            if e.dst != model or e.fans_out or {b for _, b in e.on} != set(cols):
                continue
            fk = {b: a for a, b in e.on}
            out: list[Ref] = []
            for k in keys:
                col = fk[self.space.dimension(k).column or k.name]
                dim = next(
                    (
                        d
                        for d in self.space.models[child].dimensions
                        if not d.expr and not d.metric and (d.column or d.name) == col
                    ),
                    None,
                )
                if dim is None:
                    return None
                out.append(Ref(child, dim.name, "dimension"))
            return out
        return None

    def _own_condition(self, f: Filter, model: str) -> str | None:
        """The filter with every name qualified, if it reads only plain columns of `model`."""
        from sqlglot import exp

        tree = parse(f.text).copy()
        cols = list(tree.find_all(exp.Column))
        if not cols:
            return None
        for col in cols:
            try:
                r = self.space.resolve(
                    f"{col.table}.{col.name}" if col.table else col.name,
                    ("dimension",),
                    prefer=f.prefer,
                )
            except QueryError:
                return None
            d = self.space.dimension(r)
            if (
                r.model != model
                or d.metric
                or (d.expr and any(q for q, _ in column_refs(parse(d.expr))))
            ):
                return None
            col.set("table", exp.to_identifier(model))
            col.set("this", exp.to_identifier(r.name))
        return tree.sql(dialect="duckdb")

    def _key_dimensions(self, ref: Ref) -> list[Ref]:
        model = self.space.models[ref.model]
        if not model.key_columns:
            raise QueryError(
                f"'{ref.qualified}' is evaluated per row of '{model.name}', which "
                "has no primary_key; declare one or group it with 'at'."
            )
        out: list[Ref] = []
        for k in model.key_columns:
            dim = next(
                (
                    x
                    for x in model.dimensions
                    if not x.expr and not x.metric and (x.column or x.name) == k
                ),
                None,
            )
            if dim is None:
                raise QueryError(
                    f"'{ref.qualified}' needs a dimension of '{model.name}' on its "
                    f"key column '{k}' (or 'at' to group it otherwise)."
                )
            out.append(Ref(model.name, dim.name, "dimension"))
        return out

    def _additive(self, ref: Ref) -> bool:
        if ref.kind == "measure":
            return self.space.measure(ref).zero_when_empty
        m = self.space.metric(ref)
        if m.type == "simple":
            return self._additive(
                self.space.resolve(
                    required(m.measure, ref, "measure"), ("measure",), prefer=ref.model
                )
            )
        return False


def coalesce_additive(value: ir.Value) -> ir.Value:
    """Sums and counts over a group with nothing to add are 0 (a filtered count already is)."""
    return value.coalesce(ibis.literal(0).cast(value.type()) if value.type().is_decimal() else 0)

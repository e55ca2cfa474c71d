"""Window and comparison metrics: cumulative, rolling, period-over-period, share and rank.

Each is an auxiliary aggregate (or a window over the grouped result) attached to the query's
main aggregate by its dimensions; mixin of the Compiler.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from .compiler_parts import CompilerParts, Dim, Filter, TimeRange, required
from .errors import QueryError
from .namespace import Ref
from .spec import Metric
from .timegrain import PERIOD, period_index

AUX = ("cumulative", "rolling", "period_over_period", "percent_of_total", "rank")


class WindowMetrics(CompilerParts):
    """Needs self.space and the Compiler's _aggregate, _uses, _closure and _value."""

    def _base(self, ref: Ref) -> Ref:
        met = self.space.metric(ref)
        base = self.space.resolve(
            required(met.metric, ref, "metric"), ("metric", "measure"), prefer=ref.model
        )
        for r in self._closure([base]):
            if r.kind == "metric" and self.space.metric(r).type in AUX:
                raise QueryError(
                    f"'{ref.qualified}' is built on '{r.qualified}'; window and "
                    "comparison metrics cannot be nested."
                )
        return base

    @staticmethod
    def _aux_col(ref: Ref) -> str:
        return f"__aux_{ref.model}_{ref.name}"

    def _time_dim(self, ref: Ref, dims: list[Dim]) -> tuple[Dim, str]:
        """The query's first time dimension with a grain, and its grain."""
        timed = [
            (d, d.grain) for d in dims if self.space.dimension(d.ref).type == "time" and d.grain
        ]
        if not timed:
            raise QueryError(
                f"'{ref.name}' needs a time dimension with a grain in the query "
                "(e.g. dimensions=['order_date'], grain='month')."
            )
        return timed[0]

    def _attach_aux(
        self, main: ir.Table, ref: Ref, dims: list[Dim], pre: list[Filter], trange: TimeRange | None
    ) -> ir.Table:
        if ref.kind != "metric" or self.space.metric(ref).type not in AUX:
            return main
        met = self.space.metric(ref)
        base = self._base(ref)
        uses = set(self._uses(base))
        name = self._aux_col(ref)
        if met.type in ("percent_of_total", "rank"):
            part = self._within(ref, met, dims)
        if met.type == "rank":
            value = self._value(base, main)
            key = value.desc(nulls_first=False) if met.descending else value.asc(nulls_first=False)
            win = ibis.window(group_by=[main[d.out] for d in part] or None, order_by=[key])
            return main.mutate(**{name: (ibis.rank().over(win) + 1)})
        if met.type == "percent_of_total":
            aux = self._aggregate(part, uses, pre, trange)
            aux = aux.select([aux[d.out] for d in part] + [self._value(base, aux).name(name)])
            return self._join_on(main, aux, [d.out for d in part], name)
        td, grain = self._time_dim(ref, dims)
        if met.type == "period_over_period":
            offset = PERIOD[grain] if met.offset == "previous_period" else {"years": 1}
            aux = self._aggregate(dims, uses, pre, trange, shift={td.ref: offset})
            aux = aux.select([aux[d.out] for d in dims] + [self._value(base, aux).name(name)])
            return self._join_on(main, aux, [d.out for d in dims], name)
        # cumulative and rolling: over the whole history, then joined to the periods asked for
        aux = self._aggregate(dims, uses, pre, None)
        value = self._value(base, aux)
        others = [aux[d.out] for d in dims if d is not td]
        idx = period_index(aux[td.out], grain)
        if met.type == "cumulative":
            win = ibis.cumulative_window(group_by=others or None, order_by=idx)
        else:
            win = ibis.range_window(
                preceding=required(met.window, ref, "window") - 1,
                following=0,
                group_by=others or None,
                order_by=idx,
            )
        fn = {"sum": "sum", "avg": "mean", "min": "min", "max": "max"}[met.agg]
        aux = aux.select([aux[d.out] for d in dims] + [getattr(value, fn)().over(win).name(name)])
        return self._join_on(main, aux, [d.out for d in dims], name)

    def _within(self, ref: Ref, met: Metric, dims: list[Dim]) -> list[Dim]:
        """The query's dimensions a share or rank is computed within; each must be in the
        query (a share within a region of a query without regions has no one answer)."""
        within = [self.space.resolve(w, ("dimension",), prefer=ref.model) for w in met.within]
        missing = [w.qualified for w in within if not any(d.ref == w for d in dims)]
        if missing:
            raise QueryError(
                f"'{ref.qualified}' is computed within {', '.join(missing)}, which "
                f"{'is' if len(missing) == 1 else 'are'} not among this query's "
                "dimensions: add " + ", ".join(missing) + " to the dimensions."
            )
        return [d for d in dims if d.ref in within]

    @staticmethod
    def _join_on(main: ir.Table, aux: ir.Table, on: list[str], col: str) -> ir.Table:
        if not on:
            return main.cross_join(aux.view())
        r = aux.view().rename({f"{n}__a": n for n in on})
        j = main.join(r, [main[n].identical_to(r[f"{n}__a"]) for n in on], how="left")
        return j.select([j[c] for c in main.columns] + [j[col]])

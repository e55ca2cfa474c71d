"""Secured base tables and the 'wide' join relations members are compiled against.

Each model's base table is secured first (masks, then row filters), so policies hold before any
join or aggregation. Joined models' columns are prefixed `<model>__<column>` in a wide relation;
that keeps names unambiguous however many models a query touches.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from ..engines.base import Engine
from ..engines.errors import ModelSQLFailed
from ..security.principal import Principal
from .errors import QueryError
from .expr import Resolver, Translator, column_refs, parse
from .namespace import Edge, Namespace, Ref
from .policy import Access

MASK = "****"


class Relations:
    def __init__(self, space: Namespace, engine: Engine, principal: Principal, access: Access):
        self.space, self.engine, self.principal, self.access = space, engine, principal, access
        self._secured: dict[str, ir.Table] = {}
        self._prefixed_cache: dict[str, ir.Table] = {}
        self._securing: list[str] = []

    def raw(self, model: str) -> ir.Table:
        m = self.space.models[model]
        if m.sql:
            try:
                return self.engine.sql_table(m.sql, self.space.spec.schema_)
            except ModelSQLFailed as e:
                # the author's SQL is at fault, so the error points at it in the model file
                where = ("models", list(self.space.models).index(model), "sql")
                raise self.space.loaded.source.error(e.problem, where) from None
        schema = self.space.spec.schema_
        name = m.table
        if name is None:  # spec.Model holds exactly one of table and sql
            raise QueryError(f"Model '{model}' has neither a table nor sql.")
        if "." in name and not schema:
            schema, name = name.split(".", 1)
        return self.engine.table(name, schema)

    def secured(self, model: str) -> ir.Table:
        if model in self._secured:
            return self._secured[model]
        if model in self._securing:
            raise QueryError(
                "Row policies of models "
                + " -> ".join(self._securing + [model])
                + " refer to each other."
            )
        self._securing.append(model)
        try:
            t = self.raw(model)
            masked = self.access.masked_columns.get(model, ())
            if masked:
                t = t.mutate(
                    **{
                        c: (
                            ibis.literal(MASK)
                            if t[c].type().is_string()
                            else ibis.null().cast(t[c].type())
                        )
                        for c in masked
                        if c in t.columns
                    }
                )
            for text in self.access.row_filters.get(model, ()):
                t = self._apply_row_filter(model, t, text)
            if self.space.models[model].policies.inherit:
                t = self._inherit(model, t)
            self._secured[model] = t
            return t
        finally:
            self._securing.pop()

    def restricted(self, model: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether row policies (own or inherited) hide rows of `model` from this principal."""
        if self.access.row_filters.get(model):
            return True
        if not self.space.models[model].policies.inherit:
            return False
        return any(
            self.restricted(e.dst, seen | {model})
            for e in self.space.adjacency[model]
            if e.relationship == "many_to_one" and e.dst not in seen | {model}
        )

    def _inherit(self, model: str, t: ir.Table) -> ir.Table:
        """A row whose many-to-one parent is hidden is hidden too: order lines of an order you
        may not see are not yours to count, whatever the model author forgot to declare."""
        for e in self.space.adjacency[model]:
            if e.relationship != "many_to_one" or e.dst in self._securing:
                continue
            if not self.restricted(e.dst, frozenset(self._securing)):
                continue
            parent = self.secured(e.dst).view()  # a distinct relation, also for self-references
            t = t.semi_join(parent, [t[a] == parent[b] for a, b in e.on])
        return t

    def _apply_row_filter(self, model: str, t: ir.Table, text: str) -> ir.Table:
        tree = parse(text)
        others = {q for q, _ in column_refs(tree) if q and q != model}
        if not others:
            cond = Translator(lambda q, n: self._own(model, t, n), self.principal.attrs, text)(tree)
            return t.filter(cond)
        tree_edges = self.space.tree(model, others)
        if any(e.fans_out for e in tree_edges.values()):
            raise QueryError(f"Row policy on '{model}' must reach {sorted(others)} many-to-one.")
        wide = self._join(self._prefixed(model, t), model, tree_edges, secure=True, how="inner")
        resolve = self.dimension_resolver(wide, model)
        cond = Translator(resolve, self.principal.attrs, text)(tree)
        keep = [wide[f"{model}__{c}"].name(c) for c in t.columns]
        return wide.filter(cond).select(keep)

    # wide relations -----------------------------------------------------------------------
    @staticmethod
    def _prefixed(model: str, t: ir.Table) -> ir.Table:
        return t.select(**{f"{model}__{c}": t[c] for c in t.columns})

    def prefixed(self, model: str) -> ir.Table:
        """The secured table with prefixed columns, built once per model version and principal."""
        if model not in self._prefixed_cache:
            self._prefixed_cache[model] = self._prefixed(model, self.secured(model))
        return self._prefixed_cache[model]

    def wide(self, root: str, edges: dict[str, Edge]) -> ir.Table:
        return self._join(self.prefixed(root), root, edges, secure=True)

    def _join(
        self, rel: ir.Table, root: str, edges: dict[str, Edge], secure: bool, how: str = "left"
    ) -> ir.Table:
        done = {root}
        pending = dict(edges)
        while pending:
            for model, edge in list(pending.items()):
                if edge.src in done:
                    right = (
                        self.prefixed(model) if secure else self._prefixed(model, self.raw(model))
                    )
                    preds = [rel[f"{edge.src}__{a}"] == right[f"{model}__{b}"] for a, b in edge.on]
                    rel = rel.join(right, preds, how="inner" if edge.required else how)
                    done.add(model)
                    del pending[model]
        return rel

    # member expressions -------------------------------------------------------------------
    def _own(self, model: str, t: ir.Table, name: str, prefix: str = "") -> ir.Value:
        col = f"{prefix}{name}"
        if col in t.columns:
            return t[col]
        dims = {d.name: d for d in self.space.models[model].dimensions}
        if name in dims:
            d = dims[name]
            if d.expr:
                return Translator(lambda q, n: self._own(model, t, n, prefix), {}, d.expr)(
                    parse(d.expr)
                )
            if f"{prefix}{d.column}" in t.columns:
                return t[f"{prefix}{d.column}"]
        raise QueryError(f"Unknown column or dimension '{name}' in model '{model}'.")

    def column_resolver(self, wide: ir.Table, model: str) -> Resolver:
        """For member expressions: bare names are the model's columns (then its dimensions),
        qualified names are other models' dimensions."""

        def resolve(q: str | None, n: str) -> ir.Value:
            if q and q != model:
                return self.dimension(wide, self.space.resolve(f"{q}.{n}", ("dimension",)))
            return self._own(model, wide, n, prefix=f"{model}__")

        return resolve

    def dimension_resolver(
        self, wide: ir.Table, prefer: str | None, check: Callable[[Ref], None] | None = None
    ) -> Resolver:
        def resolve(q: str | None, n: str) -> ir.Value:
            ref = self.space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=prefer)
            if check:
                check(ref)
            return self.dimension(wide, ref)

        return resolve

    def dimension(
        self, wide: ir.Table, ref: Ref, shift: dict[Ref, dict[str, int]] | None = None
    ) -> ir.Value:
        d = self.space.dimension(ref)
        if d.expr:
            v = Translator(self.column_resolver(wide, ref.model), {}, d.expr)(parse(d.expr))
        else:
            v = wide[f"{ref.model}__{d.column or d.name}"]
        if shift and ref in shift:
            v = v + ibis.interval(**shift[ref])
        return v

    def models_of_expr(self, text: str, model: str) -> set[str]:
        """Models an expression of `model` reaches through qualified references."""
        out: set[str] = set()
        for q, n in column_refs(parse(text)):
            if q and q != model:
                ref = self.space.resolve(f"{q}.{n}", ("dimension",))
                out.add(ref.model)
                d = self.space.dimension(ref)
                if d.expr:
                    out |= self.models_of_expr(d.expr, ref.model)
        return out

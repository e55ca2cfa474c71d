"""What a principal may see of a namespace: hidden and masked members, row filters.

Hidden members are closed over dependencies: a metric built on a hidden measure, or any member
reading a hidden column, is hidden too, so nothing hidden is reachable indirectly.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..security.principal import Principal
from .errors import AccessDeniedError, QueryError
from .expr import column_refs, parse
from .namespace import Namespace, Ref
from .spec import ColumnPolicy, RowFilter
from .validate import metric_dependencies


def applies(rule: RowFilter | ColumnPolicy, principal: Principal) -> bool:
    if rule.unless_roles and principal.has_any(rule.unless_roles):
        return False
    if rule.roles and not principal.has_any(rule.roles):
        return False
    return True


@dataclass(frozen=True)
class Access:
    hidden: frozenset[Ref]
    masked_columns: dict[str, frozenset[str]]  # model -> columns replaced by a mask
    row_filters: dict[str, tuple[str, ...]]  # model -> filter texts

    def check(self, ref: Ref, how: str = "use") -> None:
        if ref in self.hidden:
            raise AccessDeniedError(f"You are not allowed to {how} '{ref.qualified}'.")


def member_columns(
    space: Namespace, ref: Ref, _seen: frozenset[Ref] = frozenset()
) -> set[tuple[str, str]]:
    """Base columns (model, column) a dimension or measure reads. A bare name is a column of
    the model or, in query-time members, one of its dimensions: both are counted, so a hidden
    column cannot be reached through a dimension's name."""
    texts: list[str] = []
    if ref.kind == "dimension":
        d = space.dimension(ref)
        if d.metric:
            return set()  # a metric per row: hidden through its metric (compute_access)
        texts = [d.expr] if d.expr else []
        if not d.expr:
            return {(ref.model, d.column or d.name)}
    elif ref.kind == "measure":
        me = space.measure(ref)
        texts = [t for t in (me.source, me.filter) if t]
    cols: set[tuple[str, str]] = set()
    for t in texts:
        for q, c in column_refs(parse(t)):
            if q:
                try:
                    cols |= member_columns(space, space.resolve(f"{q}.{c}", ("dimension",)))
                except QueryError:
                    # validated at load: an unresolvable name reads no column of a model
                    pass
            else:
                cols.add((ref.model, c))
                own = Ref(ref.model, c, "dimension")
                if own in space.members and own != ref and own not in _seen:
                    cols |= member_columns(space, own, _seen | {ref})
    return cols


def referenced_dimensions(space: Namespace, ref: Ref) -> set[Ref]:
    """Dimensions a dimension's or measure's expressions name (bare names of its own model)."""
    texts: list[str] = []
    if ref.kind == "dimension":
        expr = space.dimension(ref).expr
        texts = [expr] if expr else []
    elif ref.kind == "measure":
        me = space.measure(ref)
        texts = [t for t in (me.source, me.filter) if t]
    out: set[Ref] = set()
    for t in texts:
        for q, c in column_refs(parse(t)):
            cand = Ref(q or ref.model, c, "dimension")
            if cand in space.members and cand != ref:
                out.add(cand)
    return out


def compute_access(space: Namespace, principal: Principal) -> Access:
    hidden: set[Ref] = set()
    masked: dict[str, set[str]] = {}
    rows: dict[str, tuple[str, ...]] = {}
    for m in space.models.values():
        for cp in m.policies.columns:
            if not applies(cp, principal):
                continue
            for name in cp.members:
                ref = space.resolve(name, ("dimension", "measure", "metric"), prefer=m.name)
                if cp.action == "hide":
                    hidden.add(ref)
                else:
                    for model, col in member_columns(space, ref) if ref.kind != "metric" else ():
                        masked.setdefault(model, set()).add(col)
        filters = tuple(rf.filter for rf in m.policies.row_filters if applies(rf, principal))
        if filters:
            rows[m.name] = filters
    hidden_cols: set[tuple[str, str]] = set()
    for ref in hidden:
        if ref.kind in ("dimension", "measure"):
            hidden_cols |= member_columns(space, ref)
    changed = True
    while changed:
        changed = False
        for ref in space.members:
            if ref in hidden:
                continue
            bad = False
            if ref.kind in ("dimension", "measure"):
                bad = bool(member_columns(space, ref) & hidden_cols) or any(
                    d in hidden for d in referenced_dimensions(space, ref)
                )
                if ref.kind == "dimension" and (dm := space.dimension(ref)).metric:
                    met: Ref | None
                    try:
                        met = space.resolve(dm.metric, ("metric", "measure"), prefer=ref.model)
                    except Exception:
                        met = None
                    bad = (
                        bad
                        or met is None
                        or met in hidden
                        or (
                            met.kind == "metric"
                            and any(d in hidden for d in metric_dependencies(space, met))
                        )
                    )
                    bad = bad or bool(
                        dm.filter
                        and _filter_hits(space, dm.filter, met.model if met else ref.model, hidden)
                    )
            elif ref.kind == "metric":
                bad = any(d in hidden for d in metric_dependencies(space, ref))
                metric = space.metric(ref)
                if metric.type == "simple" and metric.filter:
                    bad = bad or _filter_hits(space, metric.filter, ref.model, hidden)
            elif ref.kind == "segment":
                bad = _filter_hits(space, space.segment(ref).filter, ref.model, hidden)
            if bad:
                hidden.add(ref)
                changed = True
    return Access(frozenset(hidden), {k: frozenset(v) for k, v in masked.items()}, rows)


def _filter_hits(space: Namespace, text: str, model: str, hidden: set[Ref]) -> bool:
    """Whether a filter reads a hidden dimension (then what it filters is hidden too)."""
    for q, n in column_refs(parse(text)):
        try:
            ref = space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=model)
        except QueryError:  # a column, not a dimension: column policies cover it
            continue
        if ref in hidden:
            return True
    return False

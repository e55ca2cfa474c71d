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
from .validate import metric_dependencies


def applies(rule, principal: Principal) -> bool:
    if rule.unless_roles and principal.has_any(rule.unless_roles):
        return False
    if rule.roles and not principal.has_any(rule.roles):
        return False
    return True


@dataclass(frozen=True)
class Access:
    hidden: frozenset[Ref]
    masked_columns: dict            # model -> frozenset of columns replaced by a mask
    row_filters: dict               # model -> tuple of filter texts

    def check(self, ref: Ref, how: str = "use") -> None:
        if ref in self.hidden:
            raise AccessDeniedError(f"You are not allowed to {how} '{ref.qualified}'.")


def member_columns(space: Namespace, ref: Ref, _seen: frozenset = frozenset()) \
        -> set[tuple[str, str]]:
    """Base columns (model, column) a dimension or measure reads. A bare name is a column of
    the model or, in query-time members, one of its dimensions: both are counted, so a hidden
    column cannot be reached through a dimension's name."""
    m = space.member(ref)
    texts = []
    if ref.kind == "dimension":
        if m.metric:
            return set()          # a metric per row: hidden through its metric (compute_access)
        texts = [m.expr] if m.expr else []
        if not m.expr:
            return {(ref.model, m.column or m.name)}
    elif ref.kind == "measure":
        texts = [t for t in (m.source, m.filter) if t]
    cols = set()
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
    m = space.member(ref)
    texts = ([m.expr] if ref.kind == "dimension" and m.expr else
             [t for t in (m.source, m.filter) if t] if ref.kind == "measure" else [])
    out = set()
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
    hidden_cols = set()
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
                    d in hidden for d in referenced_dimensions(space, ref))
                dm = space.member(ref)
                if ref.kind == "dimension" and dm.metric:
                    try:
                        met = space.resolve(dm.metric, ("metric", "measure"), prefer=ref.model)
                    except Exception:
                        met = None
                    bad = bad or met is None or met in hidden or (
                        met.kind == "metric" and any(d in hidden for d in
                                                     metric_dependencies(space, met)))
                    bad = bad or bool(dm.filter and _filter_hits(space, dm.filter, met.model
                                                                 if met else ref.model, hidden))
            elif ref.kind == "metric":
                bad = any(d in hidden for d in metric_dependencies(space, ref))
                met = space.member(ref)
                if met.type == "simple" and met.filter:
                    bad = bad or _filter_hits(space, met.filter, ref.model, hidden)
            elif ref.kind == "segment":
                bad = _filter_hits(space, space.member(ref).filter, ref.model, hidden)
            if bad:
                hidden.add(ref)
                changed = True
    return Access(frozenset(hidden), {k: frozenset(v) for k, v in masked.items()}, rows)


def _filter_hits(space: Namespace, text: str, model: str, hidden: set) -> bool:
    """Whether a filter reads a hidden dimension (then what it filters is hidden too)."""
    for q, n in column_refs(parse(text)):
        try:
            ref = space.resolve(f"{q}.{n}" if q else n, ("dimension",), prefer=model)
        except QueryError:      # a column, not a dimension: column policies cover it
            continue
        if ref in hidden:
            return True
    return False

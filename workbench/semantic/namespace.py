"""A loaded namespace: its models, how members are named, and the join graph between models."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from .errors import QueryError, UnknownMemberError
from .spec import Dimension, LoadedNamespace, Measure, Metric, Model, Segment

KINDS = ("dimension", "measure", "metric", "segment")

# A member's spec, whichever its kind (Namespace.dimension() and the like give one kind).
MemberSpec = Dimension | Measure | Metric | Segment
_Kind = TypeVar("_Kind", Dimension, Measure, Metric, Segment)


@dataclass(frozen=True)
class Ref:
    """A member, fully qualified: model name + member name + kind."""

    model: str
    name: str
    kind: str

    @property
    def qualified(self) -> str:
        return f"{self.model}.{self.name}"

    def __str__(self) -> str:
        return self.qualified


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    on: tuple[tuple[str, str], ...]  # (src column, dst column)
    relationship: str  # as seen walking src -> dst
    required: bool = False  # every src row has a dst row: inner join is safe
    name: str = ""  # the join's name (default: the model it leads to)

    @property
    def fans_out(self) -> bool:
        return self.relationship == "one_to_many"


_MAX_HOPS = 6


class AmbiguousPathError(QueryError):
    """Two or more equally short join paths and nothing in the model or query to choose."""


def _passes(path: tuple[Edge, ...], token: str) -> bool:
    return any(e.dst == token or e.name == token for e in path[:-1]) or any(
        e.name == token and e.name != e.dst for e in path
    )


def _show(path: Sequence[Edge]) -> str:
    return " → ".join(
        [path[0].src]
        + [
            e.dst if e.name in (e.dst, e.src) or e.name == "" else f"{e.dst} ({e.name})"
            for e in path
        ]
    )


def _list(paths: Iterable[Sequence[Edge]]) -> str:
    return ", ".join(_show(p) for p in paths)


_REVERSE = {"many_to_one": "one_to_many", "one_to_many": "many_to_one", "one_to_one": "one_to_one"}


class Namespace:
    def __init__(self, loaded: LoadedNamespace):
        self.loaded = loaded
        self.name = loaded.name
        self.spec = loaded.spec
        self.version = loaded.version
        self.models: dict[str, Model] = {m.name: m for m in loaded.spec.models}

    # members ------------------------------------------------------------------------------
    @cached_property
    def members(self) -> dict[Ref, MemberSpec]:
        out: dict[Ref, MemberSpec] = {}
        for m in self.models.values():
            for kind, items in (
                ("dimension", m.dimensions),
                ("measure", m.measures),
                ("metric", m.metrics),
                ("segment", m.segments),
            ):
                for item in items:
                    out[Ref(m.name, item.name, kind)] = item
        return out

    @cached_property
    def _by_short(self) -> dict[str, list[Ref]]:
        out: dict[str, list[Ref]] = {}
        for ref in self.members:
            out.setdefault(ref.name, []).append(ref)
        return out

    def member(self, ref: Ref) -> MemberSpec:
        return self.members[ref]

    def dimension(self, ref: Ref) -> Dimension:
        """The spec of a dimension's ref (a QueryError for a ref of another kind)."""
        return self._of_kind(ref, Dimension)

    def measure(self, ref: Ref) -> Measure:
        return self._of_kind(ref, Measure)

    def metric(self, ref: Ref) -> Metric:
        return self._of_kind(ref, Metric)

    def segment(self, ref: Ref) -> Segment:
        return self._of_kind(ref, Segment)

    def _of_kind(self, ref: Ref, cls: type[_Kind]) -> _Kind:
        member = self.members[ref]
        if not isinstance(member, cls):
            raise QueryError(f"'{ref.qualified}' is a {ref.kind}, not a {cls.__name__.lower()}.")
        return member

    def resolve(self, name: str, kinds: tuple[str, ...] = KINDS, prefer: str | None = None) -> Ref:
        """'revenue', 'orders.revenue' -> Ref. Unqualified names must be unique, except that
        members of the preferred model (the query's model) win."""
        name = name.strip()
        if "." in name:
            model, _, short = name.partition(".")
            if model not in self.models:
                raise UnknownMemberError(model, "model", self.models)
            hits = [
                r for r in self._by_short.get(short, []) if r.model == model and r.kind in kinds
            ]
        else:
            hits = [r for r in self._by_short.get(name, []) if r.kind in kinds]
            if len(hits) > 1 and prefer:
                preferred = [r for r in hits if r.model == prefer]
                hits = preferred or hits
            if len(hits) > 1:
                # measures and metrics of the same name: the metric wraps the measure
                metrics = [r for r in hits if r.kind == "metric"]
                if len(metrics) == 1 and all(r.kind in ("metric", "measure") for r in hits):
                    hits = metrics
        if not hits:
            cands = [r.qualified for r in self.members if r.kind in kinds]
            cands += [r.name for r in self.members if r.kind in kinds]
            kind = " or ".join(sorted(set(kinds))) if len(kinds) < len(KINDS) else "member"
            raise UnknownMemberError(name, kind, cands)
        if len(hits) > 1:
            raise QueryError(
                f"'{name}' is ambiguous; qualify it as one of: "
                + ", ".join(sorted(h.qualified for h in hits))
                + "."
            )
        return hits[0]

    # joins --------------------------------------------------------------------------------
    @cached_property
    def adjacency(self) -> dict[str, list[Edge]]:
        """Every join, walkable both ways. A join declared from both sides (same columns) is one
        edge; two joins between the same pair on other columns are two edges (role-playing),
        told apart by their names."""
        adj: dict[str, list[Edge]] = {m: [] for m in self.models}
        for m in self.models.values():
            for j in m.joins:
                pairs = tuple(j.on.items())
                back = tuple((b, a) for a, b in pairs)
                name = j.name or j.to
                if any(e.dst == j.to and set(e.on) == set(pairs) for e in adj[m.name]):
                    continue  # already known from the other side's declaration
                adj[m.name].append(Edge(m.name, j.to, pairs, j.relationship, j.required, name))
                adj[j.to].append(
                    Edge(j.to, m.name, back, _REVERSE[j.relationship], False, j.name or m.name)
                )
        return adj

    @cached_property
    def _path_cache(self) -> dict[tuple[str, frozenset[str], tuple[str, ...]], dict[str, Edge]]:
        return {}

    def tree(self, root: str, targets: set[str], via: tuple[str, ...] = ()) -> dict[str, Edge]:
        """The join tree from root reaching every target: {model: edge into it}.

        Each target is reached by its shortest join path. When several paths are equally short
        the choice is never silent: the query's `via` (model or join names) or the `paths:`
        preference of a model on the way picks one, otherwise it is an error naming the paths."""
        key = (root, frozenset(targets), tuple(via))
        hit = self._path_cache.get(key)
        if hit is not None:
            return dict(hit)
        self._check_via(via)
        missing = [t for t in targets if t != root and not self._simple_paths(root, t, 1)[0]]
        if missing:
            raise QueryError(
                f"No join path from model '{root}' to "
                + ", ".join(f"'{m}'" for m in sorted(missing))
                + f" in namespace '{self.name}'."
            )
        needed: dict[str, Edge] = {}
        for t in sorted(targets - {root}):
            for e in self.path(root, t, via):
                prev = needed.get(e.dst)
                if prev is not None and prev != e:
                    raise QueryError(
                        f"Model '{e.dst}' would be joined to '{root}' two ways in one query "
                        f"({_show([prev])} and {_show([e])}); ask for the members separately "
                        "or choose one path with via."
                    )
                needed[e.dst] = e
        self._path_cache[key] = dict(needed)
        return needed

    def path(self, root: str, target: str, via: tuple[str, ...] = ()) -> tuple[Edge, ...]:
        """The one join path from root to target (see tree)."""
        paths, _ = self._simple_paths(root, target, _MAX_HOPS)
        if not paths:
            raise QueryError(
                f"No join path from model '{root}' to '{target}' in namespace '{self.name}'."
            )
        shortest = min(len(p) for p in paths)
        wanted = [v for v in via if any(_passes(p, v) for p in paths)]
        if wanted:
            cands = [p for p in paths if all(_passes(p, v) for v in wanted)]
            if not cands:
                raise QueryError(
                    f"No join path from '{root}' to '{target}' goes through all of "
                    f"{', '.join(wanted)}; the paths are: {_list(paths)}."
                )
            best = min(len(p) for p in cands)
            cands = [p for p in cands if len(p) == best]
        else:
            cands = [p for p in paths if len(p) == shortest]
        if len(cands) > 1:
            named = {
                v
                for p in cands
                for m in [root] + [e.dst for e in p]
                for v in self.models[m].paths.get(target, ()) + self.models[m].paths.get("*", ())
            }
            prefs = [v for v in sorted(named) if any(_passes(p, v) for p in cands)]
            if prefs:
                cands = [p for p in cands if all(_passes(p, v) for v in prefs)] or cands
        if len(cands) > 1:
            hops = sorted(
                {e.dst for p in cands for e in p[:-1]}
                | {e.name for p in cands for e in p if e.name != e.dst}
            )
            raise AmbiguousPathError(
                f"Model '{root}' reaches '{target}' by {len(cands)} equally short join paths: "
                f"{_list(cands)}. Choose one: in the query with via (e.g. via=['{hops[0]}']), "
                f"or in the model with `paths: {{{target}: [{hops[0]}]}}` on '{root}'."
            )
        return cands[0]

    def _simple_paths(
        self, root: str, target: str, limit_paths: int
    ) -> tuple[list[tuple[Edge, ...]], bool]:
        """Simple join paths root -> target of at most _MAX_HOPS edges (at most 200), and
        whether the search was cut short. Models are small graphs; this stays cheap."""
        out: list[tuple[Edge, ...]] = []

        def walk(node: str, seen: frozenset[str], path: list[Edge]) -> None:
            if len(out) >= max(limit_paths, 1) * 200:
                return
            if node == target and path:
                out.append(tuple(path))
                return
            if len(path) >= _MAX_HOPS:
                return
            for e in self.adjacency[node]:
                if e.dst not in seen:
                    walk(e.dst, seen | {e.dst}, path + [e])

        walk(root, frozenset({root}), [])
        return out, len(out) >= 200

    def _check_via(self, via: tuple[str, ...]) -> None:
        names = set(self.models) | {e.name for es in self.adjacency.values() for e in es}
        for v in via:
            if v not in names:
                raise UnknownMemberError(v, "model or join (via)", sorted(names))

    def time_dimensions(self, model: str) -> list[Ref]:
        return [
            r
            for r in self.members
            if r.model == model and r.kind == "dimension" and self.dimension(r).type == "time"
        ]

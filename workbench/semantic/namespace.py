"""A loaded namespace: its models, how members are named, and the join graph between models."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import cached_property

from .errors import QueryError, UnknownMemberError
from .loader import LoadedNamespace
from .spec import Dimension, Measure, Metric, Model, Segment

KINDS = ("dimension", "measure", "metric", "segment")


@dataclass(frozen=True)
class Ref:
    """A member, fully qualified: model name + member name + kind."""
    model: str
    name: str
    kind: str

    @property
    def qualified(self) -> str:
        return f"{self.model}.{self.name}"

    def __str__(self):
        return self.qualified


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    on: tuple[tuple[str, str], ...]   # (src column, dst column)
    relationship: str                 # as seen walking src -> dst
    required: bool = False            # every src row has a dst row: inner join is safe

    @property
    def fans_out(self) -> bool:
        return self.relationship == "one_to_many"


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
    def members(self) -> dict[Ref, Dimension | Measure | Metric | Segment]:
        out = {}
        for m in self.models.values():
            for kind, items in (("dimension", m.dimensions), ("measure", m.measures),
                                ("metric", m.metrics), ("segment", m.segments)):
                for item in items:
                    out[Ref(m.name, item.name, kind)] = item
        return out

    @cached_property
    def _by_short(self) -> dict[str, list[Ref]]:
        out: dict[str, list[Ref]] = {}
        for ref in self.members:
            out.setdefault(ref.name, []).append(ref)
        return out

    def member(self, ref: Ref):
        return self.members[ref]

    def resolve(self, name: str, kinds: tuple[str, ...] = KINDS,
                prefer: str | None = None) -> Ref:
        """'revenue', 'orders.revenue' -> Ref. Unqualified names must be unique, except that
        members of the preferred model (the query's model) win."""
        name = name.strip()
        if "." in name:
            model, _, short = name.partition(".")
            if model not in self.models:
                raise UnknownMemberError(model, "model", self.models)
            hits = [r for r in self._by_short.get(short, []) if r.model == model and r.kind in kinds]
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
            raise QueryError(f"'{name}' is ambiguous; qualify it as one of: "
                             + ", ".join(sorted(h.qualified for h in hits)) + ".")
        return hits[0]

    # joins --------------------------------------------------------------------------------
    @cached_property
    def adjacency(self) -> dict[str, list[Edge]]:
        adj: dict[str, list[Edge]] = {m: [] for m in self.models}
        for m in self.models.values():
            for j in m.joins:
                pairs = tuple(j.on.items())
                if any(e.dst == j.to for e in adj[m.name]):
                    continue   # already known from the other side's declaration
                adj[m.name].append(Edge(m.name, j.to, pairs, j.relationship, j.required))
                back = tuple((b, a) for a, b in pairs)
                if not any(e.dst == m.name for e in adj[j.to]):
                    adj[j.to].append(Edge(j.to, m.name, back, _REVERSE[j.relationship]))
        return adj

    def tree(self, root: str, targets: set[str]) -> dict[str, Edge]:
        """Breadth-first join tree from root reaching every target: {model: edge into it}.
        Shortest paths keep joins few and predictable; ties go to the join declared first."""
        parent: dict[str, Edge | None] = {root: None}
        queue = deque([root])
        while queue:
            cur = queue.popleft()
            for edge in self.adjacency[cur]:
                if edge.dst not in parent:
                    parent[edge.dst] = edge
                    queue.append(edge.dst)
        missing = [t for t in targets if t not in parent]
        if missing:
            raise QueryError(f"No join path from model '{root}' to "
                             + ", ".join(f"'{m}'" for m in sorted(missing))
                             + f" in namespace '{self.name}'.")
        needed: dict[str, Edge] = {}
        for t in targets:
            node = t
            while parent[node] is not None:
                needed[node] = parent[node]
                node = parent[node].src
        return needed

    def path_fans_out(self, root: str, target: str) -> bool:
        tree = self.tree(root, {target})
        node = target
        while node != root:
            if tree[node].fans_out:
                return True
            node = tree[node].src
        return False

    def time_dimensions(self, model: str) -> list[Ref]:
        return [r for r in self.members if r.model == model and r.kind == "dimension"
                and self.members[r].type == "time"]

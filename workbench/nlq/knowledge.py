"""Everything the engine knows about one namespace, built from its metadata only: the members a
principal may see, their phrases, the value index, embeddings, time dimensions and entities."""

from __future__ import annotations

from pathlib import Path

from .embeddings import EmbeddingIndex
from .i18n import SynonymPack, load_packs
from .lexicon import Entry, Lexicon
from .text import fold, phrase_key
from .values import ValueIndex


class Knowledge:
    def __init__(
        self,
        wb,
        namespace: str,
        models_dir: Path | None,
        cache_dir: Path | None,
        embeddings: bool = True,
    ):
        self.wb, self.namespace = wb, namespace
        space = wb.namespace(namespace)
        self.space, self.version = space, space.version
        visible = {e["qualified_name"] for e in wb.catalog(namespace) if e["kind"] != "model"}
        counts: dict[str, int] = {}
        for ref in space.members:
            counts[ref.name] = counts.get(ref.name, 0) + 1
        entries: list[Entry] = []
        metric_names = {r.name for r in space.members if r.kind == "metric"}
        for ref, m in space.members.items():
            if f"{namespace}.{ref.qualified}" not in visible:
                continue
            if ref.kind == "measure" and ref.name in metric_names:
                continue  # the metric of the same name wraps it
            unique = counts[ref.name] == 1 or (
                ref.kind == "metric" and ref.name in metric_names and counts[ref.name] == 2
            )
            entries.append(
                Entry(
                    namespace,
                    ref.model,
                    ref.name,
                    ref.kind,
                    m.title,
                    m.description or "",
                    getattr(m, "type", None) if ref.kind != "measure" else m.agg,
                    m.format,
                    m.unit,
                    bool(getattr(m, "primary_key", False)),
                    ref.name if unique else ref.qualified,
                    spec=m,
                    spec_model_title=space.models[ref.model].title,
                )
            )
        for model in space.models.values():
            entries.append(
                Entry(
                    namespace,
                    model.name,
                    model.name,
                    "model",
                    model.title,
                    model.description or "",
                    spec=model,
                    query_name=model.name,
                )
            )
        self.entries = entries
        self.packs: dict[str, SynonymPack] = load_packs(models_dir, namespace) if models_dir else {}
        self.lexicon = Lexicon(namespace, entries, self.packs)
        self.values = ValueIndex(
            wb, namespace, [e for e in entries if e.kind == "dimension"], self.packs
        )
        self.embeddings = (
            EmbeddingIndex(entries, f"{namespace}:{space.version}", cache_dir)
            if embeddings
            else None
        )
        self.by_qualified = {e.qualified: e for e in entries}
        self._hops: dict[tuple[str, str], int] = {}

    def hops(self, a: str, b: str) -> int:
        """Join hops between two models (99: not joined)."""
        key = (a, b)
        if key not in self._hops:
            seen, frontier, d = {a}, [a], 0
            found = 0 if a == b else 99
            while frontier and found == 99:
                d += 1
                nxt = []
                for m in frontier:
                    for e in self.space.adjacency.get(m, ()):
                        if e.dst not in seen:
                            seen.add(e.dst)
                            nxt.append(e.dst)
                if b in nxt:
                    found = d
                frontier = nxt
            self._hops[key] = found
        return self._hops[key]

    # entities -------------------------------------------------------------------------------
    def members_of(self, model: str, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.model == model and e.kind == kind]

    def count_of(self, model: str) -> str | None:
        """The measure counting a model's rows ('how many loans'), or a distinct count of its key."""
        label = fold(self.space.models[model].title)
        counts = [
            e
            for e in self.entries
            if e.model == model
            and e.kind in ("measure", "metric")
            and e.dtype == "count"
            and (not getattr(e.spec, "filter", None) or fold(e.label) == label)
        ]
        if counts:
            counts.sort(key=lambda e: (fold(e.label) != label, len(e.name)))
            return counts[0].query_name
        keys = self.space.models[model].key_columns
        if len(keys) == 1:
            return f"count_distinct({model}.{keys[0]})"
        return None

    def name_of(self, model: str) -> Entry | None:
        """The dimension that names a model's rows ('by customer' -> customer name)."""
        dims = [e for e in self.members_of(model, "dimension") if e.dtype == "categorical"]
        label = fold(self.space.models[model].title)
        stems = {w[:5] for w in label.split()}

        def rank(e: Entry):
            lab = fold(e.label)
            return (
                0
                if "name" in lab.split() or e.name.endswith("name")
                else 1
                if lab in label or any(w[:5] in stems for w in lab.split()) and not e.primary_key
                else 2
                if e.primary_key
                else 3,
                len(e.name),
            )

        dims.sort(key=rank)
        return dims[0] if dims else None

    def title_dimension(self, model: str) -> Entry | None:
        """The dimension named like the model itself ('Product' of Products), if any."""
        title = phrase_key(self.space.models[model].title)
        return next(
            (
                e
                for e in self.members_of(model, "dimension")
                if phrase_key(e.label) == title and not e.primary_key
            ),
            None,
        )

    def key_of(self, model: str) -> Entry | None:
        keys = [e for e in self.members_of(model, "dimension") if e.primary_key]
        return keys[0] if keys else self.name_of(model)

    def default_time(self, model: str) -> Entry | None:
        m = self.space.models[model]
        if m.default_time_dimension:
            name = m.default_time_dimension
            qual = name if "." in name else f"{model}.{name}"
            if qual in self.by_qualified:
                return self.by_qualified[qual]
        times = [e for e in self.members_of(model, "dimension") if e.is_time]
        return times[0] if len(times) == 1 else None

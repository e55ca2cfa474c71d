"""Metadata for people and NLQ: a flat catalog of members, search by name, synonym or
description, lineage back to tables, and a dimension-value index ('Germany' → country)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import Any, TypedDict

from .errors import QueryError
from .expr import column_refs, parse
from .namespace import Namespace, Ref
from .spec import Member
from .validate import metric_dependencies

# One catalog entry: namespace, model, kind, name, qualified_name, label, description, synonyms,
# format, unit, examples, type, lineage (and live, for models). Plain dicts: they travel as JSON.
CatalogEntry = dict[str, Any]


class Lineage(TypedDict):
    table: str | None
    sql: str | None
    columns: list[str]  # "table.column" the member reads, in the end
    depends_on: list[str]  # qualified members it is built on


def entries(space: Namespace, hidden: Collection[Ref] = frozenset()) -> list[CatalogEntry]:
    out = []
    for m in space.models.values():
        entry = _entry(
            space,
            "model",
            m.name,
            m,
            {
                "table": m.table,
                "sql": m.sql,
                "columns": [],
                "depends_on": [],
                "joins": [f"{j.to} ({j.relationship})" for j in m.joins],
            },
        )
        entry["live"] = space.spec.live  # the namespace is fed by streaming pipelines
        out.append(entry)
    for ref, member in space.members.items():
        if ref in hidden:
            continue
        out.append(_entry(space, ref.kind, ref.model, member, lineage(space, ref), ref))
    return out


def _entry(
    space: Namespace,
    kind: str,
    model: str,
    member: Member,
    lin: Mapping[str, Any],
    ref: Ref | None = None,
) -> CatalogEntry:
    return {
        "namespace": space.name,
        "model": model,
        "kind": kind,
        "name": member.name,
        "qualified_name": f"{space.name}.{ref.qualified}" if ref else f"{space.name}.{model}",
        "label": member.title,
        "description": member.description,
        "synonyms": list(member.synonyms),
        "format": member.format,
        "unit": member.unit,
        "examples": list(member.examples),
        "type": getattr(member, "type", None) or getattr(member, "agg", None),
        "lineage": lin,
    }


def lineage(space: Namespace, ref: Ref) -> Lineage:
    """Members this one is built on, down to (table, column) pairs."""
    cols: set[str] = set()
    deps: list[str] = []
    seen: set[Ref] = set()

    def walk(r: Ref) -> None:
        if r in seen:
            return
        seen.add(r)
        model = space.models[r.model]
        texts: list[str] = []
        if r.kind == "metric":
            for d in metric_dependencies(space, r):
                deps.append(d.qualified)
                walk(d)
            return
        if r.kind == "dimension":
            dim = space.dimension(r)
            texts = [dim.expr] if dim.expr else []
            if not dim.expr:
                cols.add(f"{model.table or 'sql'}.{dim.column or dim.name}")
        elif r.kind == "measure":
            me = space.measure(r)
            texts = [t for t in (me.source, me.filter) if t]
            if not texts:
                cols.add(f"{model.table or 'sql'}.*")
        elif r.kind == "segment":
            texts = [space.segment(r).filter]
        for t in texts:
            for q, c in column_refs(parse(t)):
                if q:
                    try:
                        d = space.resolve(f"{q}.{c}", ("dimension",))
                        deps.append(d.qualified)
                        walk(d)
                    except QueryError:  # validated at load; a catalog never fails on it
                        pass
                else:
                    cols.add(f"{model.table or 'sql'}.{c}")

    walk(ref)
    model = space.models[ref.model]
    return {
        "table": model.table,
        "sql": model.sql,
        "columns": sorted(cols),
        "depends_on": sorted(set(deps)),
    }


def search(items: list[CatalogEntry], text: str, limit: int = 20) -> list[CatalogEntry]:
    """Ranks exact names, then synonyms and labels, then words in descriptions, then fuzzy."""
    q = text.strip().lower()
    if not q:
        return items[:limit]
    words = [w for w in re.split(r"\W+", q) if w]
    scored: list[tuple[float, CatalogEntry]] = []
    for e in items:
        names = [e["name"].lower(), e["label"].lower(), e["name"].replace("_", " ").lower()]
        syns = [s.lower() for s in e["synonyms"]]
        score = 0.0
        if q in names:
            score = 100
        elif q in syns:
            score = 90
        elif any(q in n for n in names):
            score = 70
        elif any(q in s for s in syns):
            score = 60
        else:
            desc = e["description"].lower()
            hits = sum(1 for w in words if w in desc or any(w in n for n in names + syns))
            if hits:
                score = 20 + 30 * hits / len(words)
            else:
                best = max(
                    (difflib.SequenceMatcher(None, q, n).ratio() for n in names + syns), default=0
                )
                score = 40 * best if best > 0.6 else 0
        if score:
            if e["kind"] in ("metric", "measure"):
                score += 1
            scored.append((score, e))
    scored.sort(key=lambda x: (-x[0], x[1]["qualified_name"]))
    return [e for _, e in scored[:limit]]

"""The dashboard spec resolved against one namespace: what this dashboard shows there.

The spec (dashboard.spec, YAML) names members; a namespace may lack some of them, and then
the KPI, drill level, query or panel that needs them is left out rather than failing every
second.  ``discover_members`` picks the namespace (the spec's order of preference; a namespace
its model marks ``live: true`` only once it answers) and resolves the spec against its catalog.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.ui.dashboard.spec import BUILT_IN_PANELS, TIME, DashboardSpec, PanelSpec, QuerySpec


@dataclass(frozen=True)
class Level:
    """One drill level as the namespace has it."""

    dimension: str
    label: str
    all: str
    metric: str | None = None  # the level's own metric (then the table shows only it)
    lines: bool = False  # its metric is line-level: filters use line dimensions
    line_dimension: str | None = None  # the same dimension on the line-level model


@dataclass
class Members:
    """The members the dashboard uses in one namespace (everything comes from the spec)."""

    namespace: str
    time: str
    kpis: list[str]
    metric: str  # the drill bar's metric, the explore panel's default
    metrics: list[str]  # the drill table's metrics at the upper levels
    levels: list[Level]
    probe_metric: str  # the freshness probe's metric
    queries: dict[str, QuerySpec] = field(default_factory=dict)
    panels: list[PanelSpec] = field(default_factory=list)
    live: bool = False
    title: str = "Live KPI dashboard"

    def chart_panels(self) -> list[PanelSpec]:
        return [p for p in self.panels if p.key not in BUILT_IN_PANELS]


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _plural(word: str) -> str:
    return word[:-1] + "ies" if word.endswith("y") and word[-2:-1] not in "aeiou" else word + "s"


def resolve(
    spec: DashboardSpec,
    namespace: str,
    names: set[str] | None = None,
    time_dimensions: Sequence[str] = (),
    live: bool = False,
) -> Members:
    """The spec in ``namespace``: ``names`` are the members it has (None: all the spec names)."""

    def has(name: str | None) -> bool:
        return name is None or names is None or name in names

    time = spec.time if has(spec.time) or not time_dimensions else time_dimensions[0]

    def real(name: str | None) -> str | None:
        return time if name == TIME else name

    levels = []
    for lv in spec.drill.levels:
        if not has(lv.dimension) or not has(lv.metric):
            continue
        levels.append(
            Level(
                lv.dimension,
                lv.label or _title(lv.dimension),
                lv.all or f"All {_plural(lv.dimension.replace('_', ' '))}",
                lv.metric,
                lv.lines,
                lv.line_dimension
                if lv.line_dimension and names is not None and lv.line_dimension in names
                else None,
            )
        )
    queries = {}
    for key, q in spec.queries.items():
        dims = tuple(real(d) for d in q.dimensions)
        if all(has(x) for x in (*q.metrics, *dims)):
            queries[key] = q.model_copy(update={"dimensions": dims})
    panels = []
    for p in spec.panels:
        if p.key in BUILT_IN_PANELS:
            panels.append(p)
            continue
        fields = (p.x, p.y, p.by, p.label, p.summary)
        if p.source in queries and all(has(real(f)) for f in fields):
            panels.append(p.model_copy(update={"x": real(p.x)}))
    kpis = [k for k in spec.kpis if has(k)]
    probe = (
        spec.freshness_metric
        if has(spec.freshness_metric) and spec.freshness_metric
        else (kpis or list(spec.kpis))[0]
    )
    return Members(
        namespace=namespace,
        time=time,
        kpis=kpis,
        metric=spec.drill.metric,
        metrics=[x for x in spec.drill.metrics or (spec.drill.metric,) if has(x)],
        levels=levels,
        probe_metric=probe,
        queries=queries,
        panels=panels,
        live=live,
        title=spec.title,
    )


def without_query(m: Members, key: str) -> Members:
    """``m`` without the query ``key`` and the panels that draw it."""
    m.queries = {k: q for k, q in m.queries.items() if k != key}
    m.panels = [p for p in m.panels if p.key in BUILT_IN_PANELS or p.source != key]
    return m


def discover_members(
    client, namespace: str | None = None, spec: DashboardSpec | None = None
) -> Members:
    """Pick the namespace (``WORKBENCH_DASHBOARD_NAMESPACE``, else the spec's first that the
    server has, a live one only once it answers) and keep the members it has."""
    if spec is None:
        from workbench.ui.dashboard.spec import load_dashboard

        spec = load_dashboard()
    cat = client.catalog()
    spaces = cat.get("namespaces") or []
    live_spaces = {
        e["namespace"] for e in cat.get("entries", []) if e.get("kind") == "model" and e.get("live")
    }
    ns = namespace or os.environ.get("WORKBENCH_DASHBOARD_NAMESPACE") or None
    if ns is None:
        candidates = [n for n in spec.namespaces if n in spaces] or list(spec.namespaces)
        ns = candidates[-1]
        for name in candidates:
            if name not in live_spaces:
                ns = name
                break
            try:  # a live namespace answers once the pipeline has created its gold views
                client.query(
                    {
                        "namespace": name,
                        "metrics": [spec.freshness_metric or spec.kpis[0]],
                        "limit": 1,
                    }
                )
                ns = name
                break
            except Exception:  # noqa: BLE001, S112  not yet: the next namespace is tried
                continue
    entries = client.catalog(namespace=ns).get("entries", [])
    names = {e["name"] for e in entries}
    times = [e["name"] for e in entries if e["kind"] == "dimension" and e.get("type") == "time"]
    m = resolve(spec, ns, names, times, live=ns in live_spaces)
    for key, q in list(m.queries.items()):
        if not q.check:
            continue
        try:  # a panel that can never answer would only fail once a second
            client.query(
                {
                    "namespace": ns,
                    "metrics": list(q.metrics),
                    "dimensions": list(q.dimensions),
                    "limit": 1,
                }
            )
        except Exception:  # noqa: BLE001
            without_query(m, key)
    return m

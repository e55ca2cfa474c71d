"""Search the semantic catalog and read one entry: its description, synonyms, format and its
lineage back to warehouse tables.

Works on any object with ``catalog(namespace=None)`` and ``search(text, limit=...)`` returning
the flat entry dicts of ``workbench.connect()`` (see docs/semantic-models.md).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import Any

import panel as pn
import param

from workbench.ui import messages
from workbench.ui.catalog.availability import namespace_status
from workbench.ui.theme import MUTED_TEXT, heading, styled

Entry = dict[str, Any]

ALL = "*"  # Bokeh selects can't hold None; this sentinel means "no filter"
KIND_FILTERS = {
    "Everything": ALL,
    "Metrics and measures": "metric,measure",
    "Dimensions": "dimension",
    "Segments": "segment",
    "Models": "model",
}
QUERYABLE_KINDS = ("metric", "measure", "dimension")
SEARCH_LIMIT = 100
CODE_CSS = "code { color: #1a1a1a; background: #eeeeee; padding: 0 3px; border-radius: 3px; }"


def entry_label(entry: Entry) -> str:
    """One line per entry in the results list."""
    label = entry.get("label") or entry.get("name") or ""
    return f"{label} — {entry.get('kind', '')} · {entry.get('qualified_name', '')}"


def filter_entries(entries: Iterable[Entry], namespace: str | None, kinds: tuple[str, ...] | None):
    return [
        e
        for e in entries
        if (namespace is None or e.get("namespace") == namespace)
        and (kinds is None or e.get("kind") in kinds)
    ]


def lineage_markdown(entry: Entry, index: dict[str, Entry], max_depth: int = 6) -> str:
    """A nested list from ``entry`` down through the members it depends on to the tables and
    columns they read.  ``depends_on`` names may be namespace-qualified or not."""
    lines: list[str] = []
    namespace = entry.get("namespace", "")

    def find(dep: str) -> Entry | None:
        return index.get(dep) or index.get(f"{namespace}.{dep}")

    def walk(e: Entry, depth: int, seen: frozenset[str]) -> None:
        pad = "  " * depth
        lineage = e.get("lineage") or {}
        name = e.get("qualified_name", e.get("name", "?"))
        lines.append(f"{pad}- {e.get('kind', 'member')} `{name}`")
        for source in _source_lines(lineage, is_leaf=not lineage.get("depends_on")):
            lines.append(f"{pad}  - {source}")
        if depth >= max_depth:
            return
        for dep in lineage.get("depends_on") or []:
            target = find(dep)
            key = target["qualified_name"] if target else dep
            if key in seen:
                lines.append(f"{pad}  - `{dep}` (cycle)")
            elif target is not None:
                walk(target, depth + 1, seen | {key})
            else:
                lines.append(f"{pad}  - `{dep}`")

    walk(entry, 0, frozenset({entry.get("qualified_name", "")}))
    return "\n".join(lines)


def _source_lines(lineage: dict[str, Any], is_leaf: bool) -> list[str]:
    out = []
    columns = lineage.get("columns") or []
    if columns:
        out.append("reads " + ", ".join(f"`{c}`" for c in columns))
    if is_leaf or columns:
        if lineage.get("table"):
            out.append(f"from table `{lineage['table']}`")
        elif lineage.get("sql"):
            sql = " ".join(str(lineage["sql"]).split())
            out.append(f"from SQL `{sql[:160]}{'…' if len(sql) > 160 else ''}`")
    return out


def detail_markdown(entry: Entry, index: dict[str, Entry]) -> str:
    rows = []
    for key, title in (("type", "Type"), ("format", "Format"), ("unit", "Unit")):
        if entry.get(key):
            rows.append(f"**{title}:** {entry[key]}")
    for key, title in (("synonyms", "Synonyms"), ("examples", "Examples")):
        values = entry.get(key) or []
        if values:
            rows.append(f"**{title}:** {', '.join(str(v) for v in values)}")
    description = entry.get("description") or "_No description._"
    return "\n\n".join(
        [
            f"`{entry.get('qualified_name', '')}` · {entry.get('kind', '')}",
            description,
            *rows,
            "**Lineage**",
            lineage_markdown(entry, index),
        ]
    )


class CatalogSearch(pn.viewable.Viewer):
    """Search box, filters, a keyboard-navigable results list and the selected entry."""

    selected = param.Dict(default=None, allow_None=True, doc="The entry shown in the detail.")

    def __init__(self, wb, on_add: Callable[[Entry], None] | None = None, **params):
        super().__init__(**params)
        self.wb = wb
        self.on_add = on_add
        self._entries: list[Entry] = wb.catalog()
        self._index = {e["qualified_name"]: e for e in self._entries if e.get("qualified_name")}
        namespaces = sorted({e["namespace"] for e in self._entries if e.get("namespace")})
        self.status_by_namespace = namespace_status(wb)

        self.query = styled(
            pn.widgets.TextInput(
                label="Search metrics and dimensions",
                placeholder="name, synonym or description",
                sizing_mode="stretch_width",
            )
        )
        self.namespace = styled(
            pn.widgets.Select(
                label="Namespace",
                options={"All namespaces": ALL, **{n: n for n in namespaces}},
                sizing_mode="stretch_width",
            )
        )
        self.kind = styled(
            pn.widgets.Select(
                label="Show", options=KIND_FILTERS, value=ALL, sizing_mode="stretch_width"
            )
        )
        self.results = styled(
            pn.widgets.Select(label="Results", options={}, size=10, sizing_mode="stretch_width")
        )
        self.status = messages.status_line()
        self.error = messages.error_box()
        self.detail_title = heading("", level=3)
        self.detail = pn.pane.Markdown("", sizing_mode="stretch_width", stylesheets=[CODE_CSS])
        self.add_button = styled(
            pn.widgets.Button(label="Add to query", button_type="primary", disabled=True)
        )

        self.query.param.watch(self._on_search, ["value_input", "value"])
        self.namespace.param.watch(self._on_search, "value")
        self.kind.param.watch(self._on_search, "value")
        self.results.param.watch(self._on_pick, "value")
        self.add_button.on_click(self._on_add)
        self.refresh()

    # -- behaviour ---------------------------------------------------------------------------
    def search_entries(self, text: str) -> list[Entry]:
        text = (text or "").strip()
        kinds = None if self.kind.value == ALL else tuple(self.kind.value.split(","))
        namespace = None if self.namespace.value == ALL else self.namespace.value
        if text:
            found = self.wb.search(text, limit=SEARCH_LIMIT)
        else:
            found = self._entries
        found = filter_entries(found, namespace, kinds)
        # Members this warehouse can answer first; the ranking is kept within each group.
        return sorted(found, key=lambda e: bool(self.status_by_namespace.get(e.get("namespace"))))

    def refresh(self) -> None:
        text = self.query.value_input if self.query.value_input is not None else self.query.value
        try:
            found = self.search_entries(text)
        except Exception as exc:  # noqa: BLE001
            messages.show_error(self.error, exc)
            found = []
        else:
            messages.clear(self.error)
        options: dict[str, str] = {}
        for e in found:
            options.setdefault(entry_label(e), e["qualified_name"])
        self.results.options = options
        count = len(options)
        messages.set_status(
            self.status,
            f"{count} result{'' if count == 1 else 's'}"
            if count
            else "Nothing matches. Try a synonym or a shorter word.",
        )
        if options:
            # A new search shows its best match, even if the old selection is still listed.
            first = next(iter(options.values()))
            if self.results.value != first:
                self.results.value = first
            else:
                self._show(self._index.get(first))
        else:
            self._show(None)

    def select(self, qualified_name: str) -> None:
        self.results.value = qualified_name

    def _on_search(self, *_):
        self.refresh()

    def _on_pick(self, event):
        self._show(self._index.get(event.new) if event.new else None)

    def _show(self, entry: Entry | None) -> None:
        self.selected = entry
        if entry is None:
            self.detail_title.object = ""
            self.detail.object = ""
            self.add_button.disabled = True
            return
        title = entry.get("label") or entry.get("name", "")
        self.detail_title.object = f"<h3 style='margin:0.4em 0'>{html.escape(title)}</h3>"
        problem = self.status_by_namespace.get(entry.get("namespace") or "", "")
        note = f"> **Not queryable with this warehouse.** {problem}\n\n" if problem else ""
        self.detail.object = note + detail_markdown(entry, self._index)
        self.add_button.disabled = (
            entry.get("kind") not in QUERYABLE_KINDS or self.on_add is None or bool(problem)
        )

    def _on_add(self, _event=None):
        if self.selected and self.on_add:
            self.on_add(self.selected)

    # -- layout ------------------------------------------------------------------------------
    def __panel__(self):
        filters = pn.FlexBox(
            self.namespace,
            self.kind,
            flex_wrap="wrap",
            sizing_mode="stretch_width",
            styles={"gap": "8px"},
        )
        self.namespace.styles = {"flex": "1 1 160px"}
        self.kind.styles = {"flex": "1 1 160px"}
        return pn.Column(
            heading("Find a metric or dimension"),
            pn.pane.HTML(
                f"<p style='margin:0;color:{MUTED_TEXT}'>Searches names, synonyms and "
                "descriptions. Use the arrow keys in the results list.</p>",
                sizing_mode="stretch_width",
            ),
            self.query,
            filters,
            self.status,
            self.error,
            self.results,
            self.detail_title,
            self.detail,
            self.add_button,
            sizing_mode="stretch_width",
        )

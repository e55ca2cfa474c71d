"""Show generated SQL as selectable, copyable text (not an editor: the SQL is the semantic
layer's output, read-only)."""

from __future__ import annotations

import html

import panel as pn

_STYLE = (
    "white-space:pre-wrap;word-break:break-word;background:#f6f6f6;color:#1a1a1a;"
    "border:1px solid #d0d0d0;border-radius:4px;padding:8px;margin:0;"
    "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;max-height:320px;overflow:auto"
)


def render_sql(sql: str) -> str:
    return (
        f'<pre class="wb-sql" tabindex="0" aria-label="Generated SQL" style="{_STYLE}">'
        f"<code>{html.escape(sql)}</code></pre>"
    )


def sql_view(sql: str = "") -> pn.pane.HTML:
    return pn.pane.HTML(render_sql(sql) if sql else "", sizing_mode="stretch_width")


def set_sql(pane: pn.pane.HTML, sql: str) -> None:
    pane.object = render_sql(sql) if sql else ""

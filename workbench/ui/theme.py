"""Colours, fonts and the responsive page shell used by every app.

The palette is Okabe-Ito, which stays distinguishable under the common forms of colour
blindness.  Charts take series colours from :data:`PALETTE` in order; yellow comes last because
it has the least contrast on white.
"""

from __future__ import annotations

import weakref

import panel as pn

from workbench.ui.aria import script_url

OKABE_ITO = {
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
    "black": "#000000",
}

PALETTE = [
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish_green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["reddish_purple"],
    OKABE_ITO["sky_blue"],
    OKABE_ITO["black"],
    OKABE_ITO["yellow"],
]

ACCENT = OKABE_ITO["blue"]
TEXT = "#1a1a1a"
MUTED_TEXT = "#4d4d4d"  # 8.5:1 on white

# Document-level CSS (outside the widgets' shadow roots): a visible keyboard focus ring, a
# readable base size.
GLOBAL_CSS = f"""
html, body {{ color: {TEXT}; font-size: 16px; }}
:focus-visible {{ outline: 3px solid {ACCENT} !important; outline-offset: 2px; }}
"""

# Inside each widget's shadow root.
WIDGET_CSS = f"""
:host {{ --focus-ring: 3px solid {ACCENT}; }}
input:focus-visible, select:focus-visible, textarea:focus-visible, button:focus-visible,
.bk-btn:focus-visible, .choices:focus-within {{
  outline: var(--focus-ring) !important; outline-offset: 1px;
}}
label {{ font-weight: 600; color: {TEXT}; }}
"""


# Panel's theme colours inline `code` #82aaff on white (2.4:1, axe color-contrast, WCAG 1.4.3);
# the variable is set on every shadow root's :host, so a document rule can't reach it.  Code
# blocks keep their dark background.
CODE_CSS = f":not(pre) > code {{ color: {TEXT}; background: #f0f0f0; }}"
# Tabulator's pager buttons turn white on light grey under the mouse (1.6:1, axe color-contrast);
# they keep the text colour on a darker grey.
PAGER_CSS = (
    ".tabulator .tabulator-footer .tabulator-page:not(:disabled):hover "
    f"{{ color: {TEXT}; background: #d9d9d9; }}"
)
# Panel's code highlighting (Markdown panes: migration SQL, rule specs) on its #263238 code
# background: comments #546e7a (2.4:1), tags and errors #ff5370 (4.2:1), keywords #bb80b3
# (4.3:1) fail axe color-contrast; the same hues, lighter, pass (5.1, 5.3 and 5.6:1).
_COMMENTS = ".c .ch .cm .cp .cpf .c1 .cs .go .sd".split()
_REDS = ".gd .gr .gs .gt .nt".split()
_PURPLES = ".k .kd .kr .kt .na .sa".split()
CODE_HIGHLIGHT_CSS = "\n".join(
    ", ".join(f"div.codehilite {token}" for token in tokens) + f" {{ color: {colour}; }}"
    for tokens, colour in ((_COMMENTS, "#90a4ae"), (_REDS, "#ff7a8f"), (_PURPLES, "#cc99c4"))
)
# The default of Viewable.stylesheets, shared by every component: the one place a rule reaches
# every shadow root.  Set at import, before any app builds a pane.
pn.viewable.Viewable.param.stylesheets.default = [CODE_CSS, PAGER_CSS, CODE_HIGHLIGHT_CSS]

# Bokeh's number-input spin buttons are unnamed <button>s (axe button-name, WCAG 4.1.2); the
# input's own ArrowUp/ArrowDown steps the value, so hiding them loses nothing.
NO_SPIN_CSS = ".bk-input-group > .bk-spin-wrapper { display: none !important; }"

_configured_docs: weakref.WeakSet = weakref.WeakSet()


def configure() -> None:
    """Load the Panel extensions the apps need, the global styles and the ARIA repairs
    (:mod:`workbench.ui.aria`) for this session; idempotent.

    Panel keeps ``global_css`` and ``js_files`` per session (per Bokeh document), so this runs
    once per document: a once-per-process guard left every session after the first without the
    focus ring."""
    doc = pn.state.curdoc
    if doc is not None and doc in _configured_docs:
        return
    pn.extension(
        "tabulator",
        global_css=[GLOBAL_CSS],
        js_files={"workbench_aria": script_url()},
        notifications=False,
    )
    if doc is not None:
        _configured_docs.add(doc)


def styled(widget):
    """Add the shared focus ring and label style to a widget (inside its shadow root)."""
    widget.stylesheets = [*widget.stylesheets, WIDGET_CSS]
    return widget


def heading(text: str, level: int = 2) -> pn.pane.HTML:
    return pn.pane.HTML(
        f"<h{level} style='margin:0.4em 0'>{_escape(text)}</h{level}>", sizing_mode="stretch_width"
    )


def page(title: str, *sections, intro: str = "") -> pn.Column:
    """A page: title, a one-line intro, then sections that sit side by side on a wide screen
    and stack on a narrow one."""
    from workbench.ui.connection import signed_in_as

    configure()
    who = signed_in_as()  # the person the gateway's signed identity names
    header = pn.pane.HTML(
        f"<header><h1 style='margin:0.2em 0'>{_escape(title)}</h1>"
        + (f"<p style='margin:0;color:{MUTED_TEXT}'>{_escape(intro)}</p>" if intro else "")
        + (
            f"<p class='wb-user' style='margin:0;color:{MUTED_TEXT}'>Signed in as "
            f"<strong>{_escape(who)}</strong></p>"
            if who
            else ""
        )
        + "</header>",
        sizing_mode="stretch_width",
    )
    body = pn.FlexBox(
        *[_flex_item(s) for s in sections],
        flex_wrap="wrap",
        gap="16px",
        sizing_mode="stretch_width",
    )
    return pn.Column(
        header,
        body,
        sizing_mode="stretch_width",
        # Never wider than the viewport, padding included: a phone sometimes got a
        # page 21px wider than its screen (a sideways scroll).
        styles={
            "max-width": "min(1400px, 100vw)",
            "margin": "0 auto",
            "padding": "0 12px",
            "box-sizing": "border-box",
        },
    )


def _flex_item(section):
    # Basis 360px: two columns from ~750px up, one column on a phone.
    return pn.Column(
        section, sizing_mode="stretch_width", styles={"flex": "1 1 360px", "min-width": "0"}
    )


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))

"""Human-readable errors and notices.  Apps never show a traceback: a ``SemanticError`` is
shown with its own message, anything else with a short generic one (the traceback goes to the
server log)."""

from __future__ import annotations

import html
import logging

import panel as pn

log = logging.getLogger("workbench.ui")


def _semantic_error_types() -> tuple[type[BaseException], ...]:
    try:
        from workbench.semantic.errors import SemanticError
    except Exception:  # the semantic layer is optional for the UI package itself
        return ()
    return (SemanticError,)


def describe_error(exc: BaseException) -> str:
    """The message to show a person for ``exc``."""
    if isinstance(exc, _semantic_error_types()):
        return str(exc) or type(exc).__name__
    log.exception("unexpected error in app", exc_info=exc)
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"Something went wrong ({type(exc).__name__}: {detail}). The server log has details."


def error_box(message: str = "", visible: bool | None = None) -> pn.pane.Alert:
    box = pn.pane.Alert(
        html.escape(message),
        alert_type="danger",
        sizing_mode="stretch_width",
        visible=bool(message) if visible is None else visible,
    )
    return box


def show_error(box: pn.pane.Alert, exc_or_message: BaseException | str) -> None:
    message = exc_or_message if isinstance(exc_or_message, str) else describe_error(exc_or_message)
    box.object = html.escape(message)
    box.visible = True


def clear(box: pn.pane.Alert) -> None:
    box.object = ""
    box.visible = False


def status_line(text: str = "") -> pn.pane.HTML:
    """A polite live region: screen readers announce changes (result counts, 'running…')."""
    pane = pn.pane.HTML(sizing_mode="stretch_width")
    set_status(pane, text)
    return pane


def set_status(pane: pn.pane.HTML, text: str) -> None:
    pane.object = (
        f'<p role="status" aria-live="polite" style="margin:0.3em 0">{html.escape(text)}</p>'
    )


def notice(title: str, body_markdown: str, kind: str = "warning") -> pn.pane.Alert:
    return pn.pane.Alert(
        f"**{title}**\n\n{body_markdown}", alert_type=kind, sizing_mode="stretch_width"
    )

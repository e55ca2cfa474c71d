"""A layout the person can rearrange and save: panel order and visibility.

Panels are dragged by their handles on the board (dashboard.board, also keyboard-operable);
this editor keeps the order, and offers the same with labelled native controls (a list box,
Move up / Move down, Show / Hide), which also hide panels.  The layout is saved per Jupyter
user as JSON under ``.workbench/dashboard-layouts/`` and restored when the page opens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import panel as pn

from workbench.ui import theme


def layouts_dir() -> Path:
    try:
        from workbench.config import load_settings

        root = Path(load_settings().root)
    except Exception:  # noqa: BLE001  a broken workbench.yml: the cwd still works
        root = Path.cwd()
    return root / ".workbench" / "dashboard-layouts"


def _file(user: str | None, folder: Path | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", user or "local")[:80] or "local"
    return Path(folder or layouts_dir()) / f"{safe}.json"


def load_layout(user: str | None, folder: Path | None = None) -> dict | None:
    try:
        data = json.loads(_file(user, folder).read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and isinstance(data.get("order"), list):
        return {
            "order": [str(x) for x in data["order"]],
            "hidden": [str(x) for x in data.get("hidden", [])],
        }
    return None


def save_layout(
    user: str | None, order: list[str], hidden: list[str], folder: Path | None = None
) -> Path:
    path = _file(user, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"order": order, "hidden": hidden}, indent=1))
    return path


class LayoutEditor:
    """Order and visibility of named panels; calls ``on_change(order, hidden)``."""

    def __init__(
        self,
        titles: dict[str, str],
        on_change: Callable[[list[str], list[str]], None],
        user: str | None = None,
        folder: Path | None = None,
    ):
        self.titles, self.on_change, self.user, self.folder = titles, on_change, user, folder
        self.order = list(titles)
        self.hidden: list[str] = []
        saved = load_layout(user, folder)
        if saved:
            known = [k for k in saved["order"] if k in titles]
            self.order = known + [k for k in titles if k not in known]
            self.hidden = [k for k in saved["hidden"] if k in titles]
        self.list = theme.styled(
            pn.widgets.Select(
                name="Dashboard panels (select one, then move or hide it)",
                options=self._options(),
                size=min(12, len(titles)),
                sizing_mode="stretch_width",
            )
        )
        self.up = theme.styled(pn.widgets.Button(name="Move up", button_type="default"))
        self.down = theme.styled(pn.widgets.Button(name="Move down", button_type="default"))
        self.toggle = theme.styled(pn.widgets.Button(name="Show / hide", button_type="default"))
        self.save = theme.styled(pn.widgets.Button(name="Save layout", button_type="primary"))
        self.reset = theme.styled(pn.widgets.Button(name="Reset layout", button_type="default"))
        self.status = pn.pane.HTML(
            "", sizing_mode="stretch_width", stylesheets=[], styles={"min-height": "1.2em"}
        )
        self.up.on_click(lambda e: self._move(-1))
        self.down.on_click(lambda e: self._move(1))
        self.toggle.on_click(lambda e: self._toggle())
        self.save.on_click(lambda e: self._save())
        self.reset.on_click(lambda e: self._reset())
        self.view = pn.Column(
            self.list,
            pn.FlexBox(self.up, self.down, self.toggle, self.save, self.reset, gap="6px"),
            self.status,
            sizing_mode="stretch_width",
        )

    def set_order(self, visible_order: list[str]) -> None:
        """The board's new order of the visible panels (drag-and-drop); hidden panels keep
        their places.  The board already shows it, so ``on_change`` is not called."""
        visible = iter([k for k in visible_order if k in self.titles])
        self.order = [k if k in self.hidden else next(visible, k) for k in self.order]
        self.list.options = self._options()
        self._say("Layout changed (not saved yet): press Save layout to keep it.")

    def _options(self) -> dict[str, str]:
        return {
            f"{i + 1}. {self.titles[k]}" + (" (hidden)" if k in self.hidden else ""): k
            for i, k in enumerate(self.order)
        }

    def _refresh(self, keep: str | None = None) -> None:
        self.list.options = self._options()
        if keep:
            self.list.value = keep
        self.on_change(list(self.order), list(self.hidden))

    def _move(self, step: int) -> None:
        key = self.list.value
        if key not in self.order:
            return
        i = self.order.index(key)
        j = max(0, min(len(self.order) - 1, i + step))
        self.order.insert(j, self.order.pop(i))
        self._say(f"{self.titles[key]} moved to position {j + 1}.")
        self._refresh(key)

    def _toggle(self) -> None:
        key = self.list.value
        if key not in self.order:
            return
        if key in self.hidden:
            self.hidden.remove(key)
            self._say(f"{self.titles[key]} shown.")
        else:
            self.hidden.append(key)
            self._say(f"{self.titles[key]} hidden.")
        self._refresh(key)

    def _save(self) -> None:
        try:
            save_layout(self.user, self.order, self.hidden, self.folder)
            self._say("Layout saved; it opens like this next time.")
        except OSError as exc:
            self._say(f"Couldn't save the layout: {exc}")

    def _reset(self) -> None:
        self.order, self.hidden = list(self.titles), []
        self._say("Layout reset (not saved yet).")
        self._refresh()

    def _say(self, text: str) -> None:
        import html

        self.status.object = (
            f"<p role='status' aria-live='polite' style='margin:0'>{html.escape(text)}</p>"
        )

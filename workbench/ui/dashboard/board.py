"""The dashboard's panels on a board the person rearranges by drag-and-drop or keyboard.

Hand-written because no bundled Panel layout does both: GridStack (bundled) drags with the
mouse only and places panels on a fixed grid that does not reflow to a phone's width.  This is
a small ``JSComponent`` (no third-party JavaScript, nothing fetched at run time): every panel
gets a handle button; drag the handle onto another panel (HTML5 drag-and-drop), or focus it and
press the arrow keys (Home / End for first / last).  The browser moves the panel at once and
tells Python the new order (``on_order``), which the layout editor keeps and saves per person.
"""

from __future__ import annotations

from collections.abc import Callable

import param
from panel.custom import Children, JSComponent

_ESM = r"""
export function render({ model, el }) {
  const board = document.createElement("div");
  board.className = "wb-board";
  const say = document.createElement("p");
  say.className = "wb-board-say";
  say.setAttribute("role", "status");
  say.setAttribute("aria-live", "polite");
  const kids = model.get_child("objects");
  const keys = model.keys, titles = model.titles;
  let dragged = null;

  function order() {
    return [...board.children].map((n) => n.dataset.key);
  }
  function moved(item) {
    const pos = [...board.children].indexOf(item) + 1;
    say.textContent = `${item.dataset.title} moved to position ${pos} of ${board.children.length}.`;
    model.send_msg({ order: order() });
  }
  kids.forEach((child, i) => {
    const item = document.createElement("div");
    item.className = "wb-board-item" + (keys[i] === "kpis" ? " wb-board-wide" : "");
    item.dataset.key = keys[i];
    item.dataset.title = titles[i];
    const handle = document.createElement("button");
    handle.type = "button";
    handle.className = "wb-board-handle";
    handle.draggable = true;
    handle.textContent = "\u2630 Move";
    handle.title = `Drag to move ${titles[i]}, or use the arrow keys`;
    handle.setAttribute("aria-label",
      `Move panel ${titles[i]}: drag it, or press arrow keys (Home, End for first, last)`);
    handle.addEventListener("dragstart", (e) => {
      dragged = item;
      item.classList.add("wb-dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", keys[i]);
    });
    handle.addEventListener("dragend", () => {
      item.classList.remove("wb-dragging");
      dragged = null;
    });
    handle.addEventListener("keydown", (e) => {
      const sibs = [...board.children];
      const at = sibs.indexOf(item);
      let to = null;
      if (e.key === "ArrowUp" || e.key === "ArrowLeft") to = Math.max(0, at - 1);
      else if (e.key === "ArrowDown" || e.key === "ArrowRight") to = Math.min(sibs.length - 1, at + 1);
      else if (e.key === "Home") to = 0;
      else if (e.key === "End") to = sibs.length - 1;
      if (to === null) return;
      e.preventDefault();
      if (to === at) return;
      const ref = to > at ? sibs[to].nextSibling : sibs[to];
      board.insertBefore(item, ref);
      handle.focus();
      moved(item);
    });
    item.addEventListener("dragover", (e) => {
      if (!dragged || dragged === item) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      item.classList.add("wb-drop");
    });
    item.addEventListener("dragleave", () => item.classList.remove("wb-drop"));
    item.addEventListener("drop", (e) => {
      e.preventDefault();
      item.classList.remove("wb-drop");
      if (!dragged || dragged === item) return;
      const r = item.getBoundingClientRect();
      const after = (e.clientY - r.top) > r.height / 2 ||
        ((e.clientY - r.top) > r.height / 4 && (e.clientX - r.left) > r.width / 2);
      board.insertBefore(dragged, after ? item.nextSibling : item);
      moved(dragged);
    });
    item.append(handle, child);
    board.append(item);
  });
  el.append(say, board);
  // The page's first paint (KPI cards the server wrote into the HTML) is no longer needed once
  // the live panels are on screen.
  document.getElementById("wb-first-paint")?.remove();
}
"""

_CSS = """
:host { display: block; width: 100%; }
.wb-board { display: flex; flex-wrap: wrap; gap: 12px; width: 100%; }
.wb-board-item { flex: 1 1 420px; min-width: min(100%, 300px); position: relative;
  border: 1px solid #d0d0d0; border-radius: 6px; padding: 4px 8px; background: #fff;
  box-sizing: border-box; }
.wb-board-wide { flex: 1 1 100%; }
.wb-board-handle { font: inherit; font-size: 0.85em; cursor: grab; background: #f2f2f2;
  border: 1px solid #b3b3b3; border-radius: 4px; padding: 2px 8px; color: #1a1a1a; }
.wb-board-handle:focus-visible { outline: 3px solid #0072B2; outline-offset: 2px; }
.wb-dragging { opacity: 0.5; }
.wb-drop { outline: 3px dashed #0072B2; outline-offset: 2px; }
.wb-board-say { position: absolute; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); white-space: nowrap; }
"""


class PanelBoard(JSComponent):
    """Panels in a wrapping flex layout, each with a drag / keyboard handle."""

    objects = Children(doc="The panels, in display order.")
    keys = param.List(default=[], doc="The panels' keys, parallel to objects.")
    titles = param.List(default=[], doc="The panels' titles (handle labels).")

    _esm = _ESM
    _stylesheets = [_CSS]

    def __init__(self, on_order: Callable[[list[str]], None] | None = None, **params):
        super().__init__(**params)
        self._on_order = on_order

    def set_panels(self, items: list[tuple[str, str, object]]) -> None:
        """Replace the panels: [(key, title, viewable)] in order."""
        self.param.update(
            keys=[k for k, _, _ in items],
            titles=[t for _, t, _ in items],
            objects=[v for _, _, v in items],
        )

    def _handle_msg(self, msg) -> None:
        order = msg.get("order") if isinstance(msg, dict) else None
        if not isinstance(order, list) or sorted(order) != sorted(self.keys):
            return  # not ours, or stale (the panels changed meanwhile)
        # Keep objects/keys in the browser's order without re-rendering (it is already there).
        by_key = dict(zip(self.keys, zip(self.titles, self.objects, strict=True), strict=True))
        with param.discard_events(self):
            self.keys = list(order)
            self.titles = [by_key[k][0] for k in order]
            self.objects = [by_key[k][1] for k in order]
        if self._on_order is not None:
            self._on_order(list(order))

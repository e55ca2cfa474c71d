"""ARIA repairs for the third-party widgets every app uses, applied in the browser.

Tabulator (Panel's ``Tabulator``), Choices.js (Panel's ``MultiChoice``) and Panel's Markdown
pane build markup in the browser, inside each widget's shadow root, and parts of it are invalid
ARIA or unnamed (axe-core, WCAG 4.1.2 Name, Role, Value):

* Tabulator's ``role=grid`` element may own only rows and row groups, but it holds the
  focusable scroll container (``.tabulator-tableholder``, ``tabindex=0``) and the pagination
  footer's buttons.  The scroll container becomes the grid's body ``rowgroup`` (it keeps its
  tabindex, so the keyboard can still scroll it) and Tabulator's own inner ``rowgroup`` becomes
  presentational, since row groups don't nest; the grid's ``aria-owns`` of that inner element
  is dropped, as the rows are now reached through the DOM.  The footer becomes the grid's last
  row with one cell holding the pager, as a ``<tfoot>`` row would.
* Choices.js marks the selected-item chips ``aria-selected`` on role-less ``<div>``s, where
  the attribute is not allowed (and means nothing); it is removed.  The chips keep their
  "Remove item" buttons, and the options in the drop-down list (``role=option``) keep theirs.
* Panel's Markdown pane puts an icon-only copy button (``button.copybtn``) on each code block,
  with no name (axe button-name); it is named "Copy code".

:data:`SCRIPT` runs once per page, before Bokeh draws: it wraps ``Element.attachShadow`` so
that every shadow root is watched (MutationObserver) and repaired whenever the libraries
redraw (a new page of rows, a new value, a table rebuilt).  :func:`script_url` is how
:func:`workbench.ui.theme.configure` hands it to Panel (a ``data:`` URL: nothing is fetched).
"""

from __future__ import annotations

import base64

SCRIPT = r"""
(() => {
  if (window.workbenchAria) return;
  const set = (el, name, value) => {
    if (el.getAttribute(name) !== value) el.setAttribute(name, value);
  };
  const fixGrid = grid => {
    for (const part of grid.children) {
      const cls = part.classList;
      if (cls.contains('tabulator-tableholder')) {
        set(part, 'role', 'rowgroup');
        for (const inner of part.children) {
          if (inner.classList.contains('tabulator-table')) {
            set(inner, 'role', 'none');
            if (inner.id && grid.getAttribute('aria-owns') === inner.id) {
              grid.removeAttribute('aria-owns');
            }
          }
        }
      } else if (cls.contains('tabulator-footer')) {
        set(part, 'role', 'row');
        for (const cell of part.children) set(cell, 'role', 'gridcell');
      }
    }
  };
  const fix = root => {
    for (const grid of root.querySelectorAll('.tabulator[role="grid"]')) fixGrid(grid);
    for (const button of root.querySelectorAll('button.copybtn:not([aria-label])')) {
      button.setAttribute('aria-label', 'Copy code');
    }
    for (const chip of root.querySelectorAll(
        '.choices__list--multiple > .choices__item[aria-selected]:not([role])')) {
      chip.removeAttribute('aria-selected');
    }
  };
  const watched = new WeakSet();
  const watch = root => {
    if (watched.has(root)) return;
    watched.add(root);
    fix(root);
    let queued = false;
    new MutationObserver(() => {
      if (queued) return;
      queued = true;
      queueMicrotask(() => { queued = false; fix(root); });
    }).observe(root, {childList: true, subtree: true, attributes: true,
                      attributeFilter: ['role', 'aria-selected', 'aria-owns']});
  };
  const attach = Element.prototype.attachShadow;
  Element.prototype.attachShadow = function (init) {
    const root = attach.call(this, init);
    watch(root);
    return root;
  };
  // Roots drawn before this ran (none when it loads in <head>, as Panel puts it).
  const walk = root => {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) { watch(el.shadowRoot); walk(el.shadowRoot); }
    }
  };
  walk(document);
  watch(document);
  window.workbenchAria = {fix, watch};
})();
"""


def script_url() -> str:
    """:data:`SCRIPT` as a ``data:`` URL for ``pn.extension(js_files=...)``."""
    return "data:text/javascript;base64," + base64.b64encode(SCRIPT.encode()).decode("ascii")

"""The approval queue: schema changes and cleansing rules awaiting a decision, with Approve and
Reject. Approving a schema change marks it approved (its migration is applied by the pipeline
owner with ``workbench.quality.schema.proposals.apply``); approving a proposed rule approves
it, and approving an approved rule activates it. Every decision is checked against the principal's
roles by the library; a refusal is shown as a message."""

from __future__ import annotations

import json

import panel as pn

from workbench.ui import messages, theme
from workbench.ui.quality.store import QualityStore


def queue(store: QualityStore) -> list[dict]:
    """What awaits a decision, as the library gives it (workbench.quality.approval_queue): from
    the server while one owns the warehouse, else from the file."""
    from workbench.quality import approval_queue

    if store.server is not None:
        return store.server.pending()
    with store.connect() as con:
        return approval_queue.pending(con)


def pending_items(store: QualityStore) -> list[dict]:
    """Everything awaiting a decision, as dicts with key, label and detail (markdown)."""
    return [_schema_entry(i) if i["kind"] == "schema" else _rule_entry(i) for i in queue(store)]


def _schema_entry(r: dict) -> dict:
    changes, sql = r["changes"], r["migration"]
    detail = (
        f"**Schema change #{r['id']}** on `{r['table']}` (against v{r['base_version']}), "
        f"**{r['compatibility']}**, {r['status']}; proposed by {r['proposed_by'] or 'a pipeline'}\n\n"
        + "\n".join(
            f"- {c['kind']} `{c.get('old_name') or c['column']}`"
            + (f" → `{c['column']}`" if c["kind"] == "renamed" else "")
            + (f" {c['old_type']} → {c['new_type']}" if c["kind"] == "retyped" else "")
            + f": {c['compatibility']} ({c['reason']})"
            for c in changes
        )
        + ("\n\nMigration SQL:\n```sql\n" + ";\n".join(sql) + ";\n```" if sql else "")
    )
    return {
        "key": ("schema", int(r["id"])),
        "status": r["status"],
        "detail": detail,
        "label": f"Schema #{r['id']} {r['table']}: {len(changes)} change(s), "
        f"{r['compatibility']} [{r['status']}]",
    }


def _rule_entry(r: dict) -> dict:
    detail = (
        f"**Cleansing rule `{r['name']}` v{r['version']}** on `{r['table']}` "
        f"({r['action']}), {r['status']}; proposed by {r['proposed_by'] or '?'}\n\n"
        f"{r['description'] or ''}\n\n```json\n{json.dumps(r['spec'], sort_keys=True)}\n```\n\n"
        + (
            "Approve activates it: it applies from the next run."
            if r["status"] == "approved"
            else "Approve marks it approved; a second approval activates it."
        )
    )
    return {
        "key": ("rule", r["table"], r["name"], int(r["version"])),
        "status": r["status"],
        "detail": detail,
        "label": f"Rule {r['name']} v{r['version']} on {r['table']} [{r['status']}]",
    }


def decide(store: QualityStore, key: tuple, approve: bool, status: str) -> str:
    """Apply a decision; returns what happened in words. Raises the library's errors (through
    the server: its refusal, with the library's message)."""
    from workbench.quality import approval_queue

    if key[0] == "schema":
        decision = "approve" if approve else "reject"
        if store.server is not None:
            row = store.server.decide_schema(key[1], decision)
        else:
            with store.connect(write=True) as con:
                row = approval_queue.decide_schema(con, key[1], decision, store.principal)
        return f"Schema change #{key[1]} {row['status']} by {row['decided_by']}."
    _, table, name, version = key
    step = ("activate" if status == "approved" else "approve") if approve else "reject"
    if store.server is not None:
        row = store.server.decide_rule(table, name, version, step)
    else:
        with store.connect(write=True) as con:
            row = approval_queue.decide_rule(con, table, name, version, step, store.principal)
    return f"Rule {name} v{version} is now {row['status']}."


class ApprovalQueue(pn.viewable.Viewer):
    def __init__(self, store: QualityStore, **params):
        super().__init__(**params)
        self.store = store
        self.items: list[dict] = []
        self.select = theme.styled(
            pn.widgets.Select(
                name="Awaiting approval", size=8, options=[], sizing_mode="stretch_width"
            )
        )
        self.detail = pn.pane.Markdown("", sizing_mode="stretch_width")
        self.approve_button = theme.styled(pn.widgets.Button(name="Approve", button_type="primary"))
        self.reject_button = theme.styled(pn.widgets.Button(name="Reject", button_type="default"))
        self.status = messages.status_line()
        self.error = messages.error_box()
        who = store.principal
        self.who = pn.pane.Markdown(
            f"Acting as **{who.user}** ({', '.join(sorted(who.roles)) or 'no roles'})"
            if who
            else "Acting as nobody: approvals are refused."
        )
        self.select.param.watch(lambda e: self._show(), "value")
        self.approve_button.on_click(lambda e: self._decide(True))
        self.reject_button.on_click(lambda e: self._decide(False))
        self.refresh()

    def refresh(self) -> None:
        try:
            self.items = pending_items(self.store)
        except Exception as exc:  # noqa: BLE001  e.g. the warehouse is being written by a notebook
            messages.show_error(self.error, exc)
            self.items = []
        labels = [i["label"] for i in self.items]
        self.select.options = labels
        self.select.value = labels[0] if labels else None
        self._show()
        messages.set_status(self.status, f"{len(labels)} item(s) awaiting approval")

    def _current(self) -> dict | None:
        return next((i for i in self.items if i["label"] == self.select.value), None)

    def _show(self) -> None:
        item = self._current()
        self.detail.object = item["detail"] if item else "Nothing awaits approval."
        self.approve_button.disabled = self.reject_button.disabled = item is None

    def _decide(self, approve: bool) -> None:
        item = self._current()
        if item is None:
            return
        messages.clear(self.error)
        try:
            done = decide(self.store, item["key"], approve, item["status"])
        except Exception as exc:  # noqa: BLE001  shown as a message, never a traceback
            messages.show_error(self.error, exc)
            messages.set_status(self.status, "Not done.")
            return
        self.refresh()
        messages.set_status(self.status, done)

    def __panel__(self):
        return pn.Column(
            theme.heading("Awaiting approval"),
            self.who,
            self.select,
            pn.Row(self.approve_button, self.reject_button),
            self.status,
            self.error,
            self.detail,
            sizing_mode="stretch_width",
        )

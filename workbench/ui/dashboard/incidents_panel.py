"""The dashboard's Incidents panel: recent incidents, the chosen one's insight, anomalies and
history, and (for admin and analyst roles only) acknowledge / resolve.

Keyboard use: the table is a visual overview; the labelled "Incident details" list box does the
same choosing with the keyboard, and the buttons are ordinary buttons.  Text from the store
(titles, insights, notes) is escaped before it is shown.
"""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from workbench.ui import theme
from workbench.ui.dashboard.client import ApiClient, api_base_url
from workbench.ui.dashboard.incidents import ACT_ROLES, IncidentFeed

OPEN_ONLY = "Open and acknowledged"
ALL = "All recent (incl. resolved)"
EMPTY = pd.DataFrame(
    columns=["#", "status", "severity", "title", "started", "last seen", "anomalies"]
)


def _esc(v) -> str:
    return html.escape("" if v is None else str(v))


def _num(v) -> str:
    try:
        return f"{float(v):,.2f}"
    except (TypeError, ValueError):
        return "–"


def detail_html(inc: dict | None) -> str:
    if inc is None:
        return "<p style='margin:0'>Choose an incident to see its explanation and anomalies.</p>"
    who = []
    if inc.get("acknowledged_by"):
        who.append(
            f"acknowledged by {_esc(inc['acknowledged_by'])} at {_esc(inc['acknowledged_at'])}"
        )
    if inc.get("resolved_by"):
        who.append(f"resolved by {_esc(inc['resolved_by'])} at {_esc(inc['resolved_at'])}")
    insight = inc.get("insight") or "No explanation has been written for this incident yet."
    paras = "".join(
        f"<p style='margin:0.3em 0'>{_esc(p)}</p>" for p in str(insight).split("\n") if p.strip()
    )
    rows = "".join(
        f"<tr><td>{_esc(a['ts'])}</td><td>{_esc(a['metric'])}</td>"
        f"<td>{_esc(a['slice_value']) if a.get('slice_by') else 'total'}</td>"
        f"<td style='text-align:right'>{_num(a['value'])}</td>"
        f"<td style='text-align:right'>{_num(a['expected'])}</td>"
        f"<td style='text-align:right'>{_num(a['score'])}</td><td>{_esc(a['severity'])}</td>"
        f"<td>{_esc(a['direction'])}</td></tr>"
        for a in inc.get("anomalies", [])
    )
    hist = "".join(
        f"<li>{_esc(h['at'])}: {_esc(h['action'])} by {_esc(h['actor'])}"
        + (f" ({_esc(h['detail'])})" if h.get("detail") else "")
        + "</li>"
        for h in inc.get("history", [])
    )
    return (
        f"<section aria-label='Incident {inc['id']}'>"
        f"<h4 style='margin:0.3em 0'>#{inc['id']} {_esc(inc['title'])}</h4>"
        f"<p style='margin:0'><strong>{_esc(inc['status'])}</strong>, severity "
        f"<strong>{_esc(inc['severity'])}</strong>, {inc['n_anomalies']} anomalies from "
        f"{_esc(inc['first_ts'])} to {_esc(inc['last_ts'])}"
        + ("; " + "; ".join(who) if who else "")
        + "</p>"
        f"<div class='wb-insight'>{paras}</div>"
        "<div style='overflow-x:auto'><table class='wb-anomalies' style='border-collapse:"
        "collapse;font-size:0.85em'><caption style='text-align:left'>Anomalies</caption>"
        "<thead><tr><th scope='col'>bucket</th><th scope='col'>metric</th>"
        "<th scope='col'>slice</th><th scope='col'>value</th><th scope='col'>expected</th>"
        "<th scope='col'>score</th><th scope='col'>severity</th><th scope='col'>direction"
        f"</th></tr></thead><tbody>{rows}</tbody></table></div>"
        f"<details><summary>History</summary><ul>{hist}</ul></details></section>"
    )


class IncidentsPanel:
    """``view`` goes on the board; ``load()`` reads (any thread), ``show(data)`` updates."""

    def __init__(
        self, feed: IncidentFeed, roles=frozenset(), actor: str | None = None, client=None
    ):
        self.feed = feed
        self.can_act = bool(set(roles) & ACT_ROLES)  # a hint for the buttons only
        self.actor = actor or "dashboard user"
        # Behind Jupyter, changes go through the server's REST API as the viewer (it decides
        # and records who); in-process (LocalClient, no client) straight to the store.
        if client is None and api_base_url():
            from workbench.ui.dashboard.client import client_for_session

            client = client_for_session()  # this session's forwarded credentials
        self.api: ApiClient | None = client if isinstance(client, ApiClient) else None
        self.selected: int | None = None
        self.summary = pn.pane.HTML("", sizing_mode="stretch_width")
        self.scope = theme.styled(
            pn.widgets.Select(
                name="Show incidents",
                options=[OPEN_ONLY, ALL],
                value=ALL,
                sizing_mode="stretch_width",
            )
        )
        self.table = theme.styled(
            pn.widgets.Tabulator(
                EMPTY.copy(),
                name="Recent incidents",
                disabled=True,
                selectable=1,
                show_index=False,
                sizing_mode="stretch_width",
                height=240,
                pagination="local",
                page_size=8,
                layout="fit_columns",
                # on a phone the columns that do not fit fold into each row (Tabulator's
                # responsive collapse) instead of widening the page
                configuration={
                    "responsiveLayout": "collapse",
                    "columnDefaults": {"headerSort": False, "minWidth": 28, "headerWordWrap": True},
                },
            )
        )
        self.choice = theme.styled(
            pn.widgets.Select(name="Incident details", options={}, sizing_mode="stretch_width")
        )
        self.detail = pn.pane.HTML(detail_html(None), sizing_mode="stretch_width")
        self.note = theme.styled(
            pn.widgets.TextInput(
                name="Note (optional, kept in the history)",
                sizing_mode="stretch_width",
                visible=self.can_act,
            )
        )
        self.ack = theme.styled(
            pn.widgets.Button(
                name="Acknowledge", button_type="primary", disabled=True, visible=self.can_act
            )
        )
        self.resolve = theme.styled(
            pn.widgets.Button(
                name="Resolve", button_type="default", disabled=True, visible=self.can_act
            )
        )
        self.message = pn.pane.HTML("", sizing_mode="stretch_width")
        self.scope.param.watch(lambda e: self.refresh(), "value")
        self.table.param.watch(self._on_table, "selection")
        self.choice.param.watch(self._on_choice, "value")
        self.ack.on_click(lambda e: self.act("acknowledge"))
        self.resolve.on_click(lambda e: self.act("resolve"))
        hint = (
            []
            if self.can_act
            else [
                pn.pane.HTML(
                    "<p style='margin:0;color:#4d4d4d'>Read-only: acknowledging and resolving "
                    "incidents needs the analyst or admin role.</p>",
                    sizing_mode="stretch_width",
                )
            ]
        )
        # scrolls sideways inside the card on a phone instead of widening the page
        table_box = pn.Column(
            self.table,
            sizing_mode="stretch_width",
            styles={"overflow-x": "auto", "max-width": "100%", "min-width": "0"},
        )
        self.view = pn.Column(
            self.summary,
            self.scope,
            table_box,
            self.choice,
            self.detail,
            self.note,
            pn.FlexBox(self.ack, self.resolve, gap="8px"),
            self.message,
            *hint,
            sizing_mode="stretch_width",
        )

    # --- reading -------------------------------------------------------------------------
    def load(self) -> dict:
        recent = self.feed.recent(include_resolved=self.scope.value == ALL)
        chosen = self.selected
        if chosen is None and not recent.empty:
            chosen = int(recent["#"].iloc[0])
        return {"recent": recent, "incident": self.feed.incident(chosen) if chosen else None}

    def show(self, data: dict) -> None:
        recent: pd.DataFrame = data["recent"]
        self.table.value = recent
        if recent.empty:
            where = self.feed.path
            self.summary.object = (
                "<p role='status' style='margin:0'>No incidents"
                + ("" if self.scope.value == ALL else " open")
                + ". Detection jobs record them in <code style='overflow-"
                f"wrap:anywhere'>{_esc(where)}</code>.</p>"
            )
        else:
            counts = recent["status"].value_counts()
            parts = ", ".join(
                f"{int(counts[s])} {s}" for s in ("open", "acknowledged", "resolved") if s in counts
            )
            self.summary.object = (
                f"<p role='status' style='margin:0'>{len(recent)} recent "
                f"incidents: {_esc(parts)}.</p>"
            )
        self.choice.options = {
            f"#{r['#']} {r['status']} {r['severity']}: {r['title']}": int(r["#"])
            for _, r in recent.iterrows()
        }
        inc = data.get("incident")
        self._show_incident(inc)

    def refresh(self) -> None:
        """Read and show now (blocking; control changes, after an action, in tests)."""
        self.show(self.load())

    def _show_incident(self, inc: dict | None) -> None:
        self.selected = int(inc["id"]) if inc else None
        self.detail.object = detail_html(inc)
        if inc and inc["id"] in self.choice.options.values() and self.choice.value != inc["id"]:
            self.choice.value = inc["id"]
        status = inc["status"] if inc else None
        self.ack.disabled = status != "open"
        self.resolve.disabled = status not in ("open", "acknowledged")
        if inc:
            self.ack.name = f"Acknowledge #{inc['id']}"
            self.resolve.name = f"Resolve #{inc['id']}"

    # --- choosing ------------------------------------------------------------------------
    def select(self, incident_id: int | None) -> None:
        if incident_id == self.selected:
            return
        self._show_incident(self.feed.incident(incident_id) if incident_id else None)

    def _on_table(self, event) -> None:
        df = self.table.value
        if event.new and event.new[0] < len(df):
            self.select(int(df["#"].iloc[event.new[0]]))

    def _on_choice(self, event) -> None:
        if event.new is not None:
            self.select(int(event.new))

    # --- acting --------------------------------------------------------------------------
    def act(self, action: str) -> None:
        if not self.can_act:  # the buttons are hidden; this guards a crafted event too
            self._say("Only the analyst and admin roles may change incidents.")
            return
        if self.selected is None:
            self._say("Choose an incident first.")
            return
        note = self.note.value.strip()
        try:
            if self.api is not None:
                inc = self.api.incident_action(self.selected, action, note or None)
                by = inc.get("acknowledged_by" if action == "acknowledge" else "resolved_by")
            else:
                inc = self.feed.act(self.selected, action, self.actor, note)
                by = self.actor
        # ApiError carries the server's own message (403 roles, 409 state, 400 input)
        except Exception as exc:  # noqa: BLE001  shown as words, never a traceback
            self._say(f"Couldn't {action} incident #{self.selected}: {exc}")
            return
        self.note.value = ""
        self._say(f"Incident #{inc['id']} is now {inc['status']} (by {by or self.actor}).")
        self.refresh()

    def _say(self, text: str) -> None:
        self.message.object = (
            f"<p role='status' aria-live='polite' style='margin:0'>{_esc(text)}</p>"
        )

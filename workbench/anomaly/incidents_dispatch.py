"""From anomalies to notifications: incidents, deduplication, quiet hours and routing.

``AlertDispatcher.process(anomalies)`` stores each anomaly (deduplicated, correlated into an
incident) and decides what to send:

- a notification when an incident **opens**, and again only when it **escalates** (a more
  severe anomaly joins it) -- the other anomalies that join it are grouped silently;
- nothing for an **acknowledged** or resolved incident;
- inside a rule's **quiet hours**, notifications below ``allow_severity`` are **held** (recorded
  with status ``held``). ``flush_held()`` sends them once the quiet window is over, if the
  incident is still open and unacknowledged; otherwise they are ``dropped``. Routes with
  ``ignore_quiet_hours`` (typically the inbox) deliver at once.

Every send, hold, drop and failure is a row in the store's ``notifications`` table.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable

from workbench.anomaly.alert_rules import AlertRule, Route, severity_rank
from workbench.anomaly.incidents import IncidentStore
from workbench.anomaly.jobs import Anomaly
from workbench.anomaly.notifiers import Notification, create

log = logging.getLogger(__name__)


class AlertDispatcher:
    def __init__(
        self,
        rules: Iterable[AlertRule],
        store: IncidentStore,
        clock: Callable[[], dt.datetime] | None = None,
        explain: Callable[[int], str | None] | None = None,
    ):
        self.rules = {r.name: r for r in rules}
        self.store = store
        self.clock = clock or dt.datetime.now
        self.explain = explain  # incident id -> insight text (workbench.anomaly.insights)

    def process(self, anomalies: Iterable[Anomaly]) -> dict[str, int]:
        counts = {
            "anomalies": 0,
            "duplicates": 0,
            "incidents_opened": 0,
            "sent": 0,
            "held": 0,
            "failed": 0,
        }
        for a in sorted(anomalies, key=lambda a: (a.ts, a.rule, a.slice_value or "")):
            rule = self.rules[a.rule]
            res = self.store.add(a, rule.incident.window_minutes)
            if not res.new_anomaly:
                counts["duplicates"] += 1
                continue
            counts["anomalies"] += 1
            counts["incidents_opened"] += res.new_incident
            if not (res.new_incident or res.escalated):
                continue  # grouped into an incident that was already notified at this severity
            inc = self.store.get(res.incident_id)
            if inc["status"] != "open":
                self.store.note(
                    inc["id"], "not notified", "dispatcher", f"incident is {inc['status']}"
                )
                continue
            event = "opened" if res.new_incident else "escalated"
            for k, v in self._notify(rule, inc, event).items():
                counts[k] += v
        return counts

    def _notification(self, rule: AlertRule, inc: dict, event: str) -> Notification:
        anomalies = self.store.anomalies(inc["id"])
        lines = [
            f"{len(anomalies)} anomal{'y' if len(anomalies) == 1 else 'ies'} between "
            f"{inc['first_ts']} and {inc['last_ts']}:"
        ]
        for a in anomalies[:10]:
            where = f" [{a['slice_by']}={a['slice_value']}]" if a["slice_value"] else ""
            exp = f" vs expected {a['expected']:,.2f}" if a["expected"] is not None else ""
            lines.append(
                f"- {a['metric']}{where} at {a['ts']}: {a['value']:,.2f}{exp} "
                f"({a['direction']}, score {a['score']:.3f})"
            )
        insight = inc.get("insight")
        if insight is None and self.explain is not None:
            try:
                insight = self.explain(inc["id"])
                if insight:
                    self.store.set_insight(inc["id"], insight)
            except Exception as e:  # an insight is a bonus; the alert goes out without it
                log.warning("insight for incident %s failed: %s", inc["id"], e)
        return Notification(
            incident_id=inc["id"],
            event=event,
            title=inc["title"],
            severity=inc["severity"],
            status=inc["status"],
            summary="\n".join(lines),
            rule=rule.name,
            anomalies=anomalies[:50],
            insight=insight,
            sent_at=self.clock().isoformat(timespec="seconds"),
        )

    def _notify(self, rule: AlertRule, inc: dict, event: str) -> dict[str, int]:
        counts = {"sent": 0, "held": 0, "failed": 0}
        now = self.clock()
        note = None
        for i, route in enumerate(rule.routing):
            if severity_rank(inc["severity"]) < severity_rank(route.min_severity):
                continue
            note = note or self._notification(rule, inc, event)
            if not route.ignore_quiet_hours and rule.held_at(now, inc["severity"]):
                self.store.record_notification(
                    inc["id"],
                    rule.name,
                    i,
                    route.notifier,
                    event,
                    inc["severity"],
                    "held",
                    "quiet hours",
                )
                counts["held"] += 1
                continue
            counts[self._send(rule, i, route, note, inc, event)] += 1
        return counts

    def _send(
        self,
        rule: AlertRule,
        i: int,
        route: Route,
        note: Notification,
        inc: dict,
        event: str,
        notification_id: int | None = None,
    ) -> str:
        try:
            create(route.notifier, **route.params).send(note)
            status, detail = "sent", None
        except Exception as e:
            status, detail = "failed", f"{type(e).__name__}: {e}"
            log.warning("notifier %s for rule %s failed: %s", route.notifier, rule.name, detail)
        if status == "sent":
            # A later message on this route covers what an earlier held one would have said.
            for held in self.store.notifications(inc["id"], status="held"):
                if held["route"] == i and held["id"] != notification_id:
                    self.store.update_notification(held["id"], "superseded", f"{event} sent")
        if notification_id is None:
            self.store.record_notification(
                inc["id"], rule.name, i, route.notifier, event, inc["severity"], status, detail
            )
        else:
            self.store.update_notification(
                notification_id, status, detail or "released after quiet hours"
            )
        return status

    def flush_held(self, only_known: bool = False) -> dict[str, int]:
        """Send held notifications whose quiet hours are over (or drop them if no longer relevant).

        ``only_known``: leave alone the held notifications of rules this dispatcher does not know
        (the server's live loop shares the store with `workbench detect run`, which owns those)."""
        counts = {"sent": 0, "dropped": 0, "still_held": 0, "failed": 0}
        now = self.clock()
        for n in self.store.notifications(status="held"):
            rule = self.rules.get(n["rule"])
            if rule is None and only_known:
                continue
            inc = self.store.get(n["incident_id"])
            if rule is None or inc["status"] != "open":
                self.store.update_notification(
                    n["id"],
                    "dropped",
                    f"incident is {inc['status']}" if rule else "rule no longer exists",
                )
                counts["dropped"] += 1
                continue
            if rule.held_at(now, inc["severity"]):
                counts["still_held"] += 1
                continue
            route = rule.routing[n["route"]]
            note = self._notification(rule, inc, "held_release")
            status = self._send(
                rule, n["route"], route, note, inc, "held_release", notification_id=n["id"]
            )
            counts["sent" if status == "sent" else "failed"] += 1
        return counts

"""Each notifier against a real receiver on 127.0.0.1: HTTP webhook, Slack-style webhook, SMTP
(aiosmtpd) and the sqlite inbox; plus the registry."""

from __future__ import annotations

import pytest

from tests.support.receivers import HookReceiver, SmtpReceiver, free_port
from workbench.anomaly.notifiers import (
    Inbox,
    Notification,
    Notifier,
    NotifierParams,
    available,
    create,
    register,
)

NOTE = Notification(
    incident_id=7,
    event="opened",
    title="orders down (channel=online) in retail",
    severity="critical",
    status="open",
    summary="3 anomalies ...",
    rule="r",
    anomalies=[{"metric": "orders", "value": 0.0}],
    insight="Orders fell 98% below expected.",
)


def test_builtins_are_registered_and_plugins_can_join(clean_registries):
    assert {"webhook", "slack", "email", "inbox"} <= set(available())

    @register("test_list")
    class ListNotifier(Notifier):
        class Params(NotifierParams):
            tag: str = "x"

        sent: list = []

        def send(self, n):
            self.sent.append((self.params.tag, n.incident_id))

    create("test_list", tag="y").send(NOTE)
    assert ListNotifier.sent == [("y", 7)]
    with pytest.raises(KeyError, match="unknown notifier"):
        create("nope")


def test_webhook_and_slack_post_to_a_real_http_server():
    with HookReceiver() as hook:
        create("webhook", url=hook.url + "/generic", headers={"X-Token": "t"}).send(NOTE)
        create("slack", url=hook.url + "/slack", channel="#ops").send(NOTE)
    generic, slack = hook.received
    assert generic["path"] == "/generic" and generic["headers"]["X-Token"] == "t"
    assert generic["json"]["incident_id"] == 7 and generic["json"]["insight"].startswith(
        "Orders fell"
    )
    assert slack["path"] == "/slack" and slack["json"]["channel"] == "#ops"
    assert slack["json"]["text"] == "[CRITICAL] orders down (channel=online) in retail"
    assert any("Orders fell" in b.get("text", {}).get("text", "") for b in slack["json"]["blocks"])


def test_webhook_failure_raises_after_retries():
    dead = f"http://127.0.0.1:{free_port()}/x"  # nothing listens there
    with pytest.raises(RuntimeError, match="after 2 attempt"):
        create("webhook", url=dead, retries=1, timeout=1).send(NOTE)


def test_email_over_a_real_smtp_server():
    with SmtpReceiver() as smtp:
        create(
            "email",
            host="127.0.0.1",
            port=smtp.port,
            **{"from": "wb@example.org"},
            to=["ops@example.org", "dana@example.org"],
        ).send(NOTE)
    (msg,) = smtp.messages
    assert msg["from"] == "wb@example.org" and msg["to"] == ["ops@example.org", "dana@example.org"]
    assert "Subject: [workbench] [critical] orders down (channel=online) in retail" in msg["data"]
    assert (
        "X-Workbench-Incident: 7" in msg["data"]
        and "Orders fell 98% below expected." in msg["data"]
    )


def test_inbox(tmp_path):
    path = tmp_path / "inbox.sqlite"
    create("inbox", path=str(path), recipient="dana").send(NOTE)
    box = Inbox(path)
    (m,) = box.messages(unread=True, recipient="dana")
    assert m["incident_id"] == 7 and m["severity"] == "critical" and "Orders fell" in m["body"]
    box.mark_read(m["id"])
    assert box.messages(unread=True) == []

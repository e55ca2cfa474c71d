"""HTTP notifiers: a generic JSON webhook and a Slack-compatible incoming webhook."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request

from pydantic import Field

from .base import Notification, Notifier, NotifierParams

SEVERITY_EMOJI = {
    "info": ":information_source:",
    "warning": ":warning:",
    "critical": ":rotating_light:",
}


def post_json(
    url: str, payload: dict, headers: dict[str, str], timeout: float, retries: int
) -> int:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"webhook URL must be http(s), not {url!r}")
    body = json.dumps(payload, default=str).encode()
    last: Exception | None = None
    for attempt in range(retries + 1):
        # the scheme is checked above (http/https only), which ruff can't see
        req = urllib.request.Request(  # noqa: S310
            url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                return resp.status
        except Exception as e:  # retried, then re-raised for the dispatcher to record
            last = e
            if attempt < retries:
                time.sleep(0.2 * 2**attempt)
    raise RuntimeError(f"POST {url} failed after {retries + 1} attempt(s): {last}") from last


class WebhookNotifier(Notifier):
    """POSTs the notification as JSON (``Notification.to_dict()``)."""

    name = "webhook"

    class Params(NotifierParams):
        url: str = Field(description="http(s) URL to POST to.")
        headers: dict[str, str] = Field(
            default_factory=dict, description="Extra HTTP headers (e.g. auth)."
        )
        timeout: float = Field(5.0, gt=0, description="Seconds per attempt.")
        retries: int = Field(2, ge=0, le=10, description="Retries after a failed attempt.")

    params: Params

    def send(self, n: Notification) -> None:
        p = self.params
        post_json(p.url, n.to_dict(), p.headers, p.timeout, p.retries)


class SlackNotifier(Notifier):
    """Slack-compatible incoming webhook (Slack, Mattermost, Rocket.Chat): ``text`` + ``blocks``."""

    name = "slack"

    class Params(NotifierParams):
        url: str = Field(description="Incoming-webhook URL.")
        channel: str | None = Field(
            None, description="Override channel (if the webhook allows it)."
        )
        username: str = Field("workbench", description="Display name.")
        timeout: float = Field(5.0, gt=0, description="Seconds to wait for each POST.")
        retries: int = Field(2, ge=0, le=10, description="Further attempts after a failed POST.")

    params: Params

    def payload(self, n: Notification) -> dict:
        head = f"{SEVERITY_EMOJI.get(n.severity, '')} *{n.title}*".strip()
        body = n.summary + (f"\n\n{n.insight}" if n.insight else "")
        out = {
            "text": f"[{n.severity.upper()}] {n.title}",
            "username": self.params.username,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": head}},
                {"type": "section", "text": {"type": "mrkdwn", "text": body[:2900]}},
                {
                    "type": "context",
                    "elements": [
                        {
                            "type": "mrkdwn",
                            "text": f"incident #{n.incident_id} · {n.status} · rule `{n.rule}`",
                        }
                    ],
                },
            ],
        }
        if self.params.channel:
            out["channel"] = self.params.channel
        return out

    def send(self, n: Notification) -> None:
        post_json(self.params.url, self.payload(n), {}, self.params.timeout, self.params.retries)

"""Email over SMTP (stdlib ``smtplib``)."""

from __future__ import annotations

import os
import smtplib
from email.message import EmailMessage

from pydantic import ConfigDict, Field

from .base import Notification, Notifier, NotifierParams


class EmailNotifier(Notifier):
    """Plain-text mail over SMTP; the password comes from an environment variable, never a file."""

    name = "email"

    class Params(NotifierParams):
        model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
        host: str = Field("127.0.0.1", description="SMTP server host.")
        port: int = Field(25, gt=0, lt=65536, description="SMTP server port.")
        sender: str = Field("workbench@localhost", alias="from", description="From address.")
        to: list[str] = Field(min_length=1, description="Recipients.")
        starttls: bool = Field(False, description="Upgrade with STARTTLS before sending.")
        ssl: bool = Field(False, description="Connect with implicit TLS (port 465).")
        username: str | None = Field(None, description="SMTP login, if the server needs one.")
        password_env: str | None = Field(
            None, description="Environment variable holding the password."
        )
        timeout: float = Field(10.0, gt=0, description="Seconds to wait for the SMTP server.")
        subject_prefix: str = Field("[workbench]", description="Prefix of the subject line.")

    params: Params

    def message(self, n: Notification) -> EmailMessage:
        p = self.params
        msg = EmailMessage()
        msg["Subject"] = f"{p.subject_prefix} [{n.severity}] {n.title}".strip()
        msg["From"] = p.sender
        msg["To"] = ", ".join(p.to)
        msg["X-Workbench-Incident"] = str(n.incident_id)
        msg.set_content(n.text())
        return msg

    def send(self, n: Notification) -> None:
        p = self.params
        cls = smtplib.SMTP_SSL if p.ssl else smtplib.SMTP
        with cls(p.host, p.port, timeout=p.timeout) as smtp:
            if p.starttls:
                smtp.starttls()
            if p.username:
                smtp.login(p.username, os.environ.get(p.password_env or "", ""))
            smtp.send_message(self.message(n))

"""The in-app inbox: notifications stored in a small sqlite file under ``.workbench``."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from pydantic import Field

from .base import Notification, Notifier, NotifierParams

DEFAULT_INBOX = ".workbench/anomaly/inbox.sqlite"


class Inbox:
    """Read side of the inbox, for apps and notebooks: ``Inbox().messages(unread=True)``."""

    def __init__(self, path: str | Path = DEFAULT_INBOX):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute("""create table if not exists messages (
                id integer primary key autoincrement, at text not null, recipient text,
                incident_id integer, event text, severity text, title text, body text,
                payload text, read_at text)""")

    @contextmanager
    def _db(self):
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:
                yield db
        finally:
            db.close()

    def add(self, n: Notification, recipient: str | None = None) -> int:
        with self._db() as db:
            cur = db.execute(
                "insert into messages(at, recipient, incident_id, event, severity, title, body, payload)"
                " values (?,?,?,?,?,?,?,?)",
                (
                    dt.datetime.now().isoformat(timespec="seconds"),
                    recipient,
                    n.incident_id,
                    n.event,
                    n.severity,
                    n.title,
                    n.text(),
                    json.dumps(n.to_dict(), default=str),
                ),
            )
            return int(cur.lastrowid)

    def messages(self, unread: bool = False, recipient: str | None = None) -> list[dict]:
        sql, args = "select * from messages where 1=1", []
        if unread:
            sql += " and read_at is null"
        if recipient:
            sql += " and (recipient = ? or recipient is null)"
            args.append(recipient)
        with self._db() as db:
            return [dict(r) for r in db.execute(sql + " order by id", args)]

    def mark_read(self, message_id: int) -> None:
        with self._db() as db:
            db.execute(
                "update messages set read_at = ? where id = ?",
                (dt.datetime.now().isoformat(timespec="seconds"), message_id),
            )


class InboxNotifier(Notifier):
    """Into the local sqlite inbox (`workbench alerts inbox`): works with no mail or chat server."""

    name = "inbox"

    class Params(NotifierParams):
        path: str = Field(DEFAULT_INBOX, description="sqlite file of the inbox.")
        recipient: str | None = Field(None, description="User or team; null = everyone.")

    params: Params

    def send(self, n: Notification) -> None:
        Inbox(self.params.path).add(n, self.params.recipient)

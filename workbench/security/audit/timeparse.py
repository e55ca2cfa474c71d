"""`--since` values: an ISO date or time (UTC unless it says otherwise), or a duration back
from now such as 15m, 24h, 7d."""

from __future__ import annotations

import datetime as dt
import re

from .errors import AuditError

DURATION = re.compile(r"^(\d+)\s*(s|m|h|d|w)$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: dt.datetime | None = None) -> dt.datetime:
    t = text.strip()
    m = DURATION.match(t)
    if m:
        now = now or dt.datetime.now(dt.UTC)
        return now - dt.timedelta(**{UNITS[m.group(2)]: int(m.group(1))})
    try:
        value = dt.datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise AuditError(
            f"--since {text!r} is neither an ISO date/time (2026-12-01, "
            "2026-12-01T08:00) nor a duration (15m, 24h, 7d)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)

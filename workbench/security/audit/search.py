"""Browsing the audit log, for the admin API and app: request parameters checked and turned into
a :class:`~workbench.security.audit.store.Search`, one page of entries newest first, events per
hour by action family, and the chain's verification as one status.

    query = parse_query({"user": "vera", "action": "login.", "since": "2026-12-01"})
    answer = browse(log, query, actor=principal)      # JSON-ready; the read itself is audited

Every value reaches the store as a bound parameter (store.Search.where); nothing here builds SQL.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .chain import Entry
from .errors import AuditError
from .log import AuditLog
from .store import Search
from .timeparse import parse_since

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 10**9
MAX_TEXT = 200
PARAMETERS = ("user", "action", "since", "until", "text", "limit", "offset", "verify")
# Sent by browsers and Jupyter clients along with any request; not search parameters.
IGNORED = ("token", "_xsrf")
ACTION_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*\.?$")
DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class AuditQueryError(AuditError):
    """A search parameter that is not valid; the message names the parameter and what it takes."""

    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class AuditQuery:
    """A checked search: what matches, which page, and whether to verify the chain too."""

    search: Search
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    verify: bool = True

    def filters(self) -> dict[str, Any]:
        """The filters given, as the read of the log records them."""
        s = self.search
        given = {
            "user": s.user,
            "action": s.action,
            "since": s.since,
            "until": s.until,
            "text": s.text,
        }
        return {k: v for k, v in given.items() if v is not None}


def parse_query(params: Mapping[str, Any]) -> AuditQuery:
    """From request parameters (a value or a list of one); AuditQueryError names a bad one."""
    values: dict[str, str] = {}
    for name, raw in params.items():
        if name in IGNORED:
            continue
        if name not in PARAMETERS:
            raise AuditQueryError(
                name, f"unknown parameter {name!r}; the audit search takes {', '.join(PARAMETERS)}"
            )
        items = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        if len(items) != 1:
            raise AuditQueryError(name, f"give {name} once, not {len(items)} times")
        item = items[0]
        values[name] = (item.decode() if isinstance(item, bytes) else str(item)).strip()
    user = _text(values, "user")
    action = _text(values, "action")
    if action is not None and not ACTION_PREFIX_RE.match(action):
        raise AuditQueryError(
            "action",
            f"action {action!r} must be dotted lower-case words, "
            "e.g. login. (the family) or login.success",
        )
    since = _time(values, "since", end_of_day=False)
    until = _time(values, "until", end_of_day=True)
    if since is not None and until is not None and since >= until:
        raise AuditQueryError(
            "until", f"until ({values['until']}) must be later than since ({values['since']})"
        )
    limit = _integer(values, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _integer(values, "offset", 0, 0, MAX_OFFSET)
    verify = values.get("verify", "true").lower()
    if verify not in TRUE + FALSE:
        raise AuditQueryError("verify", f"verify {values['verify']!r} must be true or false")
    return AuditQuery(
        Search(since, until, user, action, _text(values, "text")), limit, offset, verify in TRUE
    )


def _text(values: dict[str, str], name: str) -> str | None:
    value = values.get(name)
    if not value:
        return None
    if len(value) > MAX_TEXT:
        raise AuditQueryError(
            name, f"{name} is {len(value)} characters long; at most {MAX_TEXT} are searched"
        )
    return value


def _time(values: dict[str, str], name: str, end_of_day: bool) -> str | None:
    """Fixed-width UTC text, as the stores keep times.  A date alone as `until` includes that day."""
    value = values.get(name)
    if not value:
        return None
    try:
        when = parse_since(value)
    except AuditError:
        raise AuditQueryError(
            name,
            f"{name} {value!r} is not an ISO date or time "
            "(2026-12-01, 2026-12-01T08:00, 2026-12-01T08:00Z) "
            "nor a duration back from now (15m, 24h, 7d)",
        ) from None
    if end_of_day and DATE_ONLY_RE.match(value):
        when += dt.timedelta(days=1)
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _integer(values: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    value = values.get(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise AuditQueryError(name, f"{name} {value!r} must be a whole number") from None
    if not low <= number <= high:
        raise AuditQueryError(name, f"{name} is {number}; it must be from {low} to {high}")
    return number


def entry_record(e: Entry) -> dict[str, Any]:
    """One entry as people read it in the API: who, what, on what, how it ended, the details."""
    try:
        data = e.data
        actor = data.get("actor") or {}
        return {
            "seq": e.seq,
            "time": e.time,
            "user": e.user,
            "roles": actor.get("roles") or [],
            "action": e.action,
            "resource": data.get("resource"),
            "outcome": e.outcome,
            "source": data.get("source"),
            "details": data.get("details") or {},
        }
    except (ValueError, AttributeError, TypeError):  # a tampered body: show what the columns say
        return {
            "seq": e.seq,
            "time": e.time,
            "user": e.user,
            "roles": [],
            "action": e.action,
            "resource": None,
            "outcome": e.outcome,
            "source": None,
            "details": {"unreadable": "this entry's stored content is not valid JSON"},
        }


def family(action: str) -> str:
    """The action's first word: login.success and login.failure are both "login"."""
    return action.split(".", 1)[0]


def hourly_counts(log: AuditLog, found: Search) -> list[dict[str, Any]]:
    """Entries per hour (UTC) and action family, for every entry that matches (not one page)."""
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for hour, action, n in log.store.hourly(found):
        totals[(hour, family(action))] += n
    return [
        {"hour": f"{hour}:00Z", "action": action, "count": n}
        for (hour, action), n in sorted(totals.items())
    ]


def chain_status(log: AuditLog) -> dict[str, Any]:
    """The whole chain verified with the public key: ok, or the first entry where it breaks."""
    if log.store.last()[0] == 0:
        return {
            "ok": True,
            "entries": 0,
            "broken_at": None,
            "problems": [],
            "summary": "The audit log is empty.",
        }
    try:
        report = log.verify()
    except AuditError as exc:
        return {
            "ok": None,
            "entries": None,
            "broken_at": None,
            "problems": [str(exc)],
            "summary": f"The chain could not be verified: {exc}",
        }
    seqs = [p.seq for p in report.problems if p.seq is not None]
    return {
        "ok": report.ok,
        "entries": report.entries,
        "signed_up_to": report.last_checkpoint,
        "unsigned_tail": report.unsigned_tail,
        "broken_at": min(seqs) if seqs else None,
        "problems": [str(p) for p in report.problems[:20]],
        "summary": report.summary(),
    }


def browse(log: AuditLog, query: AuditQuery, actor: Any = None) -> dict[str, Any]:
    """One page of matching entries newest first, the total, events per hour and (if asked) the
    chain's status.  The read is then recorded as ``audit.read`` by `actor`, with its filters:
    who looked at the audit log is itself audited."""
    log.flush()  # a buffered log: what was recorded until now is searchable
    total, page = log.store.search(query.search, query.limit, query.offset)
    answer: dict[str, Any] = {
        "total": total,
        "limit": query.limit,
        "offset": query.offset,
        "filters": query.filters(),
        "entries": [entry_record(e) for e in page],
        "hourly": hourly_counts(log, query.search),
    }
    if query.verify:
        answer["chain"] = chain_status(log)
    log.record(
        "audit.read",
        actor=actor,
        resource="audit",
        filters=query.filters(),
        returned=len(page),
        offset=query.offset,
    )
    return answer

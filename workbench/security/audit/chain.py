"""Audit entries, their canonical JSON and the SHA-256 hash chain.

Each entry's hash is SHA-256(previous hash bytes || canonical JSON of the entry). The entry's
JSON includes its sequence number, so an entry moved to another position no longer matches.
The stored text is what is hashed: verification never re-serialises, it re-hashes the bytes
that are in the store, so a flipped byte anywhere in them changes the hash.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import AuditError

GENESIS = "0" * 64  # the "previous hash" of entry 1
OUTCOMES = ("success", "failure", "denied", "unknown")
ACTION_RE = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$")


def canonical_json(value: Any) -> str:
    """Sorted keys, no whitespace, UTF-8 text, no NaN: one text per value.

    Hand-written on the stdlib rather than an RFC 8785 package: the chain hashes the stored
    bytes, so what matters is that the writer is deterministic, and values are restricted
    (`plain`) to strings, integers, finite floats, booleans, null, lists and objects."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(prev_hash: str, body: str) -> str:
    return hashlib.sha256(bytes.fromhex(prev_hash) + body.encode("utf-8")).hexdigest()


def plain(value: Any, where: str) -> Any:
    """`value` as JSON-native data; anything else is refused naming the detail key (never
    turned into a string silently, since a SIEM would then see a Python repr)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise AuditError(
                f"audit detail {where!r} is {value!r}; only finite numbers are recorded"
            )
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        return sorted(plain(v, f"{where}[]") for v in value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars (rows counted by pandas)
        return plain(value.item(), where)
    raise AuditError(
        f"audit detail {where!r} has type {type(value).__name__}, which is not JSON "
        "data (use str, int, float, bool, None, list or dict)"
    )


def utc_now_text() -> str:
    """Fixed-width UTC time, so text order is time order in both stores."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def actor_of(actor: Any) -> dict[str, Any]:
    """A Principal, a user name or a {user, roles} mapping, as the entry's actor."""
    if actor is None:
        return {"user": None, "roles": []}
    if isinstance(actor, str):
        return {"user": actor, "roles": []}
    if isinstance(actor, Mapping):
        unknown = set(actor) - {"user", "roles"}
        if unknown:
            raise AuditError(f"audit actor has unknown keys {sorted(unknown)}; use user and roles")
        return {"user": actor.get("user"), "roles": sorted(map(str, actor.get("roles") or []))}
    user = getattr(actor, "user", None)
    if user is None:
        raise AuditError(
            f"audit actor must be a Principal, a user name or a mapping, not {type(actor).__name__}"
        )
    return {"user": str(user), "roles": sorted(map(str, getattr(actor, "roles", ()) or ()))}


@dataclass(frozen=True)
class Entry:
    """One stored entry: the hashed JSON text plus the columns kept beside it for search."""

    seq: int
    time: str
    user: str | None
    action: str
    outcome: str
    body: str
    prev_hash: str
    hash: str

    @property
    def data(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


def new_body(
    action: str,
    actor: Any,
    resource: str | None,
    outcome: str,
    source: str | None,
    details: Mapping[str, Any],
) -> dict[str, Any]:
    """The entry's content without seq (known only when it is appended); validated here so a
    bad call fails in the caller, before any store is touched."""
    if not isinstance(action, str) or not ACTION_RE.match(action):
        raise AuditError(
            f"audit action {action!r} must be dotted lower-case words, e.g. auth.login.success"
        )
    if outcome not in OUTCOMES:
        raise AuditError(f"audit outcome {outcome!r} must be one of {', '.join(OUTCOMES)}")
    return {
        "time": utc_now_text(),
        "actor": actor_of(actor),
        "action": action,
        "resource": None if resource is None else str(resource),
        "outcome": outcome,
        "source": None if source is None else str(source),
        "details": plain(dict(details), "details"),
    }


def seal(body: dict[str, Any], seq: int, prev_hash: str) -> Entry:
    """The entry at position `seq` after the entry whose hash is `prev_hash`."""
    text = canonical_json({**body, "seq": seq})
    return Entry(
        seq,
        body["time"],
        body["actor"]["user"],
        body["action"],
        body["outcome"],
        text,
        prev_hash,
        entry_hash(prev_hash, text),
    )

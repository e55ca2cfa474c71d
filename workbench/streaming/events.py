"""The change-event model: Debezium envelopes, carried as JSON text with a source position.

A source hands the runner `RawEvent`s: the payload exactly as received (bytes or text) and a
position. Parsing and validation happen later, vectorised in DuckDB (see `apply.py`), so a
malformed payload is kept byte for byte in bronze and in the dead-letter table.

Positions are (hi, lo) pairs of integers, compared as tuples:
  PostgreSQL  (commit LSN, index of the change inside its transaction)
  RabbitMQ    (stream offset, 0)
  Redis       (entry id milliseconds, entry id sequence)
  embedded    (outbox id, 0)
`position` is the human-readable form (LSN "0/16B3748:3", offset "42", id "1700000000000-0").
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, NamedTuple

import orjson


class RawEvent(NamedTuple):
    """A change event as received. A source may hand plain (hi, lo, position, payload) tuples
    instead (the embedded source returns SQLite's rows as they are): the runner and the applier
    only index them."""

    hi: int
    lo: int
    position: str
    payload: str


def _default(o: Any):
    if isinstance(o, (dt.datetime, dt.date, dt.time)):
        return o.isoformat(sep=" ") if isinstance(o, dt.datetime) else o.isoformat()
    try:
        from decimal import Decimal

        if isinstance(o, Decimal):
            return str(o)
    except ImportError:  # pragma: no cover
        pass
    if hasattr(o, "item"):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def envelope(
    table: str,
    op: str,
    before: dict | None,
    after: dict | None,
    *,
    tx_id: Any = None,
    ts_ms: int | None = None,
    connector: str = "workbench",
    schema: str | None = None,
    db: str | None = None,
    lsn: int | None = None,
    snapshot: bool = False,
) -> dict:
    """A Debezium change envelope (the `payload` part)."""
    now = int(time.time() * 1000)
    src = {
        "version": "workbench",
        "connector": connector,
        "name": connector,
        "ts_ms": ts_ms or now,
        "snapshot": "true" if snapshot else "false",
        "db": db,
        "schema": schema,
        "table": table,
        "txId": tx_id,
        "lsn": lsn,
    }
    return {"before": before, "after": after, "op": op, "ts_ms": now, "source": src}


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=_default).decode()


def lsn_to_int(lsn: str) -> int:
    hi, lo = lsn.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def int_to_lsn(v: int) -> str:
    return f"{v >> 32:X}/{v & 0xFFFFFFFF:X}"

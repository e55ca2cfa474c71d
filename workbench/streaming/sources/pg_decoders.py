"""Decoders of PostgreSQL logical decoding output: test_decoding, wal2json (format 2), pgoutput.

Each turns one replication message into ('B', xid, commit_ts_ms) / ('C', commit_ts_ms) /
('X', schema, table, op, before, after) / None (ignored).
"""

from __future__ import annotations

import datetime as dt
import re
import struct

import orjson

_PG_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_INT_TYPES = {"smallint", "integer", "bigint", "int2", "int4", "int8", "oid"}


def _ts_ms(text: str | None) -> int | None:
    if not text:
        return None
    t = text.strip().replace(" ", "T", 1)
    if t.endswith(("+00", "-00")) or re.search(r"[+-]\d\d$", t):
        t += ":00"
    try:
        return int(dt.datetime.fromisoformat(t).timestamp() * 1000)
    except ValueError:
        return None


def _typed(typ: str, value):
    if value is None:
        return None
    if typ in _INT_TYPES:
        return int(value)
    if typ == "boolean" or typ == "bool":
        return value in ("true", "t", True)
    return value


# -- test_decoding ---------------------------------------------------------------------------
_TD_COL = re.compile(r"""("(?:[^"]|"")+"|[^\s\[]+)\[([^\]]+)\]:('(?:[^']|'')*'|\S+)""")
_TD_HEAD = re.compile(r"^table ([^:]+): (INSERT|UPDATE|DELETE|TRUNCATE):(.*)$", re.S)


def _td_cols(text: str) -> dict:
    out = {}
    for name, typ, val in _TD_COL.findall(text):
        name = name.strip('"').replace('""', '"')
        if val == "null":
            v = None
        elif val.startswith("'"):
            v = val[1:-1].replace("''", "'")
        elif val == "unchanged-toast-datum":
            continue
        else:
            v = val
        out[name] = _typed(typ, v)
    return out


def decode_test_decoding(payload) -> tuple | None:
    if isinstance(payload, bytes):
        payload = payload.decode()
    if payload.startswith("BEGIN"):
        return ("B", payload.split()[1] if len(payload.split()) > 1 else None, None)
    if payload.startswith("COMMIT"):
        m = re.search(r"\(at (.+)\)", payload)
        return ("C", _ts_ms(m.group(1)) if m else None)
    m = _TD_HEAD.match(payload)
    if not m:
        return None
    qual, kind, rest = m.groups()
    schema, _, table = qual.partition(".")
    schema, table = schema.strip('"'), table.strip('"')
    if kind == "INSERT":
        return ("X", schema, table, "c", None, _td_cols(rest))
    if kind == "DELETE":
        return ("X", schema, table, "d", _td_cols(rest), None)
    if kind == "UPDATE":
        if " old-key: " in rest or rest.startswith(" old-key:"):
            old, _, new = rest.partition("new-tuple:")
            return ("X", schema, table, "u", _td_cols(old.replace("old-key:", "")), _td_cols(new))
        return ("X", schema, table, "u", None, _td_cols(rest))
    return None


# -- wal2json format-version 2 -----------------------------------------------------------------
def _w2j_cols(cols) -> dict:
    return {c["name"]: _typed(c.get("type", ""), c.get("value")) for c in cols or []}


def decode_wal2json(payload) -> tuple | None:
    m = orjson.loads(payload)
    a = m.get("action")
    if a == "B":
        return ("B", m.get("xid"), _ts_ms(m.get("timestamp")))
    if a == "C":
        return ("C", _ts_ms(m.get("timestamp")))
    if a in ("I", "U", "D"):
        op = {"I": "c", "U": "u", "D": "d"}[a]
        before = _w2j_cols(m.get("identity")) if "identity" in m else None
        after = _w2j_cols(m.get("columns")) if a != "D" else None
        return ("X", m.get("schema"), m.get("table"), op, before, after)
    return None


# -- pgoutput (protocol version 1) -------------------------------------------------------------
_OID_INT = {20, 21, 23, 26}
_OID_BOOL = 16


class PgOutputDecoder:
    def __init__(self):
        self.relations: dict[int, tuple[str, str, list[tuple[str, int]]]] = {}

    @staticmethod
    def _str(buf: bytes, i: int) -> tuple[str, int]:
        j = buf.index(b"\0", i)
        return buf[i:j].decode(), j + 1

    def _tuple(self, buf: bytes, i: int, cols) -> tuple[dict, int]:
        (n,) = struct.unpack_from("!h", buf, i)
        i += 2
        out: dict[str, int | bool | str | None] = {}
        for k in range(n):
            kind = buf[i : i + 1]
            i += 1
            name, oid = cols[k]
            if kind == b"n":
                out[name] = None
            elif kind == b"u":
                continue
            else:
                (ln,) = struct.unpack_from("!i", buf, i)
                i += 4
                v = buf[i : i + ln].decode()
                i += ln
                out[name] = int(v) if oid in _OID_INT else (v == "t") if oid == _OID_BOOL else v
        return out, i

    def __call__(self, buf: bytes) -> tuple | None:
        t = buf[:1]
        if t == b"B":
            _lsn, ts, xid = struct.unpack_from("!qqi", buf, 1)
            return ("B", xid, int((_PG_EPOCH + dt.timedelta(microseconds=ts)).timestamp() * 1000))
        if t == b"C":
            _f, _lsn, _end, ts = struct.unpack_from("!bqqq", buf, 1)
            return ("C", int((_PG_EPOCH + dt.timedelta(microseconds=ts)).timestamp() * 1000))
        if t == b"R":
            (rel,) = struct.unpack_from("!i", buf, 1)
            ns, i = self._str(buf, 5)
            name, i = self._str(buf, i)
            i += 1  # replica identity
            (n,) = struct.unpack_from("!h", buf, i)
            i += 2
            cols = []
            for _ in range(n):
                i += 1  # flags
                cname, i = self._str(buf, i)
                oid, _mod = struct.unpack_from("!ii", buf, i)
                i += 8
                cols.append((cname, oid))
            self.relations[rel] = (ns, name, cols)
            return None
        if t in (b"I", b"U", b"D"):
            (rel,) = struct.unpack_from("!i", buf, 1)
            ns, name, cols = self.relations[rel]
            i = 5
            before = after = None
            if t == b"I":
                after, i = self._tuple(buf, i + 1, cols)
                return ("X", ns, name, "c", None, after)
            if t == b"D":
                before, i = self._tuple(buf, i + 1, cols)
                return ("X", ns, name, "d", before, None)
            if buf[i : i + 1] in (b"K", b"O"):
                before, i = self._tuple(buf, i + 1, cols)
            after, i = self._tuple(buf, i + 1, cols)
            return ("X", ns, name, "u", before, after)
        return None

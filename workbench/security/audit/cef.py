"""Audit entries as ArcSight CEF lines, framed as RFC 5424 syslog messages.

Hand-written: CEF is a line format with a handful of escaping rules and no maintained Python
library implements both them and RFC 5424 framing; the stdlib SysLogHandler speaks RFC 3164.

CEF escaping (ArcSight CEF spec, "Character encoding"):
- header fields: backslash and pipe are escaped (\\\\, \\|); newlines are not allowed there, so
  CR/LF become spaces;
- extension values: backslash and equals are escaped (\\\\, \\=), CR and LF become \\r and \\n;
  pipes need no escape in extensions.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket

from .chain import Entry, canonical_json
from .export import CLASSES, classify, epoch_ms, severity_id

CEF_SEVERITY = {1: 3, 2: 4, 3: 6, 4: 8}  # OCSF severity_id -> CEF 0..10
SYSLOG_SEVERITY = {1: 6, 2: 5, 3: 4, 4: 3}  # -> informational, notice, warning, error
FACILITY_LOG_AUDIT = 13  # RFC 5424 table 1: "log audit"
APP_NAME = "workbench"
EXT_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def escape_header(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def escape_value(value: object) -> str:
    text = "" if value is None else str(value)
    return (
        text.replace("\\", "\\\\")
        .replace("=", "\\=")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
    )


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("workbench")
    except Exception:  # running from a source tree that is not installed
        return "0"


VERSION = _version()


def to_cef(entry: Entry) -> str:
    data = entry.data
    action, outcome, details = data["action"], data["outcome"], data.get("details") or {}
    class_uid, _, activity = classify(action, details)
    sev = severity_id(action, outcome)
    header = [
        "CEF:0",
        "Workbench",
        "Workbench",
        VERSION,
        action,
        f"{CLASSES[class_uid][0]}: {activity} ({outcome})",
        str(CEF_SEVERITY[sev]),
    ]
    ext: list[tuple[str, object]] = [
        ("rt", epoch_ms(data["time"])),
        ("act", action),
        ("outcome", outcome),
        ("cat", CLASSES[class_uid][0]),
        ("externalId", data["seq"]),
    ]
    if data["actor"]["user"]:
        ext.append(("suser", data["actor"]["user"]))
    source = data.get("source")
    if source:
        try:
            ext.append(("src", str(ipaddress.ip_address(source))))
        except ValueError:
            ext.append(("shost", source))
    if data.get("resource"):
        ext.append(("request", data["resource"]))
    ext += [
        ("cs1Label", "roles"),
        ("cs1", ",".join(data["actor"].get("roles", []))),
        ("cs2Label", "details"),
        ("cs2", canonical_json(details)),
        ("cs3Label", "hash"),
        ("cs3", entry.hash),
    ]
    for key, _ in ext:
        if not EXT_KEY.match(key):  # keys are ours, never user text
            raise ValueError(f"CEF extension key {key!r} is not a valid key")
    return (
        "|".join(escape_header(h) if i else h for i, h in enumerate(header))
        + "|"
        + " ".join(f"{k}={escape_value(v)}" for k, v in ext)
    )


def _printable(text: str, limit: int) -> str:
    """RFC 5424 header fields are PRINTUSASCII (33..126) or the NILVALUE "-"."""
    clean = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return clean or "-"


HOSTNAME = _printable(socket.gethostname(), 255)


def syslog_message(entry: Entry, msg: str | None = None) -> str:
    """`<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`; MSG is the CEF line unless
    another text (an OCSF JSON line) is given.

    MSG is sent without a BOM (RFC 5424 MSG-ANY), as CEF receivers expect "CEF:" first."""
    data = entry.data
    pri = FACILITY_LOG_AUDIT * 8 + SYSLOG_SEVERITY[severity_id(data["action"], data["outcome"])]
    return (
        f"<{pri}>1 {data['time']} {HOSTNAME} {APP_NAME} {os.getpid()} "
        f"{_printable(data['action'], 32)} - {to_cef(entry) if msg is None else msg}"
    )

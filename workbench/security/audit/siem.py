"""One line per entry in the format a SIEM asked for (kept apart from export.py and cef.py so
neither imports the other's caller)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from .cef import to_cef
from .chain import Entry, canonical_json
from .errors import AuditError
from .export import to_ocsf

FORMATS = ("ocsf", "cef")


def formatter(format: str) -> Callable[[Entry], str]:
    """entry -> line for `format`; a bad format fails here, before anything is read or sent."""
    if format == "ocsf":
        return lambda e: canonical_json(to_ocsf(e))
    if format == "cef":
        return to_cef
    raise AuditError(f"export format {format!r} must be ocsf or cef")


def export_lines(entries: Iterable[Entry], format: str) -> Iterator[str]:
    line = formatter(format)
    return (line(e) for e in entries)

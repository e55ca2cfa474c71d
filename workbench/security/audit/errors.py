"""The one error the audit trail raises on purpose; its message names what failed and where."""

from __future__ import annotations


class AuditError(Exception):
    """Bad input to the audit API, or a store, key or syslog receiver that cannot be used.

    A tampered log is not an error: `verify` returns a report listing what it found."""

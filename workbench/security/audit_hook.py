"""The audit hook every security service accepts: a callable ``audit(action, **details)``.

The audit log itself lives elsewhere; this module only fixes the calling convention so each
service reports its outcomes the same way. A hook that raises is not swallowed: a security
event that cannot be recorded must not pass silently (fail closed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class AuditHook(Protocol):
    def __call__(self, action: str, **details: Any) -> None: ...


def no_audit(action: str, **details: Any) -> None:
    """The default hook when none is given: records nothing."""


def safe_text(value: Any, limit: int = 80) -> str:
    """Attacker-controlled header values (a kid, a typ) go into the audit trail as bounded,
    printable text, so a crafted value can neither flood the log nor forge a line."""
    text = repr(value) if not isinstance(value, str) else value
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[:limit] + "…"


Audit = Callable[..., None]

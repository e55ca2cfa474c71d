"""The tamper-evident audit trail: hash-chained entries, Ed25519-signed checkpoints, an
embedded (SQLite) or PostgreSQL store, verification, and OCSF / CEF-over-syslog export.

    from workbench.security.audit import AuditLog
    log = AuditLog.open()                      # from workbench.yml's `audit` section
    log.record("auth.login.success", actor=principal, source="10.0.0.7")
    log.verify().ok
"""

from .chain import Entry
from .errors import AuditError
from .log import AuditLog
from .verify import Problem, VerifyReport

__all__ = ["AuditError", "AuditLog", "Entry", "Problem", "VerifyReport"]

"""The security services of one running workbench, built once from workbench.yml.

Users, signing keys, access and refresh tokens, the policy decision point and the audit trail,
wired to each other the way the server needs them (tokens check users and revocations; every
service reports to the one audit log).  The server builds one :class:`AuthServices`; the CLI and
tests may build their own over the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audit_hook import Audit, no_audit
from .keyring import KeyRing
from .policy import PolicyDecisionPoint
from .refresh import SessionStore
from .tokens import AccessTokens
from .users import UserStore


@dataclass
class AuthServices:
    """Everything log-in and authorization need, sharing one audit hook."""

    users: UserStore
    keyring: KeyRing
    sessions: SessionStore
    tokens: AccessTokens
    policy: PolicyDecisionPoint
    audit: Audit
    audit_log: Any = None  # the AuditLog behind ``audit``, when there is one

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        audit_log: Any = None,
        policy_file: str | Path | None = None,
        model_file: str | Path | None = None,
    ) -> AuthServices:
        """From workbench ``Settings``; ``audit_log`` (an AuditLog) receives every security event."""
        auth = settings.auth
        hook: Audit = audit_log.hook("security") if audit_log is not None else no_audit
        users = UserStore(
            settings.path(auth.users_db), min_password_length=auth.min_password_length, audit=hook
        )
        keyring = KeyRing(
            settings.path(auth.keys_dir),
            key_bits=auth.key_bits,
            leeway_s=auth.leeway_s,
            publish_lead_s=auth.key_publish_lead_s,
            audit=hook,
        )
        sessions = SessionStore.from_settings(
            auth, settings.path(auth.sessions_db), users=users, audit=hook
        )
        tokens = AccessTokens.from_settings(
            auth, keyring, users=users, revocations=sessions, audit=hook
        )
        policy = PolicyDecisionPoint(policy_file, model_file)
        return cls(users, keyring, sessions, tokens, policy, hook, audit_log)

    def close(self) -> None:
        if self.audit_log is not None:
            self.audit_log.flush_quietly()

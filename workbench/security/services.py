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

import jwt

from .audit_hook import Audit, no_audit
from .keyring import KeyRing
from .oidc import ExternalIssuer
from .policy import PolicyDecisionPoint
from .refresh import SessionStore
from .tokens import AccessClaims, AccessTokens
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
    external: ExternalIssuer | None = None  # auth.external_idp: tokens of an OIDC issuer too

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
        external = None
        if auth.external_idp is not None:
            external = ExternalIssuer.from_settings(
                auth.external_idp, leeway_s=auth.leeway_s, users=users, audit=hook
            )
        return cls(users, keyring, sessions, tokens, policy, hook, audit_log, external)

    def validate_bearer(self, token: str) -> AccessClaims:
        """A Bearer token's identity: ours, or the configured external issuer's. The token's own
        ``iss`` (read unverified) only picks which issuer verifies it; that issuer then checks
        signature, algorithm and every claim, so a lie in ``iss`` gains nothing."""
        if self.external is not None and _claimed_issuer(token) == self.external.issuer:
            return self.external.validate(token)
        return self.tokens.validate(token)

    def close(self) -> None:
        if self.audit_log is not None:
            self.audit_log.flush_quietly()


def _claimed_issuer(token: str) -> Any:
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError:
        return None  # not a JWT at all: our validator rejects it, with the reason

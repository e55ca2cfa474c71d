"""Errors of log-in and tokens. Each carries a short machine `reason` (for the audit trail and
metrics) and a message for people; neither ever contains a secret, a hash or a key."""

from __future__ import annotations


class AuthError(Exception):
    """Base of every error raised on purpose by users, keys and tokens."""

    def __init__(self, message: str, reason: str = "error"):
        self.reason = reason
        super().__init__(message)


class UserStoreError(AuthError):
    """Bad input to the users store: an unknown role, a short password, a duplicate name."""


class LoginFailed(AuthError):
    """Wrong name or password, or a disabled user. The message never says which, so a caller
    cannot learn which names exist; `reason` says it for the audit trail."""

    def __init__(self, reason: str):
        super().__init__("Wrong user name or password.", reason)


class KeyRingError(AuthError):
    """The key ring cannot be read or changed as asked."""


class TokenRejected(AuthError):
    """An access token is not accepted. `reason` is one of the codes in docs/security.md."""

    def __init__(self, reason: str, detail: str = ""):
        self.detail = detail
        super().__init__(
            f"access token rejected: {reason}" + (f" ({detail})" if detail else ""), reason
        )


class RefreshRejected(AuthError):
    """A refresh token is not accepted (unknown, expired, revoked)."""

    def __init__(self, reason: str):
        super().__init__(f"refresh token rejected: {reason}", reason)


class RefreshReuseDetected(RefreshRejected):
    """A rotated refresh token came back after the grace window: it was probably stolen. Its
    whole session (family) has been revoked; the caller should audit and alert."""

    def __init__(self, sid: str, sub: str):
        self.sid, self.sub = sid, sub
        super().__init__("reuse_detected")

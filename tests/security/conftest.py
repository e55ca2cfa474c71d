"""The shared fixtures of the security tests, registered once here so the test modules use them
by name (pytest's way) instead of importing them, which linters read as unused imports that
the test parameters then redefine.  A test module's own fixture of the same name wins."""

from __future__ import annotations

from .audit_support import audit_env  # noqa: F401 - registers the fixture
from .auth_support import audit, clock, ring, sessions, tokens, users  # noqa: F401 - registers the fixtures

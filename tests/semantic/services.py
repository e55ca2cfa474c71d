"""Service checks shared by the semantic tests that talk to PostgreSQL or Redis."""
from __future__ import annotations

import socket

from tests.conftest import skip_or_fail


def require_service(name: str, host: str, port: int) -> None:
    """Skip (with the reason) when a service is unreachable; on CI that is a failure (the suite's
    one rule, tests/conftest.skip_or_fail)."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as e:
        skip_or_fail(f"{name} is not reachable on {host}:{port} ({e})")

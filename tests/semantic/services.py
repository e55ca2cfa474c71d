"""Service checks shared by the semantic tests that talk to PostgreSQL or Redis."""
from __future__ import annotations

import os
import socket

import pytest


def require_service(name: str, host: str, port: int) -> None:
    """Skip (with the reason) when a service is unreachable; on CI (CI=true) that is a failure."""
    try:
        socket.create_connection((host, port), timeout=1).close()
        return
    except OSError as e:
        reason = f"{name} is not reachable on {host}:{port} ({e})"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason}; services are required when CI=true")
    pytest.skip(reason)

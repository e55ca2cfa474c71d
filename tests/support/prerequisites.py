"""The suite's one rule for a missing prerequisite (a service down, a package or binary absent):
skip with the reason on a laptop, fail with it on CI, so CI never goes green by skipping what it
was meant to run.

Every test and fixture that needs something outside Python's standard library goes through
`skip_or_fail` (or `require_module` / `require_service`, built on it); none reads ``CI`` itself.
"""

from __future__ import annotations

import importlib
import os
import socket
from types import ModuleType

import pytest

#: The values CI systems set ``CI`` to (GitHub Actions and GitLab ``true``, others ``1``/``yes``).
CI_TRUE = ("1", "true", "yes")


def on_ci() -> bool:
    """True when the ``CI`` variable says so (case and surrounding spaces ignored)."""
    return os.environ.get("CI", "").strip().lower() in CI_TRUE


def skip_or_fail(reason: str, *, allow_module_level: bool = False) -> None:
    """Skip with ``reason`` on a laptop; fail with it when CI is set.  ``allow_module_level``
    as for `pytest.skip`: called at import time, it skips (or fails) the whole module."""
    if on_ci():
        pytest.fail(f"{reason} (CI=true: a missing prerequisite is an error)", pytrace=False)
    pytest.skip(reason, allow_module_level=allow_module_level)


def require_module(name: str, install: str = "pip install -e .[test]") -> ModuleType:
    """Import ``name`` or skip/fail saying how to install it: `pytest.importorskip` by the rule,
    usable at module level too."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        skip_or_fail(f"{name} is not importable ({e}); {install}", allow_module_level=True)
        raise  # not reached: skip_or_fail raises


def require_service(name: str, host: str, port: int) -> None:
    """Skip/fail (with the reason) when nothing accepts a TCP connection on ``host:port``."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError as e:
        skip_or_fail(f"{name} is not reachable on {host}:{port} ({e})")

"""Shared test helpers.  Fixtures for one area live in that area's conftest.py; only what
several areas need goes here."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.support.prerequisites import skip_or_fail

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")


def chromium_executable() -> str | None:
    """Debian's Chromium (`apt-get install chromium`), the browser the ui tests drive."""
    override = os.environ.get("WORKBENCH_CHROMIUM")
    for candidate in ([override] if override else []) + list(CHROMIUM_CANDIDATES):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("chromium")
    return found


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = chromium_executable()
    if path is None:
        skip_or_fail(
            "Debian chromium is not installed (apt-get install -y chromium, or run "
            "scripts/prepare_services.sh as root)"
        )
    return path


@pytest.fixture(scope="session")
def skip_or_fail_missing():
    """The skip-on-laptop / fail-on-CI rule, for conftest files in sub-folders."""
    return skip_or_fail


from tests.support.engines import engine  # noqa: E402,F401  (one param per registered engine)
from tests.support.registries import (  # noqa: E402,F401  (fixtures for every area)
    clean_registries,
    registries_left_as_found,
)


def pytest_collection_modifyitems(config, items):
    """`notimpl`/`notyet` engine marks become strict xfails (tests/support/engine_marks.py)."""
    from tests.support.engine_marks import apply_engine_marks
    from workbench.engines.base import available_engines

    apply_engine_marks(items, set(available_engines()))

"""Every extension point's registry, and a fixture that puts them back after a test.

A test that registers a plugin class (or fakes entry points) takes `clean_registries`, so the
class does not leak into later tests that list or walk a registry.  `registries_left_as_found`
(autouse, from tests/conftest.py) fails a test that leaves a class behind without it.
"""

from __future__ import annotations

import functools
import importlib
import sys
from importlib.metadata import entry_points

import pytest

from workbench.registry import Registry

#: (module, attribute) of each extension point's registry, imported only when asked for.
REGISTRIES = {
    "engines": ("workbench.engines.base", "ENGINES"),
    "sources": ("workbench.streaming.sources.base", "SOURCES"),
    "detectors": ("workbench.anomaly.detectors.registry", "DETECTORS"),
    "notifiers": ("workbench.anomaly.notifiers.base", "NOTIFIERS"),
    "charts": ("workbench.ui.charts", "CHARTS"),
}


def registry(area: str) -> Registry:
    module, attr = REGISTRIES[area]
    return getattr(importlib.import_module(module), attr)


def all_registries() -> dict[str, Registry]:
    return {area: registry(area) for area in REGISTRIES}


@pytest.fixture
def clean_registries():
    """Snapshot every registry before the test and restore it after."""
    regs = list(all_registries().values())
    states = [r.snapshot() for r in regs]
    yield
    for r, state in zip(regs, states, strict=True):
        r.restore(state)


@functools.cache
def _declared(group: str) -> frozenset[str]:
    return frozenset(ep.name for ep in entry_points(group=group))


def _registered_by_tests() -> dict[str, tuple[set[str], tuple]]:
    """Per registry already imported: the names no installed entry point declares (classes a
    test registered), and the state to put back."""
    out = {}
    for area, (module, attr) in REGISTRIES.items():
        if module in sys.modules:  # a registry nobody imported yet cannot have been changed
            reg = getattr(sys.modules[module], attr)
            state = reg.snapshot()
            out[area] = (set(state[0]) - _declared(reg.group), state)
    return out


@pytest.fixture(autouse=True)
def registries_left_as_found():
    """Fail a test that leaves a class in a registry (and put the registry back): a test that
    registers one takes `clean_registries`."""
    before = _registered_by_tests()
    yield
    leaked = {}
    for area, (names, _) in _registered_by_tests().items():
        new = names - before.get(area, (set(), None))[0]
        if new:
            leaked[area] = sorted(new)
            if area in before:
                registry(area).restore(before[area][1])
    if leaked:
        pytest.fail(
            f"the test left classes registered: {leaked}; take the clean_registries "
            "fixture (tests/support/registries.py)",
            pytrace=False,
        )

"""Every extension point's registry, and a fixture that puts them back after a test.

A test that registers a plugin class (or fakes entry points) takes `clean_registries`, so the
class does not leak into later tests that list or walk a registry.
"""
from __future__ import annotations

import importlib

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

"""Detector registry: short name -> class, fed by the ``workbench.detectors`` entry points.

Built-in detectors are declared in pyproject.toml exactly as a third-party package declares
its own (``name = "package.module:DetectorClass"``); each is imported on first lookup.
"""

from __future__ import annotations

from typing import Any

from workbench.anomaly.detectors.base import Detector
from workbench.registry import Registry

ENTRY_POINT_GROUP = "workbench.detectors"

DETECTORS: Registry[Detector] = Registry("detector", ENTRY_POINT_GROUP, Detector)

#: ``@register("name")`` on a ``Detector`` subclass (the name is set on the class).
register = DETECTORS.register


def load_entry_points(force: bool = False) -> None:
    """Read the installed packages' entry points again when ``force`` (they load lazily)."""
    if force:
        DETECTORS.reload()


def available() -> list[str]:
    return DETECTORS.names()


def get_detector_class(name: str) -> type[Detector]:
    return DETECTORS.get(name)


def create(name: str, **params: Any) -> Detector:
    """Instantiate a registered detector with keyword parameters (validated by its ``Params``)."""
    return get_detector_class(name)(**params)

"""Detector registry: short name -> class, built-ins and ``workbench.detectors`` entry points.

Built-in detectors register through ``@register`` when ``workbench.anomaly.detectors`` is
imported; third-party packages declare an entry point in the ``workbench.detectors`` group
(``name = "package.module:DetectorClass"``), loaded lazily on first lookup.
"""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from typing import Any, TypeVar

from workbench.anomaly.detectors.base import Detector

ENTRY_POINT_GROUP = "workbench.detectors"
log = logging.getLogger(__name__)

_REGISTRY: dict[str, type[Detector]] = {}
_entry_points_loaded = False

D = TypeVar("D", bound=type[Detector])


def register(name: str):
    """Class decorator registering a ``Detector`` subclass under a short name."""

    def deco(cls: D) -> D:
        if not (isinstance(cls, type) and issubclass(cls, Detector)):
            raise TypeError(f"{cls!r} is not a Detector subclass")
        existing = _REGISTRY.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(f"detector name {name!r} already taken by {existing.__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def load_entry_points(force: bool = False) -> None:
    """Register detectors advertised by installed packages (once, unless ``force``)."""
    global _entry_points_loaded
    if _entry_points_loaded and not force:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        try:
            cls = ep.load()
            register(ep.name)(cls)
        except Exception:  # a broken plugin must not take the built-ins down with it
            log.exception("could not load detector entry point %s = %s", ep.name, ep.value)


def available() -> list[str]:
    load_entry_points()
    return sorted(_REGISTRY)


def get_detector_class(name: str) -> type[Detector]:
    load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown detector {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None


def create(name: str, **params: Any) -> Detector:
    """Instantiate a registered detector with keyword parameters (validated by its ``Params``)."""
    return get_detector_class(name)(**params)

"""Streaming anomaly detectors.  The built-ins are ``workbench.detectors`` entry points
(pyproject.toml), each imported on first use, exactly as a plugin's are.

    from workbench.anomaly.detectors import create, available
    det = create("robust_zscore", window=96)
    scores = det.score_series(values, timestamps)
"""

from workbench.anomaly.detectors.base import Detector, DetectorParams
from workbench.anomaly.detectors.registry import (
    DETECTORS,
    ENTRY_POINT_GROUP,
    available,
    create,
    get_detector_class,
    load_entry_points,
    register,
)

__all__ = [
    "DETECTORS",
    "ENTRY_POINT_GROUP",
    "Detector",
    "DetectorParams",
    "available",
    "create",
    "get_detector_class",
    "load_entry_points",
    "register",
]

"""Streaming anomaly detectors.  Importing this package registers the built-ins.

    from workbench.anomaly.detectors import create, available
    det = create("robust_zscore", window=96)
    scores = det.score_series(values, timestamps)
"""

from workbench.anomaly.detectors.base import Detector, DetectorParams
from workbench.anomaly.detectors.registry import (
    ENTRY_POINT_GROUP,
    available,
    create,
    get_detector_class,
    load_entry_points,
    register,
)

# Built-ins register themselves on import, exactly as a plugin module would.
from workbench.anomaly.detectors import (  # noqa: E402,F401  isort: skip
    robust_zscore,
    ewma,
    seasonal,
    changepoint,
    isolation_forest,
    ensemble,
    nab_preset,
    sequence_novelty,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Detector",
    "DetectorParams",
    "available",
    "create",
    "get_detector_class",
    "load_entry_points",
    "register",
]

"""Anomaly detection: streaming detectors (``workbench.anomaly.detectors``) and NAB scoring."""

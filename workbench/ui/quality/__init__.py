"""The quality app's components (``apps/quality.py`` composes them).

``overview`` holds the sections (scores, checks, lineage, quarantine), ``approvals`` the queue
of proposed rule and schema changes, ``store`` the read-only quality store the sections read.
"""

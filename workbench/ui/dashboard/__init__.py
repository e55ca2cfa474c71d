"""The live KPI dashboard's components (``apps/dashboard.py`` composes them).

``page`` serves the page, ``view`` is the ``Dashboard`` component, ``data`` describes its
semantic queries, ``charts`` its live charts; docs/dashboard.md lists every module.
"""

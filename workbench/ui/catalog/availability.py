"""Which namespaces can be queried against the open warehouse.

A semantic model can describe tables that this warehouse doesn't have (the TPC-H models over
the retail demo warehouse, say).  The catalog still lists their members, but the apps say so
and steer queries to namespaces that work.  The check compiles one trivial query per namespace
(no data is read); the semantic layer's own message says what is missing.
"""

from __future__ import annotations

import weakref
from typing import Any

from workbench.ui.catalog.member_names import query_names

_cache: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
_PROBE_KINDS = (("measure", "metrics"), ("metric", "metrics"), ("dimension", "dimensions"))


def namespace_status(wb) -> dict[str, str]:
    """``{namespace: ""}`` when it can be queried, else ``{namespace: why not}``."""
    try:
        return _cache[wb]
    except (KeyError, TypeError):
        pass
    from workbench.ui.messages import describe_error

    entries = [e for e in wb.catalog() if e.get("qualified_name")]
    names = query_names(entries)
    status: dict[str, str] = {}
    for namespace in sorted({e["namespace"] for e in entries if e.get("namespace")}):
        probe = None
        for kind, arg in _PROBE_KINDS:
            member = next(
                (e for e in entries if e.get("namespace") == namespace and e.get("kind") == kind),
                None,
            )
            if member is not None:
                probe = {arg: [names[member["qualified_name"]]]}
                break
        if probe is None:
            status[namespace] = "It has no metrics or dimensions."
            continue
        try:
            wb.query(namespace, **probe).sql()
            status[namespace] = ""
        except Exception as exc:  # noqa: BLE001  the reason is shown to the person
            status[namespace] = describe_error(exc)
    try:
        _cache[wb] = status
    except TypeError:
        pass
    return status

"""The names the apps pass to ``query`` for catalog members. Shared by the query builder and the
namespace availability check, which is why it is a module of its own (neither imports the other)."""

from __future__ import annotations

from collections import Counter
from typing import Any

Entry = dict[str, Any]

METRIC_KINDS = ("metric", "measure")


def query_names(entries: list[Entry]) -> dict[str, str]:
    """qualified_name -> the name to pass to ``query``: the bare name when it is unique within
    its namespace and kind group, else ``model.name``."""

    def group(e):
        return "metric" if e.get("kind") in METRIC_KINDS else e.get("kind")

    counts = Counter((e.get("namespace"), group(e), e.get("name")) for e in entries)
    out = {}
    for e in entries:
        unique = counts[(e.get("namespace"), group(e), e.get("name"))] == 1
        out[e["qualified_name"]] = e["name"] if unique else f"{e.get('model')}.{e['name']}"
    return out

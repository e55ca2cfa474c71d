"""The errors Workbench raises on purpose, for every package: each names what is wrong and where,
and none carries a traceback to a person. They live outside `semantic/` because quality,
streaming, anomaly and the CLI raise them too, and a package should not import the semantic
layer just to say a YAML file is wrong."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class WorkbenchError(Exception):
    """Root of every error Workbench raises on purpose: `except WorkbenchError` is "show the
    message to the person", anything else is a bug."""


class SpecError(WorkbenchError):
    """A spec file (semantic model, suite, pipeline, rule...) is invalid. Names the file, the
    line and the field, so the message reads `file.yml:12 (models[orders].expr): problem`."""

    def __init__(
        self,
        problem: str,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        self.problem, self.file, self.line, self.field = problem, file, line, field
        where = ""
        if file:
            where = f"{file}:{line}" if line else file
            where += f" ({field})" if field else ""
            where += ": "
        super().__init__(where + problem)


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The "did you mean" candidates for `name`, also matching on the last dotted part, so
    `revenu` finds `orders.revenue`."""
    cands = sorted(set(candidates))
    short = {c.split(".")[-1]: c for c in cands}
    hits = difflib.get_close_matches(name, cands, n=n, cutoff=0.5)
    for h in difflib.get_close_matches(name.split(".")[-1], list(short), n=n, cutoff=0.5):
        if short[h] not in hits:
            hits.append(short[h])
    return hits[:n]

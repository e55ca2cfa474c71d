"""Errors people see. Each names what is wrong and where, and never carries a traceback to users."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class SemanticError(Exception):
    """Base class for every error the semantic layer raises on purpose."""


class ModelError(SemanticError):
    """A model file is invalid. Names the file, the line and the problem."""

    def __init__(self, problem: str, file: str | None = None, line: int | None = None,
                 field: str | None = None):
        self.problem, self.file, self.line, self.field = problem, file, line, field
        where = ""
        if file:
            where = f"{file}:{line}" if line else file
            where += f" ({field})" if field else ""
            where += ": "
        super().__init__(where + problem)


class QueryError(SemanticError):
    """A query is invalid: unknown member, bad filter, impossible join."""

    def __init__(self, problem: str, suggestions: Iterable[str] = ()):
        self.problem = problem
        self.suggestions = list(suggestions)
        msg = problem
        if self.suggestions:
            msg += " Did you mean: " + ", ".join(self.suggestions) + "?"
        super().__init__(msg)


class UnknownMemberError(QueryError):
    def __init__(self, name: str, kind: str, candidates: Iterable[str]):
        self.name = name
        super().__init__(f"Unknown {kind} '{name}'.", closest(name, candidates))


class AccessDeniedError(QueryError):
    """The principal may not use a member (hidden by a column policy)."""


class EngineError(SemanticError):
    """The engine could not run a query or reach a table."""


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    cands = sorted(set(candidates))
    short = {c.split(".")[-1]: c for c in cands}
    hits = difflib.get_close_matches(name, cands, n=n, cutoff=0.5)
    for h in difflib.get_close_matches(name.split(".")[-1], list(short), n=n, cutoff=0.5):
        if short[h] not in hits:
            hits.append(short[h])
    return hits[:n]

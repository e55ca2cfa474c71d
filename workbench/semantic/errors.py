"""Errors people see. Each names what is wrong and where, and never carries a traceback to users.

The root and the spec-file error live in :mod:`workbench.errors`; the names here are kept so
every existing ``except SemanticError`` / ``except ModelError`` keeps catching what it did."""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import SpecError, WorkbenchError, closest

__all__ = [
    "AccessDeniedError",
    "EngineError",
    "ModelError",
    "QueryError",
    "SemanticError",
    "UnknownMemberError",
    "closest",
]

# The old name of the root. It is the root itself, not a subclass, because spec errors raised
# by workbench.specfile (quality, streaming, anomaly files) were SemanticErrors before and the
# CLIs and handlers that catch SemanticError must keep catching them.
SemanticError = WorkbenchError

# A semantic model file is one kind of spec file; same constructor (problem, file, line, field).
ModelError = SpecError


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

"""Ibis-style engine marks: where one engine genuinely differs, the test says so, with a reason.

    @pytest.mark.notimpl(["spark"], reason="...")        # Workbench does not do this there yet
    @pytest.mark.notyet(["postgres"], reason="...")      # the engine (or its Ibis backend) can't
    @pytest.mark.notimpl(["spark"], raises=QueryError, reason="...")

On a test that takes the `engine` fixture (directly or through another fixture), each mark
naming the engine of that test's parameter becomes `pytest.mark.xfail(strict=True)`: the test
must fail there, and an engine that starts working turns the run red (XPASS(strict)), so the mark
is removed instead of hiding a capability. `raises=` narrows the expected failure to one
exception type; any other exception is a real failure.

A mark that could never apply is a usage error, never silently ignored: an engine name that is
not registered (a typo), a missing reason, or a mark on a test that does not run per engine.
"""

from __future__ import annotations

import pytest

# registered in pyproject.toml ([tool.pytest.ini_options] markers; tests/test_engine_marks.py)
ENGINE_MARKS = {
    "notimpl": "Workbench does not implement this on the named engines (yet); strict xfail",
    "notyet": "the named engines (or their Ibis backends) cannot do this yet; strict xfail",
}


def engine_of(item) -> str | None:
    """The engine parameter of a collected test, or None for a test that is not per engine."""
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("engine")


def _read(mark, nodeid: str, registered: set[str]) -> tuple[list[str], str, object]:
    engines = mark.args[0] if mark.args else mark.kwargs.get("engines")
    if isinstance(engines, str) or not engines:
        raise pytest.UsageError(
            f"{nodeid}: @pytest.mark.{mark.name} needs a list of engine "
            f"names first, e.g. {mark.name}(['spark'], reason=...)"
        )
    unknown = sorted(set(engines) - registered)
    if unknown:
        raise pytest.UsageError(
            f"{nodeid}: @pytest.mark.{mark.name} names {unknown}, which "
            f"are not registered engines ({sorted(registered)})"
        )
    reason = mark.kwargs.get("reason")
    if not reason:
        raise pytest.UsageError(
            f"{nodeid}: @pytest.mark.{mark.name}({list(engines)}) needs a reason"
        )
    return list(engines), reason, mark.kwargs.get("raises")


def apply_engine_marks(items, registered: set[str]) -> None:
    """Turn notimpl/notyet marks into strict xfails on the engines they name (collection hook)."""
    for item in items:
        marks = [m for name in ENGINE_MARKS for m in item.iter_markers(name=name)]
        if not marks:
            continue
        engine = engine_of(item)
        if engine is None:
            raise pytest.UsageError(
                f"{item.nodeid}: @pytest.mark.{marks[0].name} on a test "
                "that does not take the `engine` fixture would never apply"
            )
        for mark in marks:
            engines, reason, raises = _read(mark, item.nodeid, registered)
            if engine in engines:
                item.add_marker(
                    pytest.mark.xfail(
                        strict=True, raises=raises, reason=f"{mark.name} on {engine}: {reason}"
                    )
                )

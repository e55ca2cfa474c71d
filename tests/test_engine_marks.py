"""The Ibis-style engine marks (tests/support/engine_marks.py) do what the suite relies on: a
`notimpl`/`notyet` mark is a strict xfail on the engines it names and nothing on the others, an
engine that starts working fails the run, and a mark that could never apply is an error.

The hook runs in an inner pytest (pytester) over a fake `engine` fixture, so this costs no
engine; the suite's real `engine` params come from the registry (checked at the end)."""

from __future__ import annotations

import pytest

from tests.support.engine_marks import ENGINE_MARKS

pytest_plugins = ["pytester"]

CONFTEST = """
import pytest
from tests.support.engine_marks import apply_engine_marks

def pytest_collection_modifyitems(config, items):
    apply_engine_marks(items, {"duckdb", "postgres", "spark"})

@pytest.fixture(params=["duckdb", "postgres", "spark"])
def engine(request):
    return request.param

@pytest.fixture
def wb(engine):          # a fixture over the engine: the mark still applies per param
    return engine
"""
INI = """
[pytest]
markers =
    notimpl: test
    notyet: test
"""


@pytest.fixture
def run(pytester, monkeypatch):
    """Run an inner pytest over one test module `body`, with the hook and a fake engine."""
    # the inner run needs no third-party plugins (they cost ~1 s each run to load)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)

    def go(body: str):
        pytester.makepyfile(test_marks="import pytest\n\n" + body)
        return pytester.runpytest_inprocess("-rxX", "-p", "no:cacheprovider")

    return go


def test_a_mark_is_a_strict_xfail_on_the_named_engine_only(run):
    result = run("""
@pytest.mark.notimpl(["spark"], reason="no windows yet")
def test_works_except_on_spark(wb):
    assert wb != "spark"

@pytest.mark.notyet(["postgres", "spark"], raises=ZeroDivisionError, reason="engine lacks it")
def test_divides(engine):
    if engine != "duckdb":
        1 / 0
""")
    result.assert_outcomes(passed=3, xfailed=3)
    result.stdout.fnmatch_lines(
        ["*notimpl on spark: no windows yet*", "*notyet on postgres: engine lacks it*"]
    )


def test_an_engine_that_starts_working_fails_the_mark(run):
    result = run("""
@pytest.mark.notimpl(["postgres"], reason="stale mark")
def test_fine_everywhere(engine):
    assert True
""")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*XPASS(strict)*notimpl on postgres: stale mark*"])


def test_raises_narrows_the_expected_failure(run):
    result = run("""
@pytest.mark.notimpl(["spark"], raises=NotImplementedError, reason="one error expected")
def test_other_error(engine):
    if engine == "spark":
        raise KeyError("a different bug")
""")
    result.assert_outcomes(passed=2, failed=1)


@pytest.mark.parametrize(
    "mark,message",
    [
        ('notimpl(["sprak"], reason="typo")', "not registered engines"),
        ('notyet(["spark"])', "needs a reason"),
        ('notimpl("spark", reason="a string, not a list")', "needs a list of engine names"),
    ],
)
def test_a_mark_that_could_never_apply_is_an_error(run, mark, message):
    result = run(f"""
@pytest.mark.{mark}
def test_x(engine):
    pass
""")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_a_mark_on_a_test_without_an_engine_is_an_error(run):
    result = run("""
@pytest.mark.notimpl(["spark"], reason="no engine here")
def test_plain():
    pass
""")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*does not take the `engine` fixture*"])


def test_marks_are_registered_and_params_come_from_the_registry(pytestconfig):
    from tests.support.engines import engine_params
    from workbench.engines.base import available_engines

    lines = pytestconfig.getini("markers")
    for name in ENGINE_MARKS:
        assert any(line.startswith(f"{name}(") or line.startswith(f"{name}:") for line in lines)
    assert [p.values[0] for p in engine_params()] == available_engines()
    marks = {p.values[0]: {m.name for m in p.marks} for p in engine_params()}
    assert "spark" in marks["spark"] and "services" in marks["postgres"]

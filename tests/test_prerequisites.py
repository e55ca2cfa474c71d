"""The suite's one missing-prerequisite rule (tests/support/prerequisites.py): skip on a laptop,
fail on CI, with one reading of ``CI`` that no other test file repeats."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.prerequisites import on_ci, require_module, require_service, skip_or_fail

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("1", True),
        ("yes", True),
        ("TRUE", True),
        (" True\n", True),
        ("", False),
        ("0", False),
        ("false", False),
        ("no", False),
        ("anything", False),
    ],
)
def test_one_reading_of_ci(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)
    assert on_ci() is expected


def test_unset_ci_is_a_laptop(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert on_ci() is False


def test_skip_on_a_laptop_fail_on_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no frobnicator"):
        skip_or_fail("no frobnicator")
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match=r"no frobnicator \(CI=true"):
        skip_or_fail("no frobnicator")


def test_require_module_and_service(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert require_module("json").dumps([1]) == "[1]"
    with pytest.raises(pytest.skip.Exception, match="no_such_module_xyz is not importable"):
        require_module("no_such_module_xyz")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]  # closed again before the check: nothing listens there
    monkeypatch.setenv("CI", "yes")
    with pytest.raises(
        pytest.fail.Exception, match=f"Nothing is not reachable on 127.0.0.1:{free}"
    ):
        require_service("Nothing", "127.0.0.1", free)


@pytest.mark.parametrize(("ci", "outcome"), [("", "1 skipped"), ("true", "1 error")])
def test_a_missing_module_at_import_time_skips_or_fails_the_module(tmp_path, ci, outcome):
    """As `pytest.importorskip` at module level, but a collection error when CI is set."""
    (tmp_path / "test_needs_it.py").write_text(
        textwrap.dedent("""
        from tests.support.prerequisites import require_module

        require_module("no_such_module_xyz")

        def test_never_runs():
            raise AssertionError("ran without its prerequisite")
    """)
    )
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_needs_it.py"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CI": ci},
    )
    assert outcome in run.stdout, run.stdout + run.stderr


def test_no_other_test_file_reads_ci_itself():
    """Every test goes through the helper: a second reading of ``CI`` is how three helpers came
    to disagree on what it means."""
    reads = re.compile(r"""(environ(\.get)?\s*[\[(]\s*|getenv\s*\(\s*)["']CI["']""")
    helper = ROOT / "tests" / "support" / "prerequisites.py"
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sorted((ROOT / "tests").rglob("*.py"))
        if p != helper
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if reads.search(line)
    ]
    assert offenders == []


def test_no_test_skips_on_a_missing_import_by_itself():
    """`pytest.importorskip` would skip on CI too; `require_module` is the rule's version."""
    offenders = [
        str(p.relative_to(ROOT))
        for p in sorted((ROOT / "tests").rglob("*.py"))
        if p.name != Path(__file__).name and "importorskip(" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []

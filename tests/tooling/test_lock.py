"""The constraints lock (constraints.txt) agrees with pyproject.toml, and its age check works.

A dependency added to pyproject.toml without `make lock` would install unpinned; a range
tightened in pyproject.toml (e.g. duckdb<2) without re-locking would make `pip install -c` fail.
Both are caught here rather than on someone's fresh clone.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "constraints.txt"
SCRIPT = ROOT / "scripts" / "check_lock_age.py"
LOCKED_EXTRAS = ("all", "test")  # what `make test` installs; nlq is deliberately not locked


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not an exact name==version pin"
            pins[canonicalize_name(name)] = version
    return pins


def _direct_requirements() -> list[Requirement]:
    """pyproject's base dependencies plus LOCKED_EXTRAS, following workbench[...] self-references."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    todo, seen = list(LOCKED_EXTRAS), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in extras[extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == canonicalize_name(project["name"]):
                todo.extend(req.extras)
            else:
                reqs.append(req)
    assert "nlq" not in seen, "nlq is not locked (it needs torch from a file on disk)"
    return reqs


def test_every_direct_dependency_is_pinned_within_its_range():
    pins = _pins()
    for req in _direct_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, (
            f"{req.name} is in pyproject.toml but not in constraints.txt: run make lock"
        )
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {req.name}=={pins[name]}, outside pyproject's {req}: run make lock"
        )


def test_lock_has_no_torch_and_no_project_itself():
    pins = _pins()
    assert "torch" not in pins
    assert "workbench" not in pins


def _age(lock: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(lock), *args], capture_output=True, text=True, timeout=60
    )


def _lock_file(tmp_path: Path, header: str) -> Path:
    path = tmp_path / "constraints.txt"
    path.write_text(header + "duckdb==1.5.6\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("today", "warns"),
    [
        ("2026-03-31", False),  # 2026-01-01 + 89 days
        ("2026-04-01", False),  # exactly 90 days: not yet older than 90
        ("2026-04-02", True),  # 91 days
    ],
)
def test_age_warning_starts_after_ninety_days(tmp_path, today, warns):
    lock = _lock_file(tmp_path, "# pins\n# Locked: 2026-01-01\n")
    result = _age(lock, "--today", today)
    assert result.returncode == 0, result.stderr
    assert ("WARNING" in result.stderr) is warns, result.stderr
    if warns:
        assert "2026-01-01" in result.stderr and "91 days" in result.stderr


def test_age_uses_the_header_date_not_the_file_mtime(tmp_path):
    lock = _lock_file(tmp_path, "# Locked: 2020-01-01\n")  # mtime is now, the header is old
    result = _age(lock)
    assert result.returncode == 0
    assert "locked on 2020-01-01" in result.stderr


def test_age_limit_is_configurable(tmp_path):
    lock = _lock_file(tmp_path, "# Locked: 2026-01-01\n")
    assert "WARNING" in _age(lock, "--today", "2026-01-12", "--max-days", "10").stderr
    assert "WARNING" not in _age(lock, "--today", "2026-01-11", "--max-days", "10").stderr


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("# no date here\n", "no '# Locked: YYYY-MM-DD' line"),
        (
            "# pins\n# Locked: 02/12/2026\n",
            "constraints.txt:2: 'Locked:' date '02/12/2026' is not YYYY-MM-DD",
        ),
    ],
)
def test_missing_or_bad_date_is_a_clear_error(tmp_path, header, message):
    result = _age(_lock_file(tmp_path, header))
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_lock_is_a_clear_error(tmp_path):
    result = _age(tmp_path / "absent.txt")
    assert result.returncode == 1
    assert "cannot read" in result.stderr and "absent.txt" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_committed_lock_has_a_readable_date():
    result = _age(LOCK, "--max-days", "100000")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_help():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and "--max-days" in result.stdout

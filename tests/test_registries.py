"""A Datasette-style meta-test over every extension point's registry.

Every registered class (built-in or installed plugin):
- has a docstring of its own;
- documents its settings: every pydantic field of its ``Params`` / ``Options`` (or, for an
  engine, of the workbench.yml section it reads) has a ``description``;
- has a test: its class name, or its registered name as a string literal, appears in a test
  file other than this one. This is a proxy (a mention, not proof of coverage), but it fails
  the moment a class is added with no test touching it;
- has an entry in the docs: docs/plugins.md or its area's guide names it (class name, or the
  registered name in backticks).
"""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.support.registries import REGISTRIES, registry

ROOT = Path(__file__).resolve().parents[1]
AREA_DOCS = {
    "engines": ["docs/plugins.md", "docs/getting-started.md", "docs/semantic-models.md"],
    "sources": ["docs/plugins.md", "docs/streaming.md"],
    "detectors": ["docs/plugins.md", "docs/anomaly.md"],
    "notifiers": ["docs/plugins.md", "docs/anomaly.md"],
    "charts": ["docs/plugins.md", "docs/apps.md", "docs/dashboard.md"],
}
TEST_TEXT = "\n".join(
    p.read_text(encoding="utf-8")
    for p in sorted((ROOT / "tests").rglob("*.py"))
    if p.name != Path(__file__).name
)


def registered() -> list[tuple[str, str, type]]:
    return [
        (area, name, cls) for area in REGISTRIES for name, cls in registry(area).classes().items()
    ]


CASES = registered()
IDS = [f"{area}:{name}" for area, name, _ in CASES]


def settings_models(area: str, cls: type) -> list[type[BaseModel]]:
    if area == "engines":
        from workbench.config import Settings

        section = cls.settings_section
        return [Settings.model_fields[section].annotation] if section else []
    model = getattr(cls, "Options", None) or getattr(cls, "Params", None)
    return [model] if isinstance(model, type) and issubclass(model, BaseModel) else []


def test_every_extension_point_has_builtins_and_nothing_broken():
    for area in REGISTRIES:
        reg = registry(area)
        assert reg.classes(), f"{area}: nothing registered"
        assert reg.broken() == {}, f"{area}: plugins failed to load: {reg.broken()}"


@pytest.mark.parametrize(("area", "name", "cls"), CASES, ids=IDS)
def test_has_a_docstring_of_its_own(area, name, cls):
    assert (cls.__dict__.get("__doc__") or "").strip(), (
        f"{area} {name!r} ({cls.__qualname__}) has no docstring"
    )


@pytest.mark.parametrize(("area", "name", "cls"), CASES, ids=IDS)
def test_settings_are_documented(area, name, cls):
    missing = [
        f"{m.__qualname__}.{f}"
        for m in settings_models(area, cls)
        for f, info in m.model_fields.items()
        if not info.description
    ]
    assert not missing, f"{area} {name!r}: fields without a description: {missing}"


@pytest.mark.parametrize(("area", "name", "cls"), CASES, ids=IDS)
def test_has_a_test(area, name, cls):
    named = re.search(rf"\b{re.escape(cls.__name__)}\b", TEST_TEXT) or re.search(
        rf"""["']{re.escape(name)}["']|kind:\s*{re.escape(name)}\b""", TEST_TEXT
    )
    assert named, f"{area} {name!r} ({cls.__name__}) is not mentioned by any test"


@pytest.mark.parametrize(("area", "name", "cls"), CASES, ids=IDS)
def test_is_in_the_docs(area, name, cls):
    docs = [ROOT / d for d in AREA_DOCS[area]]
    text = "\n".join(d.read_text(encoding="utf-8") for d in docs if d.exists())
    assert f"`{name}`" in text or re.search(rf"\b{re.escape(cls.__name__)}\b", text), (
        f"{area} {name!r} is in none of {AREA_DOCS[area]}"
    )


def test_the_meta_test_sees_every_entry_point_in_pyproject():
    """The walk above covers what pyproject.toml declares (a class left out of it is not a
    built-in, whatever its module says)."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    for area in REGISTRIES:
        reg = registry(area)
        assert set(declared[reg.group]) <= {n for a, n, _ in CASES if a == area}, reg.group


def test_registered_classes_are_the_extension_point_subclasses():
    for area, name, cls in CASES:
        assert inspect.isclass(cls) and issubclass(cls, registry(area).base), (area, name)


def test_every_pydantic_field_in_the_package_has_a_description(tmp_path):
    """Not only the plugins' settings: every field of every pydantic model defined in workbench/
    (specs, settings, API bodies) says what it is.  The walk imports every module and follows
    BaseModel's subclasses (scripts/count_undocumented_fields.py), so a new model is covered
    without being listed anywhere; it runs in its own process, away from this session's state."""
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "count_undocumented_fields.py"), "-v", "--check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert "skipped" not in run.stderr, f"modules that did not import:\n{run.stderr}"
    total = re.search(r"(\d+) of (\d+) pydantic fields", run.stdout)
    assert total and int(total[2]) > 300, run.stdout + run.stderr  # the walk found the models
    assert run.returncode == 0, f"fields without a description:\n{run.stdout}"

"""The generic plugin `Registry`: registration, lookup with "did you mean", lazy entry points,
and a broken plugin that is logged, skipped, and explained when asked for by name."""

from __future__ import annotations

import logging

import pytest

import workbench.registry as plugin_registry
from workbench.registry import Registry, UnknownPlugin


class Base:
    name = ""


class Loaded(Base):
    """A class an entry point points at."""


class FakeEntryPoint:
    def __init__(self, name, target):
        self.name, self.value, self._target = name, f"fake.module:{name}", target

    def load(self):
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


@pytest.fixture
def fake_eps(monkeypatch):
    eps = [
        FakeEntryPoint("good", Loaded),
        FakeEntryPoint("broken", ImportError("no module named fakedep")),
    ]
    monkeypatch.setattr(
        plugin_registry, "entry_points", lambda group: eps if group == "test.group" else []
    )
    return eps


def test_register_forms_and_lookup():
    reg: Registry[Base] = Registry("widget", "test.none", Base)

    @reg.register("alpha")
    class A(Base):
        pass

    @reg.register
    class B(Base):
        name = "beta"

    class C(Base):
        name = "gamma"

    reg.register(C)
    assert reg.names() == ["alpha", "beta", "gamma"]
    assert reg.get("alpha") is A and A.name == "alpha" and reg.get("beta") is B
    assert "gamma" in reg and "delta" not in reg


def test_unknown_name_has_one_error_type_with_a_suggestion():
    reg: Registry[Base] = Registry("widget", "test.none", Base)
    reg.register("robust_zscore")(type("R", (Base,), {}))
    with pytest.raises(UnknownPlugin) as e:
        reg.get("robust_zscor")
    assert "unknown widget 'robust_zscor'" in str(
        e.value
    ) and "Did you mean 'robust_zscore'?" in str(e.value)
    assert isinstance(e.value, KeyError) and e.value.names == ["robust_zscore"]
    with pytest.raises(UnknownPlugin) as e:
        reg.get("zzz")
    assert "Did you mean" not in str(e.value)


def test_wrong_base_taken_name_and_mismatched_name_are_refused():
    reg: Registry[Base] = Registry("widget", "test.none", Base)
    with pytest.raises(TypeError):
        reg.register("x")(int)
    reg.register("one")(type("One", (Base,), {}))
    with pytest.raises(ValueError, match="already taken"):
        reg.register("one")(type("Other", (Base,), {}))
    with pytest.raises(ValueError, match="registered as"):
        reg.register("two")(type("Named", (Base,), {"name": "three"}))
    with pytest.raises(ValueError, match="has no name"):
        reg.register(type("Nameless", (Base,), {}))


def test_entry_points_load_lazily_and_a_broken_one_is_logged_not_fatal(fake_eps, caplog):
    reg: Registry[Base] = Registry("widget", "test.group", Base)
    assert reg.names() == ["broken", "good"]  # listed without importing anything
    assert "good" not in reg._classes
    with caplog.at_level(logging.WARNING, logger="workbench.registry"):
        assert reg.classes() == {"good": Loaded}  # the broken plugin is skipped ...
    assert "broken" in caplog.text and "fakedep" in caplog.text  # ... and logged
    assert reg.names() == ["good"]
    with pytest.raises(UnknownPlugin) as e:  # asked for by name: which and why
        reg.get("broken")
    assert "could not be loaded" in str(e.value) and "fake.module:broken" in str(e.value)
    assert "ImportError: no module named fakedep" in str(e.value)
    assert Loaded.name == "good"


def test_snapshot_and_restore():
    reg: Registry[Base] = Registry("widget", "test.none", Base)
    state = reg.snapshot()
    reg.register("temp")(type("Temp", (Base,), {}))
    reg.restore(state)
    assert reg.names() == []


def test_area_errors_keep_their_family():
    class UnknownWidget(UnknownPlugin, ValueError):
        pass

    reg: Registry[Base] = Registry("widget", "test.none", Base, error=UnknownWidget)
    with pytest.raises(ValueError):
        reg.get("nope")


def test_no_entry_points_at_all_says_the_package_metadata_is_missing():
    reg: Registry[Base] = Registry("widget", "test.none", Base)
    with pytest.raises(
        UnknownPlugin, match=r"no test.none entry points are installed \(run `pip install -e \.`"
    ):
        reg.get("anything")

"""workbench.quality.schema and workbench.quality.cleansing name their public API in the
package (imported on first use): every listed name resolves to the object of the submodule that
defines it, the documented imports work, and an unknown name is refused by name."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["workbench.quality.schema", "workbench.quality.cleansing"]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_exported_name_is_defined_in_the_package(package):
    pkg = importlib.import_module(package)
    assert pkg.__all__, package
    for name in pkg.__all__:
        obj = getattr(pkg, name)
        assert obj.__module__.startswith(f"{package}."), f"{package}.{name} from {obj.__module__}"
        assert getattr(importlib.import_module(obj.__module__), name) is obj, f"{package}.{name}"


@pytest.mark.parametrize("package", PACKAGES)
def test_unknown_name_is_refused(package):
    pkg = importlib.import_module(package)
    with pytest.raises(AttributeError, match=f"{package}' has no attribute 'schema_of_nothing'"):
        pkg.schema_of_nothing


def test_documented_imports():
    from workbench.quality.cleansing import apply_rules, load_rules
    from workbench.quality.cleansing.apply import apply_rules as apply_rules_of_module
    from workbench.quality.schema import SchemaRegistry, load_batch, proposals
    from workbench.quality.schema.gate import load_batch as load_batch_of_module

    assert apply_rules is apply_rules_of_module and load_batch is load_batch_of_module
    assert (
        callable(load_rules)
        and callable(proposals.apply)
        and SchemaRegistry.__name__ == "SchemaRegistry"
    )

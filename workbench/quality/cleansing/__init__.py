"""Cleansing: rules as YAML (``pipelines/cleansing/<table>.yml``), their approval workflow, and
applying the active ones to a table, with every change recorded in the lineage.

    from workbench.quality.cleansing import apply_rules, load_rules
    result = apply_rules(con, load_rules("pipelines/cleansing/customers.yml"), principal=me)

:mod:`.rules` (the typed rule specs), :mod:`.approval` (proposed -> approved -> active ->
retired, with the approver roles), :mod:`.apply` (one run: source table -> cleansed table +
lineage). Names are imported on first use, like :mod:`workbench.quality`.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "apply_rules": "apply",
    "rules_to_apply": "apply",
    "RunResult": "apply",
    "CleansingError": "apply",
    "load_rules": "rules",
    "load_rules_dir": "rules",
    "RuleSet": "rules",
    "ApprovalError": "approval",
    "RoleRequiredError": "approval",
    "ApprovalNotFound": "approval",
    "ApprovalStateError": "approval",
    "require_role": "approval",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.quality.cleansing' has no attribute '{name}'")

"""Schema evolution: the registry of table versions (YAML under ``pipelines/schemas/``), what
changed and how compatible it is, the gate of a pipeline stage, and proposals awaiting approval.

    from workbench.quality.schema import SchemaRegistry, check, load_batch, schema_of_table

:mod:`.registry` (versions as files, a table's schema), :mod:`.evolution` (changes,
compatibility, migration SQL), :mod:`.gate` (check and load a batch), :mod:`.proposals`
(approve and apply a migration). Names are imported on first use, like :mod:`workbench.quality`.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "SchemaRegistry": "registry",
    "SchemaVersion": "registry",
    "ColumnSpec": "registry",
    "RegistryError": "registry",
    "load_version": "registry",
    "canonical_type": "registry",
    "schema_of_table": "registry",
    "schema_of_frame": "registry",
    "Change": "evolution",
    "SchemaDiff": "evolution",
    "detect_changes": "evolution",
    "migration_sql": "evolution",
    "widens": "evolution",
    "SchemaDriftError": "gate",
    "LoadReport": "gate",
    "check": "gate",
    "load_batch": "gate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'workbench.quality.schema' has no attribute '{name}'")

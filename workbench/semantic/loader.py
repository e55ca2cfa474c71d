"""Load semantic/*.yml into typed specs, reporting every problem with its file and line.

The YAML reading itself (lines, pydantic errors with their field) is workbench.specfile's, shared
with every other spec reader; this module adds what is particular to semantic models.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..specfile import SourceMap, plain, read_yaml, validate_spec
from .errors import ModelError
from .spec import LoadedNamespace, NamespaceSpec
from .validate import validate_namespace

# Re-exported: callers that loaded these from here before they moved keep working.
__all__ = [
    "LoadedNamespace",
    "SourceMap",
    "load_dir",
    "load_file",
    "plain",
    "read_yaml",
    "validate_spec",
]


def load_file(path: str | Path) -> LoadedNamespace:
    path = Path(path)
    root, src = read_yaml(path, "a mapping with a 'models' list")
    spec = validate_spec(NamespaceSpec, plain(root), src)
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    ns = LoadedNamespace(path.stem, spec, src, path, version, path.stat().st_mtime)
    validate_namespace(ns)
    return ns


def load_dir(directory: str | Path) -> dict[str, LoadedNamespace]:
    out: dict[str, LoadedNamespace] = {}
    for path in sorted(Path(directory).glob("*.yml")) + sorted(Path(directory).glob("*.yaml")):
        ns = load_file(path)
        if ns.name in out:
            raise ModelError(
                f"duplicate namespace '{ns.name}' (also {out[ns.name].path})", str(path), 1
            )
        out[ns.name] = ns
    return out

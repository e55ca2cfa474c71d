"""Load semantic/*.yml into typed specs, reporting every problem with its file and line.

ruamel.yaml keeps the line of every node, which PyYAML's safe loader throws away; that is why it
is used here rather than PyYAML.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .errors import ModelError
from .spec import NamespaceSpec


@dataclass
class SourceMap:
    """Finds the line of a node from its path (('models', 0, 'measures', 2, 'expr'))."""
    file: str
    root: Any

    def line(self, path: tuple) -> int | None:
        node, line = self.root, None
        for key in path:
            try:
                if isinstance(node, CommentedMap) and key in node:
                    line = node.lc.key(key)[0] + 1
                    node = node[key]
                elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                    line = node.lc.item(key)[0] + 1
                    node = node[key]
                else:
                    break
            except (AttributeError, KeyError, IndexError, TypeError):
                break
        if line is None and hasattr(self.root, "lc"):
            line = self.root.lc.line + 1
        return line

    def error(self, problem: str, path: tuple = ()) -> ModelError:
        fieldname = ".".join(str(p) for p in path) if path else None
        return ModelError(problem, self.file, self.line(path), self._named(path) or fieldname)

    def _named(self, path: tuple) -> str | None:
        """Readable field path using member names: models[orders].measures[revenue].expr."""
        node, parts = self.root, []
        for key in path:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return None
            if isinstance(key, int):
                name = node.get("name") if isinstance(node, dict) else None
                parts[-1] = f"{parts[-1]}[{name if name else key}]" if parts else str(key)
            else:
                parts.append(str(key))
        return ".".join(parts) if parts else None


@dataclass
class LoadedNamespace:
    name: str
    spec: NamespaceSpec
    source: SourceMap
    path: Path
    version: str                     # content hash: part of every cache key
    mtime: float = 0.0
    extra: dict = field(default_factory=dict)


def plain(node: Any) -> Any:
    """ruamel's commented nodes as plain dicts and lists."""
    return _plain(node)


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


def read_yaml(path: str | Path, shape: str) -> tuple[Any, SourceMap]:
    """Read a YAML spec keeping every node's line. `shape` says what the file must be, for the
    message when it is not a mapping ("a mapping with 'models'")."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    try:
        root = YAML(typ="rt").load(text)
    except MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise ModelError(f"invalid YAML: {e.problem}", str(path), line) from None
    if not isinstance(root, dict):
        raise ModelError(f"this file must be {shape}", str(path), 1)
    return root, SourceMap(str(path), root)


def validate_spec(model: type, data: dict, src: SourceMap):
    """pydantic validation whose first error names the file, line and field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic puts union/literal branch names in loc; keep the path that exists in the file
        clean = tuple(p for p in loc if isinstance(p, int) or p in _keys_on_path(src.root, loc))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'"
        elif err["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'"
        raise src.error(msg, clean) from None


def load_file(path: str | Path) -> LoadedNamespace:
    path = Path(path)
    root, src = read_yaml(path, "a mapping with a 'models' list")
    spec = validate_spec(NamespaceSpec, _plain(root), src)
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    ns = LoadedNamespace(path.stem, spec, src, path, version, path.stat().st_mtime)
    from .validate import validate_namespace   # local import: validate uses this module's types
    validate_namespace(ns)
    return ns


def _keys_on_path(root: Any, loc: tuple) -> set:
    keys, node = set(), root
    for p in loc:
        try:
            if isinstance(node, dict):
                keys.update(node.keys())
            node = node[p]
        except (KeyError, IndexError, TypeError):
            if isinstance(node, dict):
                keys.update(node.keys())
            continue
    return keys


def load_dir(directory: str | Path) -> dict[str, LoadedNamespace]:
    out: dict[str, LoadedNamespace] = {}
    for path in sorted(Path(directory).glob("*.yml")) + sorted(Path(directory).glob("*.yaml")):
        ns = load_file(path)
        if ns.name in out:
            raise ModelError(f"duplicate namespace '{ns.name}' (also {out[ns.name].path})", str(path), 1)
        out[ns.name] = ns
    return out

"""Reading YAML spec files with line-accurate errors, shared by every spec reader (semantic
models, expectation suites, schema versions, cleansing rules, pipelines, alert rules).

ruamel.yaml keeps the line of every node, which PyYAML's safe loader throws away; that is why it
is used here rather than PyYAML. Every error is a :class:`~workbench.errors.SpecError` naming
the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from .errors import SpecError

__all__ = ["SourceMap", "keys_on_path", "plain", "read_yaml", "validate_spec"]


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

    def error(self, problem: str, path: tuple = ()) -> SpecError:
        fieldname = ".".join(str(p) for p in path) if path else None
        return SpecError(problem, self.file, self.line(path), self._named(path) or fieldname)

    def _named(self, path: tuple) -> str | None:
        """Readable field path using member names: models[orders].measures[revenue].expr."""
        node = self.root
        parts: list[str] = []
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


def plain(node: Any) -> Any:
    """ruamel's commented nodes as plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
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
        raise SpecError(f"invalid YAML: {e.problem}", str(path), line) from None
    if not isinstance(root, dict):
        raise SpecError(f"this file must be {shape}", str(path), 1)
    return root, SourceMap(str(path), root)


def validate_spec(model: type[BaseModel], data: dict, src: SourceMap):
    """pydantic validation whose first error names the file, line and field."""
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # pydantic puts union/literal branch names in loc; keep the path that exists in the file
        clean = tuple(p for p in loc if isinstance(p, int) or p in keys_on_path(src.root, loc))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'"
        elif err["type"] == "missing":
            msg = f"missing required field '{loc[-1]}'"
        raise src.error(msg, clean) from None


def keys_on_path(root: Any, loc: tuple) -> set:
    """Every mapping key met walking `loc` from `root`: which parts of a pydantic error location
    are real keys in the file (the rest are union branch names)."""
    keys: set = set()
    node = root
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

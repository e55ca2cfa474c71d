"""Count pydantic fields in the workbench package that have no `description`.

    .venv/bin/python scripts/count_undocumented_fields.py [-v] [--check]

Imports every workbench module (modules whose optional dependency is missing are reported and
skipped), collects the BaseModel subclasses defined there, and counts each field once, in the
class that declares it (inherited fields are not counted again).  `-v` lists them; `--check`
exits 1 when any field has no description (tests/test_registries.py runs it so)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

from pydantic import BaseModel


def main(verbose: bool = False, check: bool = False) -> int:
    import workbench

    skipped = []
    for mod in pkgutil.walk_packages(workbench.__path__, "workbench."):
        if mod.name.endswith(".__main__"):  # a `python -m` entry runs its command on import
            continue
        try:
            importlib.import_module(mod.name)
        except Exception as e:  # noqa: BLE001  an optional dependency: say so, carry on
            skipped.append(f"{mod.name}: {type(e).__name__}: {e}")
    seen, total, missing = set(), 0, []
    stack = list(BaseModel.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls in seen or not cls.__module__.startswith("workbench."):
            continue
        seen.add(cls)
        own = cls.__dict__.get("__annotations__", {})
        for name, info in cls.model_fields.items():
            if name in own:
                total += 1
                if not info.description:
                    missing.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    if verbose:
        print("\n".join(sorted(missing)))
    print(f"{len(missing)} of {total} pydantic fields have no description")
    return 1 if check and missing else 0


if __name__ == "__main__":
    sys.exit(main("-v" in sys.argv, "--check" in sys.argv))

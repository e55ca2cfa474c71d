"""Streaming: change events from PostgreSQL, brokers or the embedded store, applied to bronze,
silver and gold in one DuckDB transaction per micro-batch. See docs/streaming.md."""

from __future__ import annotations

from pathlib import Path

from .events import RawEvent, envelope
from .runner import Pipeline
from .sources.base import Source, SourceOptions, get_source_class, register_source, source_kinds
from .spec import PipelineSpec, load_spec, parse_spec

__all__ = [
    "Pipeline",
    "PipelineSpec",
    "RawEvent",
    "Source",
    "SourceOptions",
    "envelope",
    "get_source_class",
    "list_pipelines",
    "load_pipeline",
    "pipeline_from_dict",
    "register_source",
    "source_kinds",
]


def _root(root) -> Path:
    from ..config import project_root

    return Path(root).resolve() if root else project_root()


def _resolve(name_or_path: str | Path, root: Path) -> Path:
    p = Path(name_or_path)
    if p.suffix in (".yml", ".yaml") or p.exists():
        return p if p.is_absolute() or p.exists() else root / p
    for ext in (".yml", ".yaml"):
        cand = root / "pipelines" / f"{name_or_path}{ext}"
        if cand.exists():
            return cand
    known = ", ".join(d["name"] for d in list_pipelines(root)) or "none"
    raise FileNotFoundError(
        f"no pipeline '{name_or_path}' in {root / 'pipelines'} (known: {known})"
    )


def _warehouse(spec: PipelineSpec, warehouse, root: Path) -> Path:
    from ..config import load_settings

    if warehouse:
        return Path(warehouse)
    settings = load_settings(root)
    w = Path(spec.warehouse) if spec.warehouse else settings.path(settings.warehouse)
    return w if w.is_absolute() else root / w


def load_pipeline(
    name_or_path: str | Path,
    warehouse: str | Path | None = None,
    root: str | Path | None = None,
    **source_overrides,
) -> Pipeline:
    """`pipelines/<name>.yml` (or a path) bound to a warehouse (default: the workbench setting)."""
    r = _root(root)
    path = _resolve(name_or_path, r)
    spec, _ = load_spec(path)
    if source_overrides:
        spec = spec.model_copy(
            update={
                "source": spec.source.model_validate(
                    {**spec.source.model_dump(), **source_overrides}
                )
            }
        )
    return Pipeline(path.stem, spec, _warehouse(spec, warehouse, r), root=r, spec_path=str(path))


def pipeline_from_dict(
    name: str, data: dict, warehouse: str | Path, root: str | Path | None = None
) -> Pipeline:
    """A pipeline from a spec given as a dict (tests, notebooks)."""
    spec = parse_spec(data, f"<{name}>")
    return Pipeline(name, spec, Path(warehouse), root=_root(root))


def list_pipelines(root: str | Path | None = None) -> list[dict]:
    r = _root(root)
    out = []
    for p in sorted((r / "pipelines").glob("*.y*ml")):
        try:
            spec, _ = load_spec(p)
            out.append(
                {
                    "name": p.stem,
                    "title": spec.title,
                    "source": spec.source.kind,
                    "path": str(p),
                    "description": spec.description,
                    "error": None,
                }
            )
        except Exception as e:
            out.append(
                {
                    "name": p.stem,
                    "title": None,
                    "source": None,
                    "path": str(p),
                    "description": None,
                    "error": str(e),
                }
            )
    return out

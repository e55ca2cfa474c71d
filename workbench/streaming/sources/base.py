"""The `Source` extension point: one base class, a registry keyed by kind, entry points.

Built-in sources register themselves with `@register_source`; third parties add theirs with the
`workbench.sources` entry-point group (`kind = "package.module:Class"`).
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ..events import RawEvent

_REGISTRY: dict[str, type[Source]] = {}


class SourceOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Source:
    """Reads change events. All methods are called from one thread (the pipeline's reader).

    Contract:
    - `open(after)`: resume strictly after position `after` ((hi, lo) or None for the beginning;
      a source with a snapshot takes it when `after` is None).
    - `poll(max_events, timeout)`: up to about `max_events` events (`RawEvent`s, or plain
      `(hi, lo, position, payload)` tuples, which cost less per event) in source commit order; a
      source may return more to keep a transaction whole (the runner never splits a poll's result
      across warehouse commits). Return [] when nothing arrived within `timeout` seconds.
    - `commit(position)`: the warehouse has durably committed everything up to `position`; the
      source may acknowledge it upstream (advance a slot, store an offset, prune an outbox).
    - `lag()`: events not yet read, or None when the source cannot tell.
    """

    kind: ClassVar[str] = ""
    Options: ClassVar[type[SourceOptions]] = SourceOptions
    #: False when poll() must not run ahead of commit() (the runner then waits for each commit).
    read_ahead: ClassVar[bool] = True

    def __init__(self, options: SourceOptions, pipeline: str, tables: dict, root=None):
        self.options, self.pipeline, self.tables, self.root = options, pipeline, tables, root

    def open(self, after: tuple[int, int] | None) -> None:
        raise NotImplementedError

    def poll(self, max_events: int, timeout: float) -> list[RawEvent]:
        raise NotImplementedError

    def commit(self, position: tuple[int, int]) -> None:
        pass

    def lag(self) -> int | None:
        return None

    def close(self) -> None:
        pass

    @classmethod
    def parse_options(cls, raw: dict) -> SourceOptions:
        return cls.Options.model_validate(raw)


def register_source(cls: type[Source]) -> type[Source]:
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no kind")
    _REGISTRY[cls.kind] = cls
    return cls


def _load_builtins() -> None:
    from . import embedded, postgres, rabbitmq, redis_streams  # noqa: F401  (register themselves)


def get_source_class(kind: str) -> type[Source]:
    _load_builtins()
    if kind not in _REGISTRY:
        for ep in entry_points(group="workbench.sources"):
            if ep.name == kind:
                cls = ep.load()
                _REGISTRY.setdefault(kind, cls)
    if kind not in _REGISTRY:
        raise KeyError(f"unknown source kind '{kind}' (known: {', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[kind]


def source_kinds() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


__all__ = ["Source", "SourceOptions", "register_source", "get_source_class", "source_kinds",
           "ValidationError"]

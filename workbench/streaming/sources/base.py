"""The `Source` extension point: one base class, a registry keyed by kind, entry points.

Built-in sources are declared in pyproject.toml's `workbench.sources` entry-point group
(`kind = "package.module:Class"`), exactly as a third party declares its own; each is imported
on first use, so this module imports none of them.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from ...registry import Registry
from ..events import RawEvent


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
    # Each subclass re-declares ``options: Options`` (its own model) so its fields type-check.
    options: SourceOptions
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


SOURCES: Registry[Source] = Registry("source kind", "workbench.sources", Source, attr="kind")

#: ``@register_source`` on a ``Source`` subclass with a ``kind`` (tests and notebooks; a package
#: declares a ``workbench.sources`` entry point instead).
register_source = SOURCES.register


def get_source_class(kind: str) -> type[Source]:
    return SOURCES.get(kind)


def source_kinds() -> list[str]:
    return SOURCES.names()


__all__ = [
    "Source",
    "SourceOptions",
    "register_source",
    "get_source_class",
    "source_kinds",
    "ValidationError",
]

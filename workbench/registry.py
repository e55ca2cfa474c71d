"""One plugin mechanism for every extension point (engines, sources, detectors, notifiers, charts).

A `Registry` maps a short name to a class. Built-ins and third-party plugins are found the same
way, through an entry-point group in package metadata (as Ibis finds its backends), and loaded
only when first asked for, so naming the Spark engine does not import PySpark for DuckDB users.
Tests and notebooks may also `register` a class directly.

A plugin that fails to import is logged and skipped: it must not take the built-ins down. When
it is asked for by name, the error says which entry point failed and why.

Hand-written because `importlib.metadata` only lists entry points; it has no registry, no lazy
loading, no "did you mean" and no record of why a plugin failed.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar, overload

log = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C", bound=type)


class UnknownPlugin(KeyError):
    """No class of this kind is registered under the name (or its plugin failed to load)."""

    def __init__(self, message: str, name: str = "", names: list[str] | None = None):
        super().__init__(message)
        self.message, self.name, self.names = message, name, names or []

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return self.message


class Registry(Generic[T]):
    """Short name -> class for one extension point.

    `what` names the kind in messages ("engine", "source kind"); `attr` is the class attribute
    that carries the name (set on registration when the class leaves it empty); `error` is the
    `UnknownPlugin` subclass `get` raises, so an area can keep its own error family."""

    def __init__(
        self,
        what: str,
        group: str,
        base: type,
        *,
        attr: str = "name",
        error: type[UnknownPlugin] = UnknownPlugin,
    ):
        self.what, self.group, self.attr, self.error = what, group, attr, error
        self.base: Any = base
        self._classes: dict[str, type[T]] = {}
        self._pending: dict[str, EntryPoint] | None = None  # entry points not loaded yet
        self._broken: dict[str, str] = {}  # name -> why it failed to load
        self._lock = threading.RLock()

    # registration ------------------------------------------------------------------------
    @overload
    def register(self, name_or_cls: str | None = None) -> Callable[[C], C]: ...
    @overload
    def register(self, name_or_cls: C) -> C: ...

    def register(self, name_or_cls: Any = None) -> Any:
        """`register(cls)`, `@register`, or `@register("name")`."""
        if isinstance(name_or_cls, type):
            return self._add(getattr(name_or_cls, self.attr, "") or "", name_or_cls)

        def deco(cls: C) -> C:
            return self._add(name_or_cls or getattr(cls, self.attr, "") or "", cls)

        return deco

    def _add(self, name: str, cls: Any) -> Any:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"{cls!r} is not a {self.base.__name__} subclass")
        if not name:
            raise ValueError(f"{cls.__name__} has no {self.attr}")
        current = cls.__dict__.get(self.attr, "")  # inherited names do not count
        if current and current != name:
            raise ValueError(
                f"{cls.__qualname__} has {self.attr} {current!r} but is registered as {name!r}"
            )
        with self._lock:
            existing = self._classes.get(name)
            if existing is not None and existing is not cls:
                raise ValueError(
                    f"{self.what} name {name!r} already taken by {existing.__qualname__}"
                )
            setattr(cls, self.attr, name)
            self._classes[name] = cls
            self._broken.pop(name, None)
        return cls

    # entry points ------------------------------------------------------------------------
    def _entry_points(self) -> dict[str, EntryPoint]:
        with self._lock:
            if self._pending is None:
                self._pending = {ep.name: ep for ep in entry_points(group=self.group)}
            return self._pending

    def reload(self) -> None:
        """Read the entry points again (after installing a plugin in a running process)."""
        with self._lock:
            self._pending = None
            self._broken.clear()

    def _load(self, name: str) -> type[T] | None:
        with self._lock:
            if name in self._classes:
                return self._classes[name]
            ep = self._entry_points().get(name)
            if ep is None or name in self._broken:
                return None
            try:
                return self._add(name, ep.load())
            except Exception as e:  # a broken plugin is logged, never fatal to the others
                self._broken[name] = f"{ep.name} = {ep.value}: {type(e).__name__}: {e}"
                log.warning(
                    "could not load %s plugin %s", self.what, self._broken[name], exc_info=True
                )
                return None

    # lookup ------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every name known, loaded or not (loading would import every plugin)."""
        with self._lock:
            return sorted((set(self._classes) | set(self._entry_points())) - set(self._broken))

    def get(self, name: str) -> type[T]:
        cls = self._load(name)
        if cls is not None:
            return cls
        names = self.names()
        if name in self._broken:
            raise self.error(
                f"{self.what} {name!r} could not be loaded ({self._broken[name]})", name, names
            )
        if not names:  # even the built-ins are entry points: the package metadata is missing
            raise self.error(
                f"unknown {self.what} {name!r}: no {self.group} entry points are "
                "installed (run `pip install -e .` in the workbench checkout)",
                name,
                names,
            )
        hint = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        raise self.error(
            f"unknown {self.what} {name!r}; available: {', '.join(names)}"
            + (f". Did you mean {hint[0]!r}?" if hint else ""),
            name,
            names,
        )

    def classes(self) -> dict[str, type[T]]:
        """Every loadable class, by name (imports every plugin; broken ones are skipped)."""
        for name in list(self._entry_points()):
            self._load(name)
        with self._lock:
            return dict(sorted(self._classes.items()))

    def broken(self) -> dict[str, str]:
        """Plugins that failed to load, with why."""
        with self._lock:
            return dict(self._broken)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    # tests -------------------------------------------------------------------------------
    def snapshot(self) -> tuple:
        """The registry's state, for `restore` (tests that register classes use both)."""
        with self._lock:
            return (
                dict(self._classes),
                None if self._pending is None else dict(self._pending),
                dict(self._broken),
            )

    def restore(self, state: tuple) -> None:
        with self._lock:
            classes, pending, broken = state
            self._classes, self._pending, self._broken = dict(classes), pending, dict(broken)

    def __repr__(self) -> str:
        return f"<Registry {self.group}: {', '.join(self.names())}>"

"""The ``Notifier`` base class, the ``Notification`` it sends, and the notifier registry.

A notifier is one class: a nested pydantic ``Params`` (validated when a rule is loaded, so a
typo in a route is an error naming the rule file and field) and ``send(notification)``.
Built-ins register with ``@register``; third-party packages use the ``workbench.notifiers``
entry-point group, exactly like detectors.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from importlib.metadata import entry_points
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

ENTRY_POINT_GROUP = "workbench.notifiers"
log = logging.getLogger(__name__)


class NotifierParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Notification:
    """What every notifier receives: one incident event (opened, escalated, ...)."""

    incident_id: int
    event: str                       # opened | escalated | held_release | test
    title: str
    severity: str
    status: str
    summary: str                     # plain text, one paragraph per line
    rule: str | None = None
    anomalies: list[dict] = field(default_factory=list)
    insight: str | None = None
    sent_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lines = [f"[{self.severity.upper()}] {self.title}", "", self.summary]
        if self.insight:
            lines += ["", self.insight]
        lines += ["", f"Incident #{self.incident_id} ({self.status}); acknowledge with "
                      f"`workbench alerts ack {self.incident_id}`."]
        return "\n".join(lines)


class Notifier(ABC):
    name: ClassVar[str] = ""
    Params: ClassVar[type[NotifierParams]] = NotifierParams

    def __init__(self, params: NotifierParams | dict | None = None, **kw: Any):
        if params is None:
            params = self.Params(**kw)
        elif isinstance(params, dict):
            params = self.Params(**{**params, **kw})
        self.params = params

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver or raise (the dispatcher records the failure and carries on)."""


_REGISTRY: dict[str, type[Notifier]] = {}
_eps_loaded = False


def register(name: str):
    def deco(cls):
        if not (isinstance(cls, type) and issubclass(cls, Notifier)):
            raise TypeError(f"{cls!r} is not a Notifier subclass")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"notifier name {name!r} already taken by {_REGISTRY[name].__qualname__}")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return deco


def _load_entry_points() -> None:
    global _eps_loaded
    if _eps_loaded:
        return
    _eps_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _REGISTRY:
            continue
        try:
            register(ep.name)(ep.load())
        except Exception:  # a broken plugin must not take the built-ins down
            log.exception("could not load notifier entry point %s = %s", ep.name, ep.value)


def available() -> list[str]:
    _load_entry_points()
    return sorted(_REGISTRY)


def get_notifier_class(name: str) -> type[Notifier]:
    _load_entry_points()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown notifier {name!r}; available: {', '.join(sorted(_REGISTRY))}") from None


def create(name: str, **params: Any) -> Notifier:
    return get_notifier_class(name)(**params)

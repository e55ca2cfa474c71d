"""The ``Notifier`` base class, the ``Notification`` it sends, and the notifier registry.

A notifier is one class: a nested pydantic ``Params`` (validated when a rule is loaded, so a
typo in a route is an error naming the rule file and field) and ``send(notification)``.
Built-ins and third-party notifiers alike are ``workbench.notifiers`` entry points
(pyproject.toml), imported on first use, exactly like detectors.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from workbench.registry import Registry

ENTRY_POINT_GROUP = "workbench.notifiers"


class NotifierParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass
class Notification:
    """What every notifier receives: one incident event (opened, escalated, ...)."""

    incident_id: int
    event: str  # opened | escalated | held_release | test
    title: str
    severity: str
    status: str
    summary: str  # plain text, one paragraph per line
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
        lines += [
            "",
            f"Incident #{self.incident_id} ({self.status}); acknowledge with "
            f"`workbench alerts ack {self.incident_id}`.",
        ]
        return "\n".join(lines)


class Notifier(ABC):
    name: ClassVar[str] = ""
    Params: ClassVar[type[NotifierParams]] = NotifierParams
    # Each subclass re-declares ``params: Params`` (its own model) so its fields type-check.
    params: NotifierParams

    def __init__(self, params: NotifierParams | dict | None = None, **kw: Any):
        if params is None:
            params = self.Params(**kw)
        elif isinstance(params, dict):
            params = self.Params(**{**params, **kw})
        self.params = params

    @abstractmethod
    def send(self, notification: Notification) -> None:
        """Deliver or raise (the dispatcher records the failure and carries on)."""


NOTIFIERS: Registry[Notifier] = Registry("notifier", ENTRY_POINT_GROUP, Notifier)

#: ``@register("name")`` on a ``Notifier`` subclass (the name is set on the class).
register = NOTIFIERS.register


def available() -> list[str]:
    return NOTIFIERS.names()


def get_notifier_class(name: str) -> type[Notifier]:
    return NOTIFIERS.get(name)


def create(name: str, **params: Any) -> Notifier:
    return get_notifier_class(name)(**params)

"""Notifiers: one class each, in a registry (``workbench.notifiers`` entry points for plugins).

from workbench.anomaly.notifiers import create, available
create("webhook", url="http://127.0.0.1:8080/hook").send(notification)
"""

from .base import (  # noqa: F401
    ENTRY_POINT_GROUP,
    NOTIFIERS,
    Notification,
    Notifier,
    NotifierParams,
    available,
    create,
    get_notifier_class,
    register,
)
from .inbox import Inbox  # noqa: E402,F401

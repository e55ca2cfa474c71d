"""What the dashboard's sessions in one app process share: the data version and the snapshots.

Without it every open page ran its ~10 semantic queries once a second, data changed or not, and
every new page ran them again before it could show anything.  Now:

* ``VersionWatch`` asks the server how current the data is (the pipelines' last commit, which
  every query answer carries as ``freshness``) with one small probe query, at most once per
  ``ttl_s`` for the whole process, however many pages are open.
* A page refetches only when its *view key* changes: the data version, the time window (it
  slides with the clock on live data), the drill path or the explored metric.
* ``SharedSnapshots`` keeps the latest snapshot per person and view key, so a page someone
  opens (or a second page of the same view) starts from it with no query at all.  Keyed by the
  Jupyter user the server named, because row and column policies differ per person.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from workbench.ui.dashboard.data import Snapshot, Window
from workbench.ui.dashboard.members import Members


@dataclass(frozen=True)
class ViewKey:
    """Everything a snapshot depends on besides the data itself."""

    user: str
    namespace: str
    window: str
    drill: tuple
    explore: str | None

    @classmethod
    def of(cls, user: str | None, m: Members, w: Window, drill, explore: str | None) -> ViewKey:
        return cls(user or "", m.namespace, f"{w.text()}/{w.grain}", tuple(drill.picks), explore)


def data_version(freshness: dict | None) -> str | None:
    """The pipelines' last commit: it changes with every batch that reaches gold, and only
    then.  ``None`` when nothing streams into the namespace (historical data never changes)."""
    return (freshness or {}).get("last_commit")


class VersionWatch:
    """The data version, probed at most once per ``ttl_s`` for the whole process."""

    def __init__(self, ttl_s: float = 0.4):
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._at: dict[str, float] = {}
        self._fresh: dict[str, dict] = {}

    @staticmethod
    def probe(m: Members) -> dict[str, Any]:
        # The smallest query the namespace answers; its answer's `freshness` is what we want.
        return {
            "namespace": m.namespace,
            "metrics": [m.probe_metric],
            "limit": 1,
            "time_range": "today",
        }

    def freshness(self, client, m: Members) -> dict:
        """The newest freshness; probes (with this page's credentials) if ours is too old."""
        with self._lock:
            if time.monotonic() - self._at.get(m.namespace, -1e9) < self.ttl_s:
                return self._fresh[m.namespace]
            try:
                result = client.query(self.probe(m))
                fresh = result.get("freshness") or {}
            except Exception:  # noqa: BLE001  the refresh reports the error on the page
                fresh = {"error": True}
            self._fresh[m.namespace] = fresh
            self._at[m.namespace] = time.monotonic()
            return fresh

    def note(self, namespace: str, freshness: dict | None) -> None:
        """A full fetch just brought newer freshness: no probe needed for a while."""
        if freshness:
            with self._lock:
                self._fresh[namespace] = freshness
                self._at[namespace] = time.monotonic()


class SharedSnapshots:
    """The latest snapshot per (view key, data version), a few hundred at most."""

    def __init__(self, size: int = 256):
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, tuple[float, Snapshot]] = OrderedDict()
        self._latest: dict[ViewKey, tuple[str | None, float, Snapshot]] = {}

    def get(self, key: ViewKey, version: str | None) -> Snapshot | None:
        with self._lock:
            hit = self._items.get((key, version))
            if hit is None:
                return None
            self._items.move_to_end((key, version))
            return hit[1]

    def latest(self, key: ViewKey, max_age_s: float) -> tuple[str | None, Snapshot] | None:
        """The newest snapshot of this view whatever its version, if fetched recently."""
        with self._lock:
            hit = self._latest.get(key)
        if hit is None or time.monotonic() - hit[1] > max_age_s:
            return None
        return hit[0], hit[2]

    def put(self, key: ViewKey, version: str | None, snap: Snapshot) -> None:
        if snap.errors:
            return  # a partial snapshot is this page's business, not the next page's start
        with self._lock:
            self._items[(key, version)] = (time.monotonic(), snap)
            self._items.move_to_end((key, version))
            while len(self._items) > self.size:
                self._items.popitem(last=False)
            self._latest[key] = (version, time.monotonic(), snap)
            if len(self._latest) > self.size:
                self._latest.pop(next(iter(self._latest)))


class MembersCache:
    """Which members a person's namespace has (a catalog call and two probes): once per
    person and process."""

    def __init__(self):
        self._lock = threading.Lock()
        self._items: dict[tuple, Members] = {}

    def get(self, user: str | None, namespace: str | None, discover) -> Members:
        key = (user or "", namespace)
        with self._lock:
            hit = self._items.get(key)
        if hit is not None:
            return Members(**vars(hit))
        m = discover()
        with self._lock:
            self._items[key] = m
        return Members(**vars(m))


VERSIONS = VersionWatch()
SNAPSHOTS = SharedSnapshots()
MEMBERS = MembersCache()

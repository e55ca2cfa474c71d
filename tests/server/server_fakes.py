"""A stand-in pipeline with the runner API of workbench.streaming (start, stop, status), so the
REST layer is tested on its own; the real one runs behind the server in
tests/streaming/test_live_drop_detection.py and tests/apps/test_up.py."""

from __future__ import annotations

import datetime as dt
import threading

NAMES = ["fake_orders", "fake_returns"]
LOADED: dict[str, FakePipeline] = {}


class FakePipeline:
    def __init__(self, name: str, warehouse):
        self.name, self.warehouse = name, warehouse
        self.running = False
        self.commits = 0
        self.last_commit_at = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            self.running = True
            self.commits += 1
            self.last_commit_at = dt.datetime.now(dt.UTC)

    def stop(self) -> None:
        with self._lock:
            self.running = False

    def status(self) -> dict:
        return {
            "name": self.name,
            "state": "running" if self.running else "stopped",
            "running": self.running,
            "commits": self.commits,
            "last_commit_ts": self.last_commit_at.isoformat() if self.last_commit_at else None,
        }


def list_pipelines(root=None) -> list[dict]:
    return [{"name": n} for n in NAMES]


def load_pipeline(name: str, warehouse=None, root=None) -> FakePipeline:
    p = FakePipeline(name, warehouse)
    LOADED[name] = p
    return p

"""Buffered writing: record() queues the entry and returns; a thread appends the queue in one
transaction every `buffer_ms`.

Why: on a 2-core machine, a database commit per semantic query wakes the database's processes
in the middle of the next query; one commit per batch costs that once per batch. The price is
that entries still in the queue are lost if the process dies (at most `buffer_ms` of them),
and a storage failure surfaces at the next record() or flush() instead of the failing call.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .errors import AuditError

MAX_BATCH = 2000


class BufferedWriter:
    def __init__(self, append: Callable[[list[dict[str, Any]]], object], buffer_ms: float):
        self._append = append
        self.interval_s = buffer_ms / 1000.0
        self._queue: deque[dict[str, Any]] = deque()
        self._drain_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.error: str | None = None
        self._thread: threading.Thread | None = None
        self._pid: int | None = None

    def put(self, body: dict[str, Any]) -> None:
        if self.error:
            raise AuditError(
                f"audit entries are not being stored: {self.error} ({len(self._queue)} waiting)"
            )
        self._queue.append(body)
        if self._thread is None or self._pid != os.getpid():  # threads do not survive fork()
            self._start()
        if len(self._queue) >= MAX_BATCH:
            self._wake.set()

    def _start(self) -> None:
        self._pid = os.getpid()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="audit-writer", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            try:
                self.drain()
            except AuditError:
                pass  # kept in self.error; the next put() or flush() reports it

    def drain(self) -> None:
        """Append everything queued so far, in batches; on failure the batch goes back first
        in the queue, in order, and the error is kept."""
        with self._drain_lock:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(MAX_BATCH, len(self._queue)))]
                try:
                    self._append(batch)
                except AuditError as e:
                    self._queue.extendleft(reversed(batch))
                    self.error = str(e)
                    raise
                self.error = None

    def flush(self) -> None:
        """Store everything recorded so far; raises the storage error if there is one."""
        self.drain()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._pid == os.getpid():
            self._thread.join(timeout=10)
        self.drain()

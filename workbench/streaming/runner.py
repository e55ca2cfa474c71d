"""The pipeline runner: a reader thread pulls events from the source into a bounded queue; the
applier commits micro-batches (by size or latency) to the warehouse.

Backpressure: the queue holds at most `batch.max_queue` events; when it is full the reader stops
polling, so the source keeps the backlog (WAL in the slot, entries in the stream, rows in the
outbox) instead of this process's memory.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from . import metrics as M
from .apply import BatchApplier, BatchResult
from .events import RawEvent
from .gold import gold_views
from .reference import ensure_reference_tables
from .sources.base import Source, get_source_class
from .spec import PipelineSpec
from .store import create_tables, read_checkpoint

log = logging.getLogger("workbench.streaming")

Position = tuple[int, int]


@dataclass
class _Acks:
    """The applier's last committed position, for the reader thread; read and set under ``cv``."""

    pos: Position | None
    cv: threading.Condition = field(default_factory=threading.Condition)


class Pipeline:
    """One pipeline spec bound to one warehouse file. See docs/streaming.md for the API."""

    def __init__(
        self,
        name: str,
        spec: PipelineSpec,
        warehouse: str | Path,
        root: str | Path | None = None,
        spec_path: str | None = None,
    ):
        self.name, self.spec, self.root, self.spec_path = name, spec, root, spec_path
        self.warehouse = str(warehouse)
        self.views = gold_views(spec)
        cls = get_source_class(spec.source.kind)
        try:
            self.source_options = cls.parse_options(spec.source.options())
        except Exception as e:
            from ..semantic.errors import ModelError

            raise ModelError(f"source options: {e}", spec_path) from None
        self.source_cls = cls
        self.con: duckdb.DuckDBPyConnection | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._listeners: list[Callable[[dict[str, Any]], object]] = []
        self._state = "created"
        self._error: str | None = None
        self._rates: collections.deque[tuple[float, int]] = collections.deque(
            maxlen=1000
        )  # (when, events)
        self._lat: collections.deque[float] = collections.deque(
            maxlen=10_000
        )  # sampled latencies, s
        self._lat_offset = 0
        self._queued = 0
        self._source: Source | None = None
        self._source_lag: int | None = None
        self.started_at: float | None = None
        self.stats: dict[str, Any] = {
            "events_total": 0,
            "batches_total": 0,
            "dead_letters": 0,
            "duplicates_dropped": 0,
            "last_batch_events": 0,
            "last_batch_s": None,
            "last_commit_ts": None,
            "position": None,
            "last_source_ts_ms": None,
            "checkpoints": 0,
            "last_checkpoint_s": None,
        }

    # -- connection ------------------------------------------------------------------------------
    def _open_warehouse(self) -> duckdb.DuckDBPyConnection:
        if self.con is None:
            Path(self.warehouse).parent.mkdir(parents=True, exist_ok=True)
            self.con = con = duckdb.connect(self.warehouse)
            # DuckDB checkpoints inside the commit that pushes its WAL past checkpoint_threshold
            # (16 MB by default): 0.15-0.3 s added to that batch's latency. The runner checkpoints
            # between batches instead (_maybe_checkpoint); this threshold is only the backstop
            st = self.spec.storage
            con.execute(
                f"SET checkpoint_threshold = '{max(st.checkpoint_wal_max_mb, st.checkpoint_wal_mb)}MB'"
            )
            ensure_reference_tables(con, self.spec)
            create_tables(con, self.spec, self.views)
        return self.con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the pipeline's database instance, for reads in this process."""
        return self._open_warehouse().cursor()

    def connect_semantic(self, **kw):
        """workbench.connect(...) on this warehouse, sharing this process's DuckDB instance."""
        self._open_warehouse()
        import workbench

        return workbench.connect(warehouse=self.warehouse, root=self.root, **kw)

    def add_listener(self, fn: Callable[[dict[str, Any]], object]) -> None:
        self._listeners.append(fn)

    def serve_metrics(self, port: int) -> None:
        M.serve(port)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run_safe, args=(self._stop,), name=f"pipeline-{self.name}", daemon=True
        )
        self._state = "starting"
        self._thread.start()

    def _run_safe(self, stop):
        try:
            self.run(stop)
        except Exception:  # noqa: S110  recorded in status(); run() already logged it
            pass

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)

    def close(self) -> None:
        self.stop()
        if self.con is not None:
            self.con.close()
            self.con = None

    def run(self, stop_event: threading.Event | None = None, max_events: int | None = None) -> None:
        """Run in the foreground until `stop_event` is set (or `max_events` were applied)."""
        stop = stop_event or threading.Event()
        self._stop = stop
        self._state = "starting"
        self._error = None
        applier = None
        try:
            con = self._open_warehouse()
            applier = BatchApplier(con, self.spec, self.name, self.views)
            ck = read_checkpoint(con, self.spec, self.name)
            committed: Position | None = (ck[0], ck[1]) if ck else None
            self.stats["position"] = ck[2] if ck else None
            self._dead_before = int(ck[6]) if ck else 0
            q: queue.Queue = queue.Queue()
            acks = _Acks(committed)
            reader = threading.Thread(
                target=self._reader,
                args=(stop, q, acks, committed),
                daemon=True,
                name=f"reader-{self.name}",
            )
            self.started_at = time.perf_counter()  # set-up done: the source is read from here on
            reader.start()
            self._state = "running"
            b = self.spec.batch
            seen = committed  # highest position handed to the applier (or committed)
            while not stop.is_set():
                chunk = self._gather(
                    q, stop, b.max_events, b.max_latency_ms / 1000, b.linger_ms / 1000
                )
                if not chunk:
                    if stop.is_set():
                        break  # a normal shutdown: the reader saw the same stop event
                    if not reader.is_alive() and q.empty():
                        raise RuntimeError(self._error or "the source reader stopped")
                    self._observe_idle()
                    applier.restore_threads()
                    self._maybe_checkpoint(con, idle=True)
                    continue
                chunk = self._drop_replays(chunk, seen)
                if not chunk:
                    continue
                res = applier.apply(chunk, committed)
                committed = seen = res.position
                with acks.cv:
                    acks.pos = committed
                    acks.cv.notify_all()
                self._observe(res)
                self._maybe_checkpoint(con, idle=False)
                if max_events is not None and self.stats["events_total"] >= max_events:
                    break
            stop.set()
            reader.join(timeout=10)
            applier.restore_threads()
            self._state = "stopped"
        except BaseException as e:
            stop.set()
            if applier is not None:
                try:
                    applier.restore_threads()
                except Exception:  # noqa: S110  shutdown: the reason for stopping matters, not this
                    pass
            self._state = "failed"
            self._error = f"{type(e).__name__}: {e}"
            log.exception("pipeline %s failed", self.name)
            raise

    def _maybe_checkpoint(self, con: duckdb.DuckDBPyConnection, idle: bool) -> None:
        """Checkpoint between batches, when it delays the fewest events: once the WAL reached
        `checkpoint_wal_mb` and nothing is queued (or it reached twice that: under a sustained
        backlog the checkpoint must still happen, and a smaller one stalls less); when idle, any
        WAL of 1 MB or more. The applier thread is the only writer, so no batch is open here."""
        try:
            wal = Path(self.warehouse + ".wal").stat().st_size
        except OSError:
            return
        soft = self.spec.storage.checkpoint_wal_mb * 1_000_000
        if not (
            wal >= 2 * soft or (wal >= soft and self._queued <= 0) or (idle and wal >= 1_000_000)
        ):
            return
        t0 = time.perf_counter()
        try:
            con.execute("CHECKPOINT")
        except (
            duckdb.Error
        ) as e:  # e.g. another connection's open transaction: the next chance will do
            log.debug("pipeline %s: checkpoint deferred: %s", self.name, e)
            return
        self.stats["checkpoints"] += 1
        self.stats["last_checkpoint_s"] = round(time.perf_counter() - t0, 4)

    def _drop_replays(self, chunk: list[RawEvent], seen) -> list[RawEvent]:
        """Keep only events after `seen`, in strictly increasing position order: at or before the
        checkpoint (a replay after a restart), or read twice (the reader reconnected and resumed
        from the checkpoint while events read before were still queued)."""
        if seen is None or (chunk[0][0], chunk[0][1]) > seen:
            # fast path, vectorised: a source returns its events in commit order
            n = len(chunk)
            hi = np.fromiter((e[0] for e in chunk), np.int64, n)
            lo = np.fromiter((e[1] for e in chunk), np.int64, n)
            if bool(np.all((hi[1:] > hi[:-1]) | ((hi[1:] == hi[:-1]) & (lo[1:] > lo[:-1])))):
                return chunk
        fresh, last = [], seen
        for e in chunk:
            pos = (e[0], e[1])
            if last is None or pos > last:
                fresh.append(e)
                last = pos
        dropped = len(chunk) - len(fresh)
        if dropped:
            self.stats["duplicates_dropped"] += dropped
            M.DUPES.labels(self.name).inc(dropped)
        return fresh

    def _gather(
        self, q: queue.Queue, stop, max_events: int, max_latency: float, linger: float = 0.0
    ) -> list[RawEvent]:
        """The next micro-batch: it closes at `max_events`, `max_latency` after its first event, or
        as soon as nothing more arrived for `linger` seconds (adaptive: under load the backlog that
        built up during the previous commit makes the batch big; a trickle commits at once)."""
        out: list[RawEvent] = []
        end = time.monotonic() + max_latency
        while True:  # in short waits, so that a stop is seen at once
            try:
                first = q.get(timeout=max(0.0, min(0.1, end - time.monotonic())))
                break
            except queue.Empty:
                if stop.is_set() or time.monotonic() >= end:
                    return out
        out.extend(first)
        deadline = time.monotonic() + max_latency
        while len(out) < max_events and not stop.is_set():
            try:
                out.extend(q.get_nowait())
                continue
            except queue.Empty:
                pass
            left = min(deadline - time.monotonic(), linger)
            if left <= 0:
                break
            try:
                out.extend(q.get(timeout=left))
            except queue.Empty:
                break
        with self._lock:
            self._queued -= len(out)
        return out

    def _reader(self, stop, q: queue.Queue, acks: _Acks, start_after: Position | None) -> None:
        b = self.spec.batch
        backoff = 0.5
        src = None
        last_acked = start_after
        read_to = start_after
        lag_at = 0.0
        while not stop.is_set():
            try:
                if src is None:
                    src = self.source_cls(
                        self.source_options, self.name, self.spec.tables, root=self.root
                    )
                    with acks.cv:
                        read_to = last_acked = acks.pos
                    src.open(read_to)
                    self._source = src
                    if self._error and self._state == "running":
                        self._error = None
                with acks.cv:
                    pos = acks.pos
                if pos is not None and pos != last_acked:
                    src.commit(pos)
                    last_acked = pos
                if (
                    not src.read_ahead
                    and read_to is not None
                    and (last_acked is None or last_acked < read_to)
                ):
                    with acks.cv:
                        acks.cv.wait(0.05)
                    continue
                with self._lock:
                    full = self._queued >= b.max_queue
                if full:
                    time.sleep(
                        b.idle_sleep_ms / 1000
                    )  # backpressure: leave the backlog in the source
                    continue
                # a short poll timeout: the loop comes back to see acks and the stop event
                events = src.poll(b.max_events, min(b.max_latency_ms / 1000, 0.2))
                if events:
                    with self._lock:
                        self._queued += len(events)
                    read_to = (events[-1][0], events[-1][1])
                    q.put(events)
                elif self._source_lag is not None:
                    self._source_lag = 0  # an empty poll: nothing was waiting
                if time.monotonic() - lag_at >= 1.0:
                    # the source's backlog, measured here (Source methods are called from this thread
                    # only) and at most once a second (it can cost a round trip)
                    lag_at = time.monotonic()
                    try:
                        self._source_lag = src.lag()
                    except Exception:
                        self._source_lag = None
                backoff = 0.5
            except Exception as e:
                self._error = f"source: {type(e).__name__}: {e}"
                log.warning(
                    "pipeline %s: source error, retrying in %.1fs: %s", self.name, backoff, e
                )
                if src is not None:
                    try:
                        src.close()
                    except Exception:  # noqa: S110  reconnecting: the broken source is dropped either way
                        pass
                src = None
                stop.wait(backoff)
                backoff = min(backoff * 2, 10)
        if src is not None:
            try:
                with acks.cv:
                    pos = acks.pos
                if pos is not None and pos != last_acked:
                    src.commit(pos)
                src.close()
            except Exception:  # noqa: S110  shutdown is best effort: what is not acknowledged is delivered again
                pass

    # -- metrics ---------------------------------------------------------------------------------
    def _observe(self, res: BatchResult) -> None:
        s = self.stats
        s["events_total"] += res.events
        s["batches_total"] += 1
        s["dead_letters"] += res.dead_letters
        s["last_batch_events"] = res.events
        s["last_batch_s"] = round(res.seconds, 4)
        s["last_commit_ts"] = dt.datetime.fromtimestamp(res.commit_ts, dt.UTC).isoformat()
        s["position"] = res.position_text
        if res.max_source_ts_ms is not None:
            s["last_source_ts_ms"] = res.max_source_ts_ms
        self._rates.append((time.monotonic(), res.events))
        if len(res.latencies):
            # every 8th event of the stream (a uniform sample: each event weighs the same whatever
            # the size of its batch) feeds status()'s percentiles and the Prometheus histogram
            lat = res.latencies[(-self._lat_offset) % 8 :: 8]
            self._lat_offset = (self._lat_offset + len(res.latencies)) % 8
            self._lat.extend(lat.tolist())
            h = M.E2E.labels(self.name)
            for v in lat.tolist():
                h.observe(v)
        M.EVENTS.labels(self.name).inc(res.applied)
        if res.dead_letters:
            M.DEAD.labels(self.name).inc(res.dead_letters)
        M.BATCH.labels(self.name).observe(res.seconds)
        self._observe_idle()
        info = {
            "pipeline": self.name,
            "events": res.events,
            "dead_letters": res.dead_letters,
            "position": res.position_text,
            "seconds": res.seconds,
            "latencies": res.latencies,
        }
        for fn in self._listeners:
            try:
                fn(info)
            except Exception:
                log.exception("pipeline listener failed")

    def _observe_idle(self) -> None:
        st = self.status(latency=False)
        M.RATE.labels(self.name).set(st["events_per_s"])
        if st["lag_events"] is not None:
            M.LAG_EVENTS.labels(self.name).set(st["lag_events"])
        M.LAG_SECONDS.labels(self.name).set(st["lag_s"] or 0)

    def status(self, latency: bool = True) -> dict:
        now = time.monotonic()
        recent = [(t, n) for t, n in list(self._rates) if now - t <= 10]
        rate = sum(n for _, n in recent) / 10.0 if recent else 0.0
        lat = np.array(list(self._lat)) if self._lat and latency else None
        lag_events = self._source_lag if self._source is not None else None
        queued = max(self._queued, 0)
        if lag_events is not None:
            lag_events += queued
        last_ts = self.stats["last_source_ts_ms"]
        caught_up = (lag_events == 0) if lag_events is not None else queued == 0
        lag_s = 0.0 if caught_up or last_ts is None else max(0.0, time.time() - last_ts / 1000)
        total_dead = getattr(self, "_dead_before", 0) + self.stats["dead_letters"]
        return {
            "name": self.name,
            "source": self.spec.source.kind,
            "title": self.spec.title,
            "state": self._state,
            "error": self._error,
            "events_total": self.stats["events_total"],
            "events_per_s": round(rate, 1),
            "batches_total": self.stats["batches_total"],
            "last_batch_events": self.stats["last_batch_events"],
            "last_batch_s": self.stats["last_batch_s"],
            "lag_events": lag_events,
            "lag_s": round(lag_s, 3),
            "latency_p50_s": round(float(np.percentile(lat, 50)), 4) if lat is not None else None,
            "latency_p99_s": round(float(np.percentile(lat, 99)), 4) if lat is not None else None,
            "dead_letters": self.stats["dead_letters"],
            "dead_letters_total": total_dead,
            "duplicates_dropped": self.stats["duplicates_dropped"],
            "last_commit_ts": self.stats["last_commit_ts"],
            "position": self.stats["position"],
            "warehouse": self.warehouse,
        }

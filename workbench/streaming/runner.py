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
from pathlib import Path

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


class Pipeline:
    """One pipeline spec bound to one warehouse file. See docs/streaming.md for the API."""

    def __init__(self, name: str, spec: PipelineSpec, warehouse: str | Path, root: str | Path | None = None,
                 spec_path: str | None = None):
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
        self._listeners = []
        self._state = "created"
        self._error: str | None = None
        self._rates = collections.deque(maxlen=1000)
        self._lat = collections.deque(maxlen=10_000)
        self._queued = 0
        self._source: Source | None = None
        self.stats = {"events_total": 0, "batches_total": 0, "dead_letters": 0, "duplicates_dropped": 0,
                      "last_batch_events": 0, "last_batch_s": None, "last_commit_ts": None, "position": None,
                      "last_source_ts_ms": None}

    # -- connection ------------------------------------------------------------------------------
    def _open_warehouse(self) -> None:
        if self.con is None:
            Path(self.warehouse).parent.mkdir(parents=True, exist_ok=True)
            self.con = duckdb.connect(self.warehouse)
            ensure_reference_tables(self.con, self.spec)
            create_tables(self.con, self.spec, self.views)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor on the pipeline's database instance, for reads in this process."""
        self._open_warehouse()
        return self.con.cursor()

    def connect_semantic(self, **kw):
        """workbench.connect(...) on this warehouse, sharing this process's DuckDB instance."""
        self._open_warehouse()
        import workbench
        return workbench.connect(warehouse=self.warehouse, root=self.root, **kw)

    def add_listener(self, fn) -> None:
        self._listeners.append(fn)

    def serve_metrics(self, port: int) -> None:
        M.serve(port)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run_safe, args=(self._stop,), name=f"pipeline-{self.name}",
                                        daemon=True)
        self._state = "starting"
        self._thread.start()

    def _run_safe(self, stop):
        try:
            self.run(stop)
        except Exception:  # recorded in status(); run() already logged it
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
        try:
            self._open_warehouse()
            applier = BatchApplier(self.con, self.spec, self.name, self.views)
            ck = read_checkpoint(self.con, self.spec, self.name)
            committed = (ck[0], ck[1]) if ck else None
            self.stats["position"] = ck[2] if ck else None
            self._dead_before = int(ck[6]) if ck else 0
            q: queue.Queue = queue.Queue()
            acks = {"pos": committed, "cv": threading.Condition()}
            reader = threading.Thread(target=self._reader, args=(stop, q, acks, committed), daemon=True,
                                      name=f"reader-{self.name}")
            reader.start()
            self._state = "running"
            b = self.spec.batch
            while not stop.is_set():
                chunk = self._gather(q, stop, b.max_events, b.max_latency_ms / 1000)
                if not chunk:
                    if not reader.is_alive() and q.empty():
                        raise RuntimeError(self._error or "the source reader stopped")
                    self._observe_idle()
                    continue
                if committed is not None:
                    fresh = [e for e in chunk if (e.hi, e.lo) > committed]
                    dropped = len(chunk) - len(fresh)
                    if dropped:
                        self.stats["duplicates_dropped"] += dropped
                        M.DUPES.labels(self.name).inc(dropped)
                    chunk = fresh
                if not chunk:
                    continue
                res = applier.apply(chunk, committed)
                committed = res.position
                with acks["cv"]:
                    acks["pos"] = committed
                    acks["cv"].notify_all()
                self._observe(res)
                if max_events is not None and self.stats["events_total"] >= max_events:
                    break
            stop.set()
            reader.join(timeout=10)
            self._state = "stopped"
        except BaseException as e:
            stop.set()
            self._state = "failed"
            self._error = f"{type(e).__name__}: {e}"
            log.exception("pipeline %s failed", self.name)
            raise

    def _gather(self, q: queue.Queue, stop, max_events: int, max_latency: float) -> list[RawEvent]:
        out: list[RawEvent] = []
        try:
            first = q.get(timeout=max_latency)
        except queue.Empty:
            return out
        out.extend(first)
        deadline = time.monotonic() + max_latency
        while len(out) < max_events and not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                out.extend(q.get(timeout=left))
            except queue.Empty:
                break
        with self._lock:
            self._queued -= len(out)
        return out

    def _reader(self, stop, q: queue.Queue, acks: dict, start_after) -> None:
        b = self.spec.batch
        backoff = 0.5
        src = None
        last_acked = start_after
        read_to = start_after
        while not stop.is_set():
            try:
                if src is None:
                    src = self.source_cls(self.source_options, self.name, self.spec.tables, root=self.root)
                    with acks["cv"]:
                        read_to = last_acked = acks["pos"]
                    src.open(read_to)
                    self._source = src
                    if self._error and self._state == "running":
                        self._error = None
                with acks["cv"]:
                    pos = acks["pos"]
                if pos is not None and pos != last_acked:
                    src.commit(pos)
                    last_acked = pos
                if not src.read_ahead and read_to is not None and (last_acked is None or last_acked < read_to):
                    with acks["cv"]:
                        acks["cv"].wait(0.05)
                    continue
                with self._lock:
                    full = self._queued >= b.max_queue
                if full:
                    time.sleep(b.idle_sleep_ms / 1000)   # backpressure: leave the backlog in the source
                    continue
                events = src.poll(b.max_events, b.max_latency_ms / 1000)
                if events:
                    with self._lock:
                        self._queued += len(events)
                    read_to = (events[-1].hi, events[-1].lo)
                    q.put(events)
                backoff = 0.5
            except Exception as e:
                self._error = f"source: {type(e).__name__}: {e}"
                log.warning("pipeline %s: source error, retrying in %.1fs: %s", self.name, backoff, e)
                if src is not None:
                    try:
                        src.close()
                    except Exception:
                        pass
                src = None
                stop.wait(backoff)
                backoff = min(backoff * 2, 10)
        if src is not None:
            try:
                with acks["cv"]:
                    pos = acks["pos"]
                if pos is not None and pos != last_acked:
                    src.commit(pos)
                src.close()
            except Exception:
                pass

    # -- metrics ---------------------------------------------------------------------------------
    def _observe(self, res: BatchResult) -> None:
        s = self.stats
        s["events_total"] += res.events
        s["batches_total"] += 1
        s["dead_letters"] += res.dead_letters
        s["last_batch_events"] = res.events
        s["last_batch_s"] = round(res.seconds, 4)
        s["last_commit_ts"] = dt.datetime.fromtimestamp(res.commit_ts, dt.timezone.utc).isoformat()
        s["position"] = res.position_text
        if res.max_source_ts_ms is not None:
            s["last_source_ts_ms"] = res.max_source_ts_ms
        self._rates.append((time.monotonic(), res.events))
        if len(res.latencies):
            lat = res.latencies
            if len(lat) > 2000:
                lat = lat[np.random.default_rng().integers(0, len(lat), 2000)]
            self._lat.extend(lat.tolist())
            h = M.E2E.labels(self.name)
            for v in lat[:500]:
                h.observe(float(v))
        M.EVENTS.labels(self.name).inc(res.applied)
        if res.dead_letters:
            M.DEAD.labels(self.name).inc(res.dead_letters)
        M.BATCH.labels(self.name).observe(res.seconds)
        self._observe_idle()
        info = {"pipeline": self.name, "events": res.events, "dead_letters": res.dead_letters,
                "position": res.position_text, "seconds": res.seconds}
        for fn in self._listeners:
            try:
                fn(info)
            except Exception:
                log.exception("pipeline listener failed")

    def _observe_idle(self) -> None:
        st = self.status()
        M.RATE.labels(self.name).set(st["events_per_s"])
        if st["lag_events"] is not None:
            M.LAG_EVENTS.labels(self.name).set(st["lag_events"])
        M.LAG_SECONDS.labels(self.name).set(st["lag_s"] or 0)

    def status(self) -> dict:
        now = time.monotonic()
        recent = [(t, n) for t, n in list(self._rates) if now - t <= 10]
        rate = sum(n for _, n in recent) / 10.0 if recent else 0.0
        lat = np.array(list(self._lat)) if self._lat else None
        src = self._source
        lag_events = None
        try:
            lag_events = (src.lag() if src is not None else None)
        except Exception:
            lag_events = None
        queued = max(self._queued, 0)
        if lag_events is not None:
            lag_events += queued
        last_ts = self.stats["last_source_ts_ms"]
        caught_up = (lag_events == 0) if lag_events is not None else queued == 0
        lag_s = 0.0 if caught_up or last_ts is None else max(0.0, time.time() - last_ts / 1000)
        total_dead = getattr(self, "_dead_before", 0) + self.stats["dead_letters"]
        return {
            "name": self.name, "source": self.spec.source.kind, "title": self.spec.title,
            "state": self._state, "error": self._error,
            "events_total": self.stats["events_total"], "events_per_s": round(rate, 1),
            "batches_total": self.stats["batches_total"], "last_batch_events": self.stats["last_batch_events"],
            "last_batch_s": self.stats["last_batch_s"],
            "lag_events": lag_events, "lag_s": round(lag_s, 3),
            "latency_p50_s": round(float(np.percentile(lat, 50)), 4) if lat is not None else None,
            "latency_p99_s": round(float(np.percentile(lat, 99)), 4) if lat is not None else None,
            "dead_letters": self.stats["dead_letters"], "dead_letters_total": total_dead,
            "duplicates_dropped": self.stats["duplicates_dropped"],
            "last_commit_ts": self.stats["last_commit_ts"], "position": self.stats["position"],
            "warehouse": self.warehouse,
        }

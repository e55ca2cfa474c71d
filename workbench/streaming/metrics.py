"""Prometheus metrics of the pipelines (one set per process, labelled by pipeline)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS = Counter("workbench_stream_events", "Change events applied to the warehouse", ["pipeline"])
DEAD = Counter(
    "workbench_stream_dead_letters", "Events sent to the dead-letter table", ["pipeline"]
)
DUPES = Counter(
    "workbench_stream_duplicates_dropped",
    "Events at or before the checkpoint, dropped",
    ["pipeline"],
)
BATCH = Histogram(
    "workbench_stream_batch_seconds",
    "Time to apply one micro-batch",
    ["pipeline"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
E2E = Histogram(
    "workbench_stream_e2e_latency_seconds",
    "Source commit to gold committed",
    ["pipeline"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30),
)
LAG_EVENTS = Gauge(
    "workbench_stream_lag_events", "Events in the source not applied yet", ["pipeline"]
)
LAG_SECONDS = Gauge(
    "workbench_stream_lag_seconds", "Now minus commit time of the last applied event", ["pipeline"]
)
RATE = Gauge(
    "workbench_stream_events_per_second", "Applied events per second (10 s window)", ["pipeline"]
)

_served: set[int] = set()


def serve(port: int, addr: str = "127.0.0.1") -> None:
    if port not in _served:
        start_http_server(port, addr=addr)
        _served.add(port)

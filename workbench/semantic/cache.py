"""Result cache: in-process LRU by default, Redis when configured.

Keys hold the model version, the principal's security context, the engine and its data version,
so a changed model, a refreshed table or another principal never gets a stale or foreign result.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from typing import Any, cast

import pandas as pd
from cachetools import LRUCache
from prometheus_client import Counter, Histogram

_HITS = Counter("workbench_cache_hits_total", "Semantic result cache hits")
_MISSES = Counter("workbench_cache_misses_total", "Semantic result cache misses")
_LATENCY = Histogram(
    "workbench_query_seconds",
    "Semantic query latency",
    ["cached"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30),
)


class ResultCache:
    backend = "memory"

    def __init__(self, max_entries: int = 512):
        self._lru: LRUCache[str, pd.DataFrame] = LRUCache(maxsize=max_entries)
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        self._lat: dict[str, deque[float]] = {"hit": deque(maxlen=1000), "miss": deque(maxlen=1000)}

    def get(self, key: str) -> pd.DataFrame | None:
        with self._lock:
            df = self._lru.get(key)
        self._count(df is not None)
        return df

    def put(self, key: str, df: pd.DataFrame) -> None:
        with self._lock:
            self._lru[key] = df

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()

    def _count(self, hit: bool) -> None:
        if hit:
            self.hits += 1
            _HITS.inc()
        else:
            self.misses += 1
            _MISSES.inc()

    def observe(self, seconds: float, hit: bool) -> None:
        self._lat["hit" if hit else "miss"].append(seconds)
        _LATENCY.labels(cached=str(hit).lower()).observe(seconds)

    def stats(self) -> dict[str, Any]:
        total = self.hits + self.misses

        def p50(xs: deque[float]) -> float | None:
            ordered = sorted(xs)
            return round(ordered[len(ordered) // 2] * 1000, 3) if ordered else None

        return {
            "backend": self.backend,
            "hits": self.hits,
            "misses": self.misses,
            "hit_ratio": round(self.hits / total, 4) if total else 0.0,
            "hit_ms_p50": p50(self._lat["hit"]),
            "miss_ms_p50": p50(self._lat["miss"]),
            "entries": self.size(),
        }

    def size(self) -> int:
        return len(self._lru)


class RedisResultCache(ResultCache):
    """Shared across processes (apps, server, notebooks). Results are stored as Arrow IPC."""

    backend = "redis"

    def __init__(self, url: str, ttl_seconds: int = 3600, prefix: str = "workbench:result:"):
        super().__init__()
        import redis

        self.r = redis.Redis.from_url(url, socket_timeout=2)
        self.r.ping()
        self.ttl, self.prefix = ttl_seconds, prefix

    def get(self, key: str) -> pd.DataFrame | None:
        raw = self.r.get(self.prefix + key)
        self._count(raw is not None)
        if raw is None:
            return None
        import pyarrow as pa

        # bytes: the client is made without decode_responses, so values are never decoded
        return pa.ipc.open_stream(io.BytesIO(cast(bytes, raw))).read_all().to_pandas()

    def put(self, key: str, df: pd.DataFrame) -> None:
        import pyarrow as pa

        table = pa.Table.from_pandas(df, preserve_index=False)
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        self.r.set(self.prefix + key, sink.getvalue(), ex=self.ttl)

    def clear(self) -> None:
        for k in self.r.scan_iter(self.prefix + "*"):
            self.r.delete(k)

    def size(self) -> int:
        return sum(1 for _ in self.r.scan_iter(self.prefix + "*"))

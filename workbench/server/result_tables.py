"""Arrow tables of the answers the REST API sent, by the semantic result cache's key.

A cached answer comes back from the result cache as a pandas frame; turning it into Arrow again
(``pa.Table.from_pandas``) was the largest single cost of a cached query over REST (0.4 ms of a
12-row result's ~1 ms of server work).  The result cache's key names the answer exactly: model
version, the principal's security context (so row and column policies), engine, query spec and
the warehouse's data version.  Equal key, equal rows; so the table made for one answer serves
every later answer under the same key, and a changed model, a refreshed table or another
principal is another key.

Held per warehouse host, bounded in bytes (least recently used first out).
"""

from __future__ import annotations

import threading

import pyarrow as pa
from cachetools import LRUCache

DEFAULT_MAX_BYTES = 128 * 2**20


class ResultTables:
    """``key -> pa.Table``, at most ``max_bytes`` of Arrow buffers; larger tables are not kept."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES):
        self.max_bytes = max_bytes
        self._lru: LRUCache[str, pa.Table] = LRUCache(maxsize=max_bytes, getsizeof=_size)
        self._lock = threading.Lock()

    def get(self, key: str) -> pa.Table | None:
        with self._lock:
            return self._lru.get(key)

    def put(self, key: str, table: pa.Table) -> None:
        if _size(table) > self.max_bytes // 4:  # one huge result must not flush the rest
            return
        with self._lock:
            self._lru[key] = table

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()

    def __len__(self) -> int:
        return len(self._lru)


def _size(table: pa.Table) -> int:
    return max(int(table.nbytes), 1)

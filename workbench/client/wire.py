"""The wire format of query results: one Arrow IPC stream, the query's facts in its schema metadata.

Arrow keeps types (decimals, timestamps with time zones, nulls) that JSON rows lose, and costs
no per-cell work on either side.  The facts about the result (SQL, principal, freshness, column
meta) ride as JSON under one schema-metadata key, so one response carries everything.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
from typing import Any

import pandas as pd
import pyarrow as pa

MEDIA_TYPE = "application/vnd.apache.arrow.stream"
META_KEY = b"workbench"


def encode(df: pd.DataFrame | pa.Table, facts: dict[str, Any]) -> bytes:
    """One IPC stream of ``df`` with ``facts`` (JSON-able) in its schema metadata."""
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(facts, default=str).encode()
    table = table.replace_schema_metadata(meta)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def decode(data: bytes) -> tuple[pa.Table, dict[str, Any]]:
    """The table and the facts of an :func:`encode` stream."""
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        table = reader.read_all()
    raw = (table.schema.metadata or {}).get(META_KEY)
    facts = json.loads(raw) if raw else {}
    return table, facts


# Below this many rows a result converts to pandas on the calling thread: Arrow's thread pool
# costs more to start than it saves (a 12-row result took 0.67 ms with it, 0.40 ms without).
THREADED_ROWS = 100_000


def to_frame(table: pa.Table) -> pd.DataFrame:
    """The pandas frame a local query would give (pandas metadata restores the dtypes)."""
    return table.to_pandas(use_threads=table.num_rows >= THREADED_ROWS)


def json_value(v: Any) -> Any:
    """One result cell as JSON: decimals -> float, NaN and infinities -> null, dates and times ->
    ISO text, numpy scalars -> their Python value, lists and arrays -> JSON lists of these,
    pandas' missing values -> null."""
    if v is None:
        return None
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, float):
        return None if math.isnan(v) or math.isinf(v) else v
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if hasattr(v, "isoformat"):  # pandas Timestamp
        return v.isoformat()
    ndim: Any = getattr(v, "ndim", None)
    if isinstance(v, (list, tuple)) or ndim:  # LIST cells (numpy arrays)
        return [json_value(x) for x in (v.tolist() if hasattr(v, "tolist") else v)]
    if hasattr(v, "item"):  # numpy scalars
        return json_value(v.item())
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return v


def json_records(df: pd.DataFrame | None) -> list[dict[str, Any]]:
    """The JSON form of a result: one ``{column: value}`` per row (the REST API's ``records``,
    for clients that do not read Arrow), each cell through :func:`json_value`."""
    if df is None:
        return []
    cols = [str(c) for c in df.columns]
    return [
        dict(zip(cols, map(json_value, row), strict=True))
        for row in df.itertuples(index=False, name=None)
    ]

"""REST handlers for the semantic layer: ``query`` and ``catalog``.

The query runs as the principal the caller's Jupyter identity maps to (see identity.py), so
the row and column policies of principals.yml / the models apply exactly as in a notebook.
A bad query answers 400 with the semantic layer's own message.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pyarrow as pa

from workbench.client import wire

from .base import DATA_AGE, QUERY_SECONDS, READ, BadRequest, WorkbenchHandler

_LIST_FIELDS = ("metrics", "dimensions", "where", "segments", "order", "via")
_OBJECT_FIELDS = ("define", "top")  # query-time members and top-N, as Workbench.query takes them
_TEXT_FIELDS = ("grain", "time_range", "time_dimension")
_ALLOWED = {
    "namespace",
    "limit",
    "distinct",
    "today",
    *_LIST_FIELDS,
    *_TEXT_FIELDS,
    *_OBJECT_FIELDS,
}
# Jupyter's own log-in arguments (``?token=``, ``_xsrf``) may ride on any request's query
# string; they authenticate the request and are not part of the query.
_TRANSPORT = frozenset({"token", "_xsrf"})


def parse_query(data: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """Validate the JSON (or query-string) description of a query into keyword arguments for
    ``Workbench.query``.  Type errors become readable 400 messages."""
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise BadRequest(
            f"Unknown field(s) in the query: {', '.join(unknown)}. "
            f"Allowed: {', '.join(sorted(_ALLOWED))}."
        )
    ns = data.get("namespace")
    if not isinstance(ns, str) or not ns.strip():
        raise BadRequest("The query needs a 'namespace' (e.g. \"retail\").")
    kw: dict[str, Any] = {}
    for f in _LIST_FIELDS:
        v = data.get(f)
        if v is None or v == "" or v == []:
            continue
        if isinstance(v, str):
            v = [v] if f == "where" else [x.strip() for x in v.split(",") if x.strip()]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise BadRequest(f"'{f}' must be a list of strings.")
        kw[f] = v
    for f in _OBJECT_FIELDS:
        v = data.get(f)
        if v in (None, "", {}):
            continue
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                raise BadRequest(f"'{f}' must be a JSON object.") from None
        if not isinstance(v, dict):
            raise BadRequest(f"'{f}' must be an object.")
        kw[f] = v
    for f in _TEXT_FIELDS:
        v = data.get(f)
        if v in (None, ""):
            continue
        if not isinstance(v, str):
            raise BadRequest(f"'{f}' must be a string.")
        kw[f] = v
    limit = data.get("limit")
    if limit not in (None, ""):
        try:
            limit = int(limit)
        except (TypeError, ValueError):
            raise BadRequest(f"'limit' must be a whole number, not {limit!r}.") from None
        if limit < 0:
            raise BadRequest("'limit' must not be negative.")
    kw["limit"] = min(limit, max_rows) if isinstance(limit, int) else max_rows + 1
    if data.get("distinct") not in (None, "", False, "false", "0"):
        kw["distinct"] = True
    if data.get("today"):
        try:
            kw["today"] = dt.date.fromisoformat(str(data["today"]))
        except ValueError:
            raise BadRequest(
                f"'today' must be a date like 2025-01-31, not {data['today']!r}."
            ) from None
    return {"namespace": ns.strip(), **kw}


def execute_query(host, user, q: dict[str, Any], max_rows: int):
    """Blocking: compile and execute as ``user``; (workbench view, query, rows, truncated, seconds, freshness)."""
    t0 = time.perf_counter()
    wb = host.for_user(user)
    ns = q.pop("namespace")
    query = wb.query(ns, **q)
    df = query.df
    truncated = len(df) > max_rows
    if truncated:
        df = df.head(max_rows)
    elapsed = time.perf_counter() - t0
    QUERY_SECONDS.labels(ns).observe(elapsed)
    fresh = host.freshness()
    if fresh.get("age_s") is not None:
        DATA_AGE.set(fresh["age_s"])
    return wb, ns, query, df, truncated, elapsed, fresh


def run_query_arrow(host, user, q: dict[str, Any], max_rows: int) -> bytes:
    """Blocking: the result as one Arrow IPC stream (workbench.client.wire), facts in its metadata.
    The SQL is sent as compiled (``q.sql(pretty=False)``): pretty-printing costs milliseconds.
    An answer the result cache served is sent from the Arrow table made for it the first time
    (host.result_tables, by the cache's key: same principal, model, spec and data)."""
    wb, ns, query, df, truncated, elapsed, fresh = execute_query(host, user, q, max_rows)
    facts = {
        "namespace": ns,
        "principal": wb.principal.user,
        "rows": len(df),
        "truncated": truncated,
        "meta": wb.describe(query.spec),
        "sql": query.sql(pretty=False),
        "cached": bool(query.cached),
        "elapsed_ms": round(elapsed * 1000, 2),
        "freshness": fresh,
    }
    key = f"{query.result_key}|{max_rows}" if query.result_key else None
    table = host.result_tables.get(key) if key and query.cached else None
    if table is None:
        table = pa.Table.from_pandas(df, preserve_index=False)
        if key:
            host.result_tables.put(key, table)
    return wire.encode(table, facts)


def run_query(host, user, q: dict[str, Any], max_rows: int) -> dict[str, Any]:
    """Blocking: compile and execute, then package records, SQL, column metadata, freshness."""
    wb, ns, query, df, truncated, elapsed, fresh = execute_query(host, user, q, max_rows)
    return {
        "namespace": ns,
        "principal": wb.principal.user,
        "columns": [str(c) for c in df.columns],
        "records": wire.json_records(df),
        "rows": len(df),
        "truncated": truncated,
        "meta": wb.describe(query.spec),
        "sql": query.sql(),
        "cached": bool(query.cached),
        "elapsed_ms": round(elapsed * 1000, 2),
        "freshness": fresh,
    }


class QueryHandler(WorkbenchHandler):
    """GET (query string: ?namespace=retail&metrics=revenue,orders&dimensions=region&where=...)
    or POST (JSON body) a semantic query."""

    auth_resource = "workbench:query"
    # POST asks, it changes nothing; the action is still jupyter_server's for a POST (write),
    # which the policy grants viewers on workbench:query (security/policy/policy.csv).
    auth_actions = {"GET": "read", "POST": "write"}
    endpoint = "query"

    def _from_args(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for key in self.request.query_arguments:
            if key in _TRANSPORT:
                continue
            values = self.get_query_arguments(key)
            if key == "where":
                data[key] = values
            else:
                data[key] = values[-1] if values else None
        return data

    async def _answer(self, data: dict[str, Any]) -> None:
        max_rows = self.settings.get("workbench_max_rows", 50_000)
        q = parse_query(data, max_rows)
        timeout = self.settings.get("workbench_query_timeout")
        if wire.MEDIA_TYPE in self.request.headers.get("Accept", ""):
            # The gateway client (workbench.client): Arrow IPC, not JSON rows.
            body = await self.run(
                run_query_arrow, self.host, self.current_user, q, max_rows, timeout=timeout
            )
            self.set_header("Cache-Control", "no-store")
            self.finish(body, set_content_type=wire.MEDIA_TYPE)
            return
        self.reply(
            await self.run(run_query, self.host, self.current_user, q, max_rows, timeout=timeout)
        )

    async def get(self) -> None:
        await self._answer(self._from_args())

    async def post(self) -> None:
        await self._answer(self.body_json())


def catalog_entries(host, user, text: str, limit: int, namespace: str | None) -> dict[str, Any]:
    """Blocking: the members ``user`` may see, searched by ``text`` when given."""
    wb = host.for_user(user)
    items = wb.search(text, limit=limit, namespace=namespace) if text else wb.catalog(namespace)
    return {"principal": wb.principal.user, "namespaces": wb.namespaces(), "entries": items}


class CatalogHandler(WorkbenchHandler):
    """GET catalog[?namespace=retail][&q=search text][&limit=20]: the members the caller's
    principal may see (hidden columns are left out), optionally searched by name or synonym."""

    auth_resource = "workbench:query"
    auth_actions = READ
    endpoint = "catalog"

    async def get(self) -> None:
        ns = self.get_argument("namespace", None) or None
        text = self.get_argument("q", "").strip()
        try:
            limit = int(self.get_argument("limit", "20"))
        except ValueError:
            raise BadRequest("'limit' must be a whole number.") from None
        self.reply(await self.run(catalog_entries, self.host, self.current_user, text, limit, ns))


def query_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    return [
        (rf"{prefix}/query/?", QueryHandler),
        (rf"{prefix}/catalog/?", CatalogHandler),
    ]

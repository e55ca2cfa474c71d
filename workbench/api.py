"""The notebook-facing API: `wb = workbench.connect()`, then `wb.query(...)`."""

from __future__ import annotations

import datetime as dt
import difflib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import ibis.expr.types as ir
import pandas as pd
from cachetools import LRUCache

from .config import Settings, load_settings
from .engines import get_engine_class
from .engines.base import Engine
from .engines.errors import MissingTable
from .security.principal import Principal, Principals, load_principals
from .semantic import catalog as _catalog
from .semantic.adhoc import overlay
from .semantic.cache import RedisResultCache, ResultCache
from .semantic.catalog import CatalogEntry
from .semantic.compiler import Compiler
from .semantic.errors import AccessDeniedError, EngineError, QueryError, UnknownMemberError
from .semantic.loader import load_dir, load_file
from .semantic.namespace import Namespace
from .semantic.policy import Access, compute_access
from .semantic.query import Query
from .semantic.querydef import Definitions, MemberItems, Names, QuerySpec
from .semantic.relations import Relations
from .semantic.spec import Dimension
from .semantic.validate import bind_check

if TYPE_CHECKING:  # workbench.client is imported only when a server owns the warehouse
    from .client import RemoteWorkbench


class AuditRecorder(Protocol):
    """What connect(audit=...) takes: workbench.security.audit.AuditLog, or anything with its
    record() method."""

    def record(
        self,
        action: str,
        *,
        actor: Any = ...,
        resource: str | None = ...,
        outcome: str = ...,
        **details: Any,
    ) -> object: ...


StateKey = tuple[str, str, str]  # (namespace, model version, principal context or engine name)
ValueIndex = dict[tuple[str, str], list[Any]]  # (member, label) -> its values


@dataclass(frozen=True)
class Plan:
    expr: ir.Table
    sql: str
    key: str


class _Shared:
    """State shared by every principal's view of one workbench: models, engine, caches."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        models_dir: Path,
        principals: Principals | None,
        cache: ResultCache | None,
        audit: AuditRecorder | None = None,
    ):
        self.settings, self.engine, self.models_dir = settings, engine, models_dir
        self.principals, self.cache = principals, cache
        self.audit = audit  # anything with record(action, actor=, resource=, ...)
        self.lock = threading.RLock()
        self.spaces: dict[str, Namespace] = {}
        self.mtimes: dict[str, float] = {}
        self.plans: LRUCache[str, Plan] = LRUCache(maxsize=2048)
        self.states: dict[StateKey, tuple[Access, Relations]] = {}
        self.bound: set[StateKey] = set()
        self.value_index: dict[tuple[str, str, str, str], ValueIndex] = {}
        self.last_check = 0.0
        self.reload()

    def reload(self) -> None:
        with self.lock:
            loaded = load_dir(self.models_dir) if self.models_dir.exists() else {}
            self.spaces = {n: Namespace(ns) for n, ns in loaded.items()}
            self.mtimes = {n: ns.mtime for n, ns in loaded.items()}
            self.states.clear()
            self.plans.clear()

    def maybe_reload(self) -> None:
        """Models edited on disk are picked up at the next query (checked at most every 0.5 s)."""
        now = time.monotonic()
        if now - self.last_check < 0.5:
            return
        self.last_check = now
        files = {
            p.stem: p
            for p in list(self.models_dir.glob("*.yml")) + list(self.models_dir.glob("*.yaml"))
        }
        for name, path in files.items():
            if name not in self.spaces or path.stat().st_mtime != self.mtimes.get(name):
                ns = load_file(path)
                with self.lock:
                    self.spaces[name] = Namespace(ns)
                    self.mtimes[name] = ns.mtime
                    self.states = {k: v for k, v in self.states.items() if k[0] != name}
                    if self.cache:
                        self.cache.clear()
        for name in set(self.spaces) - set(files):
            with self.lock:
                self.spaces.pop(name, None)


class Workbench:
    def __init__(self, shared: _Shared, principal: Principal):
        self._s = shared
        self.principal = principal

    # views ---------------------------------------------------------------------------------
    @property
    def engine(self) -> Engine:
        return self._s.engine

    @property
    def settings(self) -> Settings:
        return self._s.settings

    def as_principal(self, who: str | Principal) -> Workbench:
        """The same workbench seen by another principal (their policies apply)."""
        if isinstance(who, str):
            if self._s.principals is None:
                raise QueryError("No principals file is configured.")
            who = self._s.principals.get(who)
        return Workbench(self._s, who)

    def namespaces(self) -> list[str]:
        self._s.maybe_reload()
        return sorted(self._s.spaces)

    def namespace(self, name: str) -> Namespace:
        self._s.maybe_reload()
        if name not in self._s.spaces:
            raise UnknownMemberError(name, "model", list(self._s.spaces))
        return self._s.spaces[name]

    # per principal + model version state ---------------------------------------------------
    def _state(self, space: Namespace) -> tuple[Access, Relations]:
        key = (space.name, space.version, self.principal.context_key)
        with self._s.lock:
            st = self._s.states.get(key)
            if st is None:
                access = compute_access(space, self.principal)
                st = (access, Relations(space, self.engine, self.principal, access))
                self._s.states[key] = st
        self._bind(space)
        return st

    def _bind(self, space: Namespace) -> None:
        """Check the model's columns against the warehouse once per model version.

        Only a table the engine says is absent counts as missing. A lock, a refused connection,
        a permission or a model's failing SQL propagates as the error it is: calling those
        "missing tables" sent people to rebuild warehouses that were fine."""
        key = (space.name, space.version, self.engine.name)
        if key in self._s.bound:
            return
        schemas: dict[str, dict[str, str]] = {}
        missing: list[str] = []
        raw = Relations(space, self.engine, self.principal, compute_access(space, self.principal))
        for name in space.models:
            try:
                schemas[name] = self.engine.schema_of(raw.raw(name))
            except MissingTable as e:
                missing.append(e.table)
        if missing:
            raise EngineError(
                f"Namespace '{space.name}' is not in this warehouse (missing tables: "
                f"{', '.join(sorted(set(missing)))}). Point workbench.connect(warehouse=...) "
                f"at a warehouse that has them"
                + (" (build one with `workbench tpch`)." if space.name == "tpch" else ".")
            )
        bind_check(space, schemas)
        self._s.bound.add(key)

    # queries -------------------------------------------------------------------------------
    def query(
        self,
        target: str,
        metrics: MemberItems = None,
        dimensions: MemberItems = None,
        *,
        where: MemberItems = None,
        segments: Names = None,
        grain: str | None = None,
        time_range: str | None = None,
        time_dimension: str | None = None,
        order: Names = None,
        limit: int | None = None,
        distinct: bool = False,
        today: dt.date | None = None,
        via: Names = None,
        define: Definitions = None,
        top: dict[str, Any] | None = None,
        as_: str | Principal | None = None,
    ) -> Query:
        """Build a governed query. `target` is a namespace ('retail') or a model ('retail.orders').

        Beyond names, `metrics` and `dimensions` take query-time members (expressions such as
        'count_distinct(s_suppkey)' or 'year(o_orderdate)', dictionaries like YAML members,
        'customer.order_count' for a metric per customer); `define` adds named ones for the
        filters; `top={'n': 3, 'by': 'revenue', 'per': ['region']}` keeps the top N per group
        (ties kept); `via=['partsupp']` chooses between equally short join paths."""
        wb = self.as_principal(as_) if as_ else self
        spec = QuerySpec.build(
            target,
            metrics,
            dimensions,
            where=where,
            segments=segments,
            order=order,
            grain=grain,
            time_range=time_range,
            time_dimension=time_dimension,
            limit=limit,
            distinct=distinct,
            today=today,
            via=via,
            define=define,
            top=top,
        )
        wb.namespace(spec.namespace)
        return Query(wb, spec)

    def plan(self, spec: QuerySpec) -> Plan:
        """The compiled, secured plan of a query spec for this principal and engine (cached).
        Public because Query, the session's lazy handle, lives in another module."""
        space = self.namespace(spec.namespace)
        key = f"{space.name}:{space.version}:{self.principal.context_key}:{self.engine.name}:{spec.key()}"
        plan = self._s.plans.get(key)
        if plan is None:
            expr = self._compile(space, spec)
            plan = Plan(expr, self.engine.to_sql(expr), key)
            self._s.plans[key] = plan
        return plan

    def execute(self, q: Query) -> tuple[pd.DataFrame, bool]:
        """Run (or serve from cache) a query; with an audit log, every query is recorded with
        who asked, what, how many rows and how long it took, and so is a refusal."""
        t0 = time.perf_counter()
        try:
            df, cached = self._run(q, t0)
        except (AccessDeniedError, QueryError, EngineError) as e:
            self._audit(q, t0, None, False, e)
            raise
        self._audit(q, t0, len(df), cached, None)
        return df, cached

    def _audit(
        self, q: Query, t0: float, rows: int | None, cached: bool, error: Exception | None
    ) -> None:
        log = self._s.audit
        if log is None:
            return
        spec = q.spec
        details: dict[str, Any] = {
            "metrics": list(spec.metrics),
            "dimensions": list(spec.dimensions),
            "filters": list(spec.where) + [f"segment:{s}" for s in spec.segments],
            "rows": rows,
            "ms": round((time.perf_counter() - t0) * 1000, 3),
            "cached": cached,
            "engine": self.engine.name,
        }
        if spec.time_range:
            details["time_range"] = spec.time_range
        if error is None:
            log.record("semantic.query", actor=self.principal, resource=spec.namespace, **details)
        else:
            denied = isinstance(error, AccessDeniedError)
            log.record(
                "authz.deny" if denied else "semantic.query",
                actor=self.principal,
                resource=spec.namespace,
                outcome="denied" if denied else "failure",
                error=str(error)[:500],
                **details,
            )

    def _run(self, q: Query, t0: float) -> tuple[pd.DataFrame, bool]:
        plan = q.plan
        cache = self._s.cache
        key = plan.key + ":" + self.engine.data_version()
        q.result_key = key  # what the answer is, for memos of its encodings (the REST API's)
        if cache is not None:
            df = cache.get(key)
            if df is not None:
                cache.observe(time.perf_counter() - t0, True)
                return df.copy(), True
        df = self.engine.execute(plan.expr, plan.sql)
        if cache is not None:
            cache.put(key, df.copy())  # the caller may mutate its frame; the cache keeps its own
            cache.observe(time.perf_counter() - t0, False)
        return df, False

    def compile(self, target: str, **kw: Any) -> ir.Table:
        """Compile without executing: returns the Ibis expression (timing helper for benchmarks)."""
        spec = QuerySpec.build(target, kw.pop("metrics", None), kw.pop("dimensions", None), **kw)
        return self._compile(self.namespace(spec.namespace), spec)

    def _compile(self, space: Namespace, spec: QuerySpec) -> ir.Table:
        access, relations = self._state(space)
        view, aliases = overlay(space, spec)
        if view is not space:  # query-time members: policies computed for them too
            access = compute_access(view, self.principal)
            relations = Relations(view, self.engine, self.principal, access)
        return Compiler(view, relations, access, aliases).compile(spec)

    # metadata ------------------------------------------------------------------------------
    def catalog(self, namespace: str | None = None) -> list[CatalogEntry]:
        out: list[CatalogEntry] = []
        for name in [namespace] if namespace else self.namespaces():
            space = self.namespace(name)
            access = compute_access(space, self.principal)
            out += _catalog.entries(space, access.hidden)
        return out

    def search(
        self, text: str, limit: int = 20, namespace: str | None = None
    ) -> list[CatalogEntry]:
        return _catalog.search(self.catalog(namespace), text, limit)

    def models(self) -> list[CatalogEntry]:
        return [e for e in self.catalog() if e["kind"] == "model"]

    def describe(self, spec: QuerySpec) -> dict[str, dict[str, Any]]:
        """Type, format and unit of each output column, for charts and tables."""
        space = self.namespace(spec.namespace)
        out: dict[str, dict[str, Any]] = {}
        for tok in spec.dimensions + spec.metrics:
            name = tok.rsplit("__", 1)[0] if "__" in tok else tok
            try:
                ref = space.resolve(name, prefer=spec.model)
            except QueryError:
                continue
            m = space.member(ref)
            out[tok] = {
                "kind": ref.kind,
                "label": m.title,
                "format": m.format,
                "unit": m.unit,
                "type": getattr(m, "type", None),
            }
        return out

    def lookup(
        self, value: str, namespace: str | None = None, limit: int = 5
    ) -> list[dict[str, Any]]:
        """Which dimension holds this value? 'Germany' → [{'member': 'retail.customers.country', ...}]"""
        needle = value.strip().lower()
        hits: list[dict[str, Any]] = []
        for ns in [namespace] if namespace else self.namespaces():
            for (member, label), values in self._values(ns).items():
                for v in values:
                    s = str(v).lower()
                    score = 1.0 if s == needle else difflib.SequenceMatcher(None, needle, s).ratio()
                    if score >= 0.8:
                        hits.append(
                            {"member": member, "value": v, "score": round(score, 3), "label": label}
                        )
        hits.sort(key=lambda h: -h["score"])
        return hits[:limit]

    def _values(self, namespace: str, per_dimension: int = 500) -> ValueIndex:
        space = self.namespace(namespace)
        key = (namespace, space.version, self.principal.context_key, self.engine.data_version())
        if key in self._s.value_index:
            return self._s.value_index[key]
        access, _ = self._state(space)
        index: ValueIndex = {}
        for ref, m in space.members.items():
            if not isinstance(m, Dimension) or m.type != "categorical" or ref in access.hidden:
                continue
            try:
                df = self.query(
                    namespace, dimensions=[ref.qualified], distinct=True, limit=per_dimension + 1
                ).df
            except QueryError:  # not groupable for this principal or query: not indexed
                continue
            if len(df) <= per_dimension:
                index[(f"{namespace}.{ref.qualified}", m.title)] = [
                    v for v in df.iloc[:, 0].tolist() if v is not None
                ]
        self._s.value_index[key] = index
        return index

    # housekeeping --------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Call after data is refreshed: cached results and table handles are dropped."""
        self.engine.invalidate()
        with self._s.lock:
            self._s.states.clear()
            self._s.plans.clear()
        if self._s.cache:
            self._s.cache.clear()

    def reload(self) -> None:
        self._s.reload()
        if self._s.cache:
            self._s.cache.clear()

    def cache_stats(self) -> dict[str, Any]:
        return self._s.cache.stats() if self._s.cache else {"backend": "none"}

    def close(self) -> None:
        self.engine.close()

    def __repr__(self) -> str:
        return f"<Workbench {self.engine.name} as {self.principal.user}: {', '.join(self.namespaces())}>"


def connect(
    warehouse: str | Path | None = None,
    models_dir: str | Path | None = None,
    engine: str | Engine | None = None,
    principal: str | Principal | None = None,
    read_only: bool = False,
    cache: str | ResultCache | None = None,
    principals_file: str | Path | None = None,
    root: str | Path | None = None,
    audit: AuditRecorder | None = None,
    gateway: bool | None = None,
    **engine_options: Any,
) -> Workbench:
    """Open the workbench. Defaults come from workbench.yml at the project root.

    While a Workbench server owns the warehouse (it holds the file and runs the pipelines), this
    returns a session on that server (`workbench.client.RemoteWorkbench`, the same query API,
    results as Arrow, run as the identity the server gives you); `gateway=False` insists on the
    file, `gateway=True` on a server.  With no server running it opens the file directly.

    `audit`: an audit log (workbench.security.audit.AuditLog) that records every query
    (who, namespace, members, filters, rows, milliseconds) and every refusal."""
    settings = load_settings(Path(root) if root else None)
    wh = Path(warehouse) if warehouse else settings.path(settings.warehouse)
    # Only an embedded file has one owning process (the engine says so); PostgreSQL, Spark are shared.
    engine_cls = None if isinstance(engine, Engine) else get_engine_class(engine or settings.engine)
    if gateway is not False and engine_cls is not None and engine_cls.single_process_file:
        remote = _server_session(wh, gateway, principal)
        if remote is not None:
            return remote  # type: ignore[return-value]  # the same session API, served remotely
    mdir = Path(models_dir) if models_dir else settings.path(settings.models_dir)
    if isinstance(engine, Engine):
        eng = engine
    else:
        assert engine_cls is not None  # noqa: S101  (set above for every name)
        # Each engine class reads its own workbench.yml section: no branch per engine here.
        eng = engine_cls.from_settings(
            settings, warehouse=wh, read_only=read_only, **engine_options
        )
    pfile = Path(principals_file) if principals_file else settings.path(settings.principals_file)
    principals = load_principals(pfile) if pfile.exists() else None
    if isinstance(cache, ResultCache):
        rc = cache
    else:
        backend = cache or settings.cache.backend
        if backend == "none":
            rc = None
        elif backend == "redis" or str(backend).startswith("redis://"):
            url = backend if str(backend).startswith("redis://") else settings.cache.url
            rc = RedisResultCache(url, settings.cache.ttl_seconds)
        else:
            rc = ResultCache(settings.cache.max_entries)
    shared = _Shared(settings, eng, mdir, principals, rc, audit)
    who = (
        principal
        if isinstance(principal, Principal)
        else session_principal(principals, principal, pfile)
    )
    return Workbench(shared, who)


def session_principal(
    principals: Principals | None, name: str | None, source: str | Path
) -> Principal:
    """Who a session runs as: ``name`` in the principals file (its ``default`` when None).

    Without a principals file (``source`` says where it was looked for) the local user runs as
    an analyst: row policies for analysts still apply, and nothing is exempt that the models do
    not exempt.  The server resolves its users' principals with this too."""
    if principals is not None:
        return principals.get(name)
    if name:
        raise QueryError(f"Principal '{name}' given but no principals file at {source}.")
    return Principal.of("local", roles=["analyst"])


def _server_session(
    warehouse: Path, required: bool | None, principal: object
) -> RemoteWorkbench | None:
    """The session on the server that owns ``warehouse``, or None to open the file here."""
    from .client import RemoteWorkbench, ServerError, find_server

    info = find_server(warehouse)
    if info is None:
        if required:
            raise ServerError(
                f"No Workbench server owns {warehouse} (no live runtime file beside it). "
                "Start one with `make up`, or connect without gateway=True."
            )
        return None
    if principal is not None:
        raise ServerError(
            f"The Workbench server at {info.url} owns {warehouse}, and it decides who you are: "
            "connect() without principal=, or log in as that person."
        )
    return RemoteWorkbench(info)

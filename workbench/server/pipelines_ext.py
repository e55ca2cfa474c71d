"""The pipelines server extension: it owns the warehouse inside the Jupyter server process.

DuckDB lets one process hold a warehouse file open for writing, and no other process may open
it meanwhile.  So this extension both runs the streaming pipelines (which write) and answers
the semantic queries of the apps (which read), over REST under ``/workbench/api/``:

    GET  pipelines                 list, with each one's status
    POST pipelines/{name}/start    start one
    POST pipelines/{name}/stop     stop one
    GET  pipelines/{name}/status   one's status
    GET/POST query                 a governed semantic query -> records + sql + freshness
    GET  catalog                   metrics, dimensions and models the caller may see
    GET  metrics                   Prometheus exposition
    GET  incidents                 incidents (?status=, ?since=, ?limit=) (handlers_incidents.py)
    GET  incidents/{id}            one, with its anomalies, insight, history and notifications
    POST incidents/{id}/acknowledge|resolve   role-gated (incident_roles)
    GET  detection                 the live detection loop's status (detection_loop.py)
    POST quality/{suite}/validate  run a quality suite (handlers_quality.py); GET quality,
         quality/{suite}/runs, quality/scores read the stored runs

Enabled by ``jupyter_config/jupyter_server_config.d/workbench_pipelines.json``; configured with
``c.WorkbenchPipelines.*`` (see the traits below and docs/server-api.md).
"""

from __future__ import annotations

import datetime as dt
import importlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from .identity import PrincipalMapper

API_PREFIX = "/workbench/api"


class UnknownPipeline(KeyError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(name)
        self.name, self.known = name, known

    def __str__(self) -> str:
        known = ", ".join(self.known) or "none"
        return f"Unknown pipeline '{self.name}'. Known pipelines: {known}."


def _import_object(target: str):
    module, _, attr = target.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


class WarehouseHost:
    """The one owner of the warehouse in this process: the pipelines and the query workbench.

    Everything is opened lazily, on the first query or pipeline start, so a server whose
    pipelines API is never used does not lock the warehouse file.
    """

    def __init__(self, *, warehouse: str = "", root: str = "", pipelines_dir: str = "",
                 loader: str = "workbench.streaming:load_pipeline",
                 lister: str = "workbench.streaming:list_pipelines",
                 mapper: PrincipalMapper | None = None, query_workers: int = 4, log=None,
                 audit_source=None):
        self.warehouse, self.root, self.pipelines_dir = warehouse, root, pipelines_dir
        # A callable giving the server's audit log (the identity provider's), or None: every
        # semantic query and refusal is then recorded there (who, members, rows, milliseconds).
        self.audit_source = audit_source
        self.loader_target, self.lister_target = loader, lister
        self.mapper = mapper or PrincipalMapper()
        self.log = log
        self.executor = ThreadPoolExecutor(max_workers=query_workers,
                                           thread_name_prefix="workbench-api")
        self._lock = threading.RLock()
        self._wb = None
        self._pipelines: dict[str, Any] = {}
        self._views: dict[str | None, Any] = {}

    # paths -------------------------------------------------------------------------------
    def settings(self):
        from workbench.config import load_settings

        return load_settings(Path(self.root) if self.root else None)

    def warehouse_path(self) -> Path:
        if self.warehouse:
            return Path(self.warehouse)
        s = self.settings()
        return s.path(s.warehouse)

    def _pipelines_dir(self) -> Path:
        if self.pipelines_dir:
            return Path(self.pipelines_dir)
        return Path(self.settings().root) / "pipelines"

    # the query workbench -----------------------------------------------------------------
    def workbench(self):
        """The read-write workbench every request's principal view derives from."""
        with self._lock:
            if self._wb is None:
                import workbench

                audit = self.audit_source() if self.audit_source is not None else None
                self._wb = workbench.connect(warehouse=self.warehouse_path(), read_only=False,
                                             root=self.root or None, gateway=False, audit=audit)
            return self._wb

    def for_user(self, user) -> Any:
        """The workbench as seen by the principal this Jupyter user maps to.

        A person who logged in (workbench.server.login.WorkbenchUser) is their own principal: the
        roles and attributes of their account feed the row and column policies.  Other identities
        (the owner's token, another identity provider) map through ``principal_map``."""
        if getattr(user, "via", "owner") != "owner" and callable(getattr(user, "principal", None)):
            who = user.principal()
            key = "user:" + who.context_key
            with self._lock:
                view = self._views.get(key)
                if view is None:
                    view = self._views[key] = self.workbench().as_principal(who)
                return view
        name = self.mapper.principal_name(user)
        with self._lock:
            view = self._views.get(name)
            if view is None:
                base = self.workbench()
                if name is None:
                    view = base
                else:
                    view = base.as_principal(name)
                self._views[name] = view
            return view

    # pipelines ---------------------------------------------------------------------------
    def known_pipelines(self) -> list[str]:
        """Names of the pipeline specs (``workbench.streaming.list_pipelines``) plus any loaded."""
        names: set[str] = set(self._pipelines)
        try:
            lister = _import_object(self.lister_target)
        except (ImportError, AttributeError):
            lister = None
        if lister is not None:
            try:
                found = lister(root=self.root or None)
            except TypeError:
                found = lister()
            names |= {f["name"] if isinstance(f, dict) else str(f) for f in found}
        else:
            d = self._pipelines_dir()
            if d.is_dir():
                names |= {p.stem for p in d.glob("*.yml")} | {p.stem for p in d.glob("*.yaml")}
        return sorted(names)

    def pipeline(self, name: str):
        with self._lock:
            p = self._pipelines.get(name)
            if p is not None:
                return p
            known = self.known_pipelines()
            if name not in known:
                raise UnknownPipeline(name, known)
            loader = _import_object(self.loader_target)
            kw = {"warehouse": self.warehouse_path()}
            if self.root:
                kw["root"] = self.root
            p = loader(name, **kw)
            self._pipelines[name] = p
            # Views the pipeline creates or replaces are new tables to the query side.
            self._after_change()
            return p

    def _after_change(self) -> None:
        if self._wb is not None:
            try:
                self._wb.invalidate()
            except Exception:  # noqa: BLE001, S110  best effort: a stale handle is re-opened on error
                pass

    def start(self, name: str) -> dict:
        p = self.pipeline(name)
        p.start()
        return self.status(name)

    def stop(self, name: str) -> dict:
        p = self.pipeline(name)
        p.stop()
        return self.status(name)

    def status(self, name: str) -> dict:
        if name not in self._pipelines:
            known = self.known_pipelines()
            if name not in known:
                raise UnknownPipeline(name, known)
            return {"name": name, "state": "not loaded", "running": False}
        st = dict(self._pipelines[name].status() or {})
        st.setdefault("name", name)
        st.setdefault("running", st.get("state") in ("starting", "running"))
        return st

    def statuses(self) -> list[dict]:
        return [self.status(n) for n in self.known_pipelines()]

    def loaded_statuses(self) -> list[dict]:
        """Status of each pipeline loaded in this process (a broken one reports its error)."""
        out = []
        for name, p in list(self._pipelines.items()):
            try:
                out.append(dict(p.status() or {}, name=name))
            except Exception as exc:  # noqa: BLE001
                out.append({"name": name, "state": "error", "error": str(exc)})
        return out

    def warehouse_open(self) -> bool:
        """Is the warehouse already open in this server (a query answered, a pipeline loaded)?"""
        return self._wb is not None or bool(self._pipelines)

    def freshness(self) -> dict:
        """How current the served data is: per loaded pipeline, its last commit and lag."""
        now = time.time()
        out: dict[str, Any] = {"served_at": dt.datetime.now(dt.UTC).isoformat(),
                               "pipelines": {}}
        newest = None
        for name, p in list(self._pipelines.items()):
            try:
                st = p.status() or {}
            except Exception as exc:  # noqa: BLE001  a broken pipeline must not break queries
                st = {"state": "error", "error": str(exc)}
            entry = freshness_entry(st, now)
            last = entry.pop("_epoch")
            out["pipelines"][name] = entry
            if last and (newest is None or last > newest):
                newest = last
        out["last_commit"] = (dt.datetime.fromtimestamp(newest, dt.UTC).isoformat()
                              if newest else None)
        out["age_s"] = round(now - newest, 3) if newest else None
        out["streaming"] = any(e["running"] for e in out["pipelines"].values())
        return out

    def close(self) -> None:
        for name, p in list(self._pipelines.items()):
            try:
                p.stop()
            except Exception as exc:  # noqa: BLE001
                if self.log:
                    self.log.warning("workbench_pipelines: stopping %s failed: %s", name, exc)
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._wb is not None:
            try:
                self._wb.close()
            except Exception:  # noqa: BLE001, S110  shutdown: a failing close must not stop the others
                pass
            self._wb = None


def freshness_entry(st: dict, now: float) -> dict:
    """One pipeline's part of :meth:`PipelineHost.freshness`: its last commit and age, and its
    own health (events/s, lag, p99 latency, dead letters) that the dashboard shows beside them."""
    last = _last_commit_epoch(st)
    return {"lag_s": st.get("lag_s"),
            "running": bool(st.get("running", st.get("state") in ("starting", "running"))),
            "state": st.get("state"),
            "events_per_s": st.get("events_per_s"), "lag_events": st.get("lag_events"),
            "latency_p99_s": st.get("latency_p99_s"),
            "dead_letters": st.get("dead_letters_total", st.get("dead_letters")),
            "last_commit": (dt.datetime.fromtimestamp(last, dt.UTC).isoformat()
                            if last else None),
            "age_s": round(now - last, 3) if last else None,
            "_epoch": last}


_COMMIT_KEYS = ("last_commit_ts", "last_commit_at", "last_commit", "committed_at", "last_applied_at",
                "last_refresh_at", "updated_at", "watermark")


def _last_commit_epoch(status: dict) -> float | None:
    for key in _COMMIT_KEYS:
        v = status.get(key)
        if v is None:
            continue
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, dt.datetime):
            return (v if v.tzinfo else v.replace(tzinfo=dt.UTC)).timestamp()
        try:
            t = dt.datetime.fromisoformat(str(v))
        except ValueError:
            continue
        return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()
    return None


class WorkbenchPipelines(ExtensionApp):
    """Runs the streaming pipelines and serves semantic queries, owning the warehouse."""

    name = "workbench_pipelines"
    # No pages of its own: REST only, so no static or template folders.
    load_other_extensions = True

    warehouse = Unicode("", config=True,
                        help="DuckDB warehouse file; empty: workbench.yml / $WORKBENCH_WAREHOUSE.")
    project_root = Unicode("", config=True,
                           help="Project folder with workbench.yml; empty: found from the cwd.")
    pipelines_dir = Unicode("", config=True,
                            help="Folder of pipeline specs; empty: <project>/pipelines.")
    autostart = List(Unicode(), config=True,
                     help="Pipelines started when the server starts, e.g. ['demo_orders']. "
                          "Default: $WORKBENCH_AUTOSTART (comma separated), else none.")

    @default("autostart")
    def _autostart_default(self) -> list[str]:
        # An environment default, so `make up` can start the demo pipeline while the test
        # servers, which share jupyter_config/, start none.
        env = os.environ.get("WORKBENCH_AUTOSTART", "")
        return [n.strip() for n in env.split(",") if n.strip()]
    principal_map = Dict(default_value={}, config=True,
                         help="Jupyter user name -> principal in principals.yml; '*' for all "
                              "others.")
    default_principal = Unicode("", config=True,
                                help="Principal for users not in principal_map; empty: the "
                                     "default of principals.yml.")
    pipeline_loader = Unicode("workbench.streaming:load_pipeline", config=True,
                              help="module:function(name, warehouse=...) returning a Pipeline.")
    pipeline_lister = Unicode("workbench.streaming:list_pipelines", config=True,
                              help="module:function() returning pipeline names.")
    query_workers = Int(4, config=True, help="Threads running queries off the event loop.")
    max_rows = Int(50_000, config=True, help="Most rows one query response returns.")
    query_timeout = Float(60.0, config=True, help="Seconds before a query request gives up.")

    detection = Bool(None, allow_none=True, config=True,
                     help="Run live anomaly detection in the server; None: workbench.yml "
                          "anomaly.live.enabled (on in the demo).")
    detection_interval = Float(None, allow_none=True, config=True,
                               help="Seconds between detection cycles (<= 15); None: workbench.yml "
                                    "anomaly.live.interval_s.")
    detection_settle = Float(None, allow_none=True, config=True,
                             help="Seconds after a bucket ends before it is scored; None: "
                                  "workbench.yml anomaly.live.settle_s.")
    alerts_dir = Unicode("", config=True, help="Folder of alert rules; empty: workbench.yml "
                                               "anomaly.alerts_dir.")
    incidents_db = Unicode("", config=True, help="Incident store (sqlite); empty: workbench.yml "
                                                 "anomaly.incidents_db.")
    detection_state_dir = Unicode("", config=True, help="Detection job state folder; empty: "
                                                        "workbench.yml anomaly.state_dir.")
    incident_roles = List(Unicode(), default_value=["admin", "analyst"], config=True,
                          help="Roles (principals.yml) that may acknowledge and resolve incidents; "
                               "every logged-in user may read them.")

    host: WarehouseHost | None = None
    detection_loop = None

    def initialize_settings(self) -> None:
        self.host = WarehouseHost(
            warehouse=self.warehouse, root=self.project_root, pipelines_dir=self.pipelines_dir,
            loader=self.pipeline_loader, lister=self.pipeline_lister,
            mapper=PrincipalMapper(dict(self.principal_map), self.default_principal),
            query_workers=self.query_workers, log=self.log, audit_source=self._audit_log)
        from workbench.anomaly.detection_loop import build_loop

        self.detection_loop = build_loop(
            self.host, self.log, enabled=self.detection, interval=self.detection_interval,
            settle=self.detection_settle, alerts_dir=self.alerts_dir,
            incidents_db=self.incidents_db, state_dir=self.detection_state_dir)
        # Started here, not in _start_jupyter_server_extension: it is a plain thread (no event
        # loop needed), idle until the warehouse is open, and so it runs under jupyter_server's
        # pytest plugin too, which never calls the start hooks.
        self.detection_loop.start()
        st = self.detection_loop.status()
        self.log.info("workbench_pipelines: live detection %s (every %ss, namespaces %s)",
                      "on" if st["enabled"] else "off", st["interval_s"], st["namespaces"])
        self.settings.update({"workbench_host": self.host,
                              "workbench_max_rows": self.max_rows,
                              "workbench_query_timeout": self.query_timeout,
                              "workbench_detection": self.detection_loop,
                              "workbench_incident_roles": list(self.incident_roles)})

    def initialize_handlers(self) -> None:
        from .handlers import pipeline_handlers

        # Incidents and the live detection loop's status (handlers_incidents.py).
        from .handlers_incidents import incident_handlers

        # Data quality (handlers_quality.py): validation runs on this host's warehouse
        # connection, since DuckDB allows one writing process per file.
        from .handlers_quality import quality_handlers
        from .handlers_query import query_handlers

        self.handlers.extend(pipeline_handlers(API_PREFIX) + query_handlers(API_PREFIX)
                             + quality_handlers(API_PREFIX) + incident_handlers(API_PREFIX))

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        import asyncio

        self._publish_runtime(serverapp)
        loop = asyncio.get_running_loop()
        for name in self.autostart:
            try:
                await loop.run_in_executor(self.host.executor, self.host.start, name)
                self.log.info("workbench_pipelines: started pipeline %s", name)
            except Exception as exc:  # noqa: BLE001  the server stays up; status shows why
                self.log.error("workbench_pipelines: could not start pipeline %s: %s", name, exc)

    def _audit_log(self):
        """The audit log of the server's identity provider (workbench.server.login), if it has one."""
        services = getattr(self.serverapp.identity_provider, "services", None) if self.serverapp else None
        return getattr(services, "audit_log", None)

    def _publish_runtime(self, serverapp) -> None:
        """Tell other processes (kernels, apps, the CLI) that this server owns the warehouse: the
        runtime file beside it (workbench.client.runtime; mode 0600, removed at shutdown).  Only
        an embedded DuckDB file has one owning process."""
        from workbench.client import RuntimeInfo, write_runtime

        if self.host is None or self.host.settings().engine != "duckdb":
            return
        self._runtime_for = self.host.warehouse_path()
        write_runtime(RuntimeInfo(url=serverapp.connection_url, token=serverapp.identity_provider.token,
                                  pid=os.getpid(), warehouse=str(self._runtime_for)))
        self.log.info("workbench_pipelines: owns %s; clients find this server through %s.server.json",
                      self._runtime_for, self._runtime_for)

    async def stop_extension(self) -> None:
        from workbench.client import remove_runtime

        if getattr(self, "_runtime_for", None) is not None:
            remove_runtime(self._runtime_for)
        if self.detection_loop is not None:
            self.detection_loop.stop()
        if self.host is not None:
            self.host.close()


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "workbench.server.pipelines_ext", "app": WorkbenchPipelines}]

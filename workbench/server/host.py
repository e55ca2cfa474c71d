"""The warehouse host: the one owner of the warehouse inside the Jupyter server process.

DuckDB lets one process hold a warehouse file open for writing, and no other process may open
it meanwhile.  So the server both runs the streaming pipelines (which write) and answers the
semantic queries of the apps and kernels (which read) on the one connection held here.  The
extension (app.py) builds one :class:`WarehouseHost`; the REST handlers and the live detection
loop (workbench.anomaly.detection_loop) use it.

A pipeline reports its health as the runner's status dict (workbench.streaming.runner); the host
reads it once into a typed :class:`PipelineStatus`, so every consumer names one field per value.
"""

from __future__ import annotations

import datetime as dt
import importlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .identity import PrincipalMapper
from .result_tables import ResultTables

_ACTIVE_STATES = ("starting", "running")


class UnknownPipeline(KeyError):
    """No pipeline spec of that name (the REST API answers 404 with the known names)."""

    def __init__(self, name: str, known: list[str]):
        super().__init__(name)
        self.name, self.known = name, known

    def __str__(self) -> str:
        known = ", ".join(self.known) or "none"
        return f"Unknown pipeline '{self.name}'. Known pipelines: {known}."


def _as_utc(value: Any) -> dt.datetime | None:
    """A commit time as the runner reports it (ISO text; a datetime or epoch seconds from other
    runners) -> an aware UTC datetime; None when absent or not a time."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, dt.datetime):
        t = value
    else:
        try:
            t = dt.datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class PipelineStatus:
    """One pipeline's status, typed.

    Read from the runner's own report (``Pipeline.status()``): ``state``, ``running`` (else
    derived from the state), ``last_commit_ts`` (the time of the last committed batch), ``lag_s``,
    ``lag_events``, ``events_per_s``, ``latency_p99_s`` and ``dead_letters_total`` (else
    ``dead_letters``).  ``report`` keeps the whole report: the REST API answers with it as is.
    """

    name: str
    state: str | None
    running: bool
    last_commit: dt.datetime | None = None
    lag_s: float | None = None
    lag_events: int | None = None
    events_per_s: float | None = None
    latency_p99_s: float | None = None
    dead_letters: int | None = None
    error: str | None = None
    report: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_report(cls, name: str, report: Mapping[str, Any] | None) -> PipelineStatus:
        """The status of the pipeline the host knows as ``name``, from its runner's report."""
        r = dict(report or {})
        state = r.get("state")
        return cls(
            name=name,
            state=state,
            running=bool(r.get("running", state in _ACTIVE_STATES)),
            last_commit=_as_utc(r.get("last_commit_ts")),
            lag_s=r.get("lag_s"),
            lag_events=r.get("lag_events"),
            events_per_s=r.get("events_per_s"),
            latency_p99_s=r.get("latency_p99_s"),
            dead_letters=r.get("dead_letters_total", r.get("dead_letters")),
            error=r.get("error"),
            report=r,
        )

    @classmethod
    def not_loaded(cls, name: str) -> PipelineStatus:
        return cls(
            name=name,
            state="not loaded",
            running=False,
            report={"name": name, "state": "not loaded", "running": False},
        )

    @classmethod
    def failed(cls, name: str, exc: BaseException) -> PipelineStatus:
        """A pipeline whose status could not be read: its state is "error", with the reason."""
        return cls(
            name=name,
            state="error",
            running=False,
            error=str(exc),
            report={"name": name, "state": "error", "error": str(exc)},
        )

    def to_dict(self) -> dict[str, Any]:
        """The REST form: the runner's report, with ``name`` and ``running`` always present."""
        out = dict(self.report)
        out.setdefault("name", self.name)
        out.setdefault("running", self.running)
        return out

    def freshness(self, now: float) -> dict[str, Any]:
        """This pipeline's part of :meth:`WarehouseHost.freshness`: its last commit and age, and
        its own health (events/s, lag, p99 latency, dead letters) that the dashboard shows."""
        last = self.last_commit.timestamp() if self.last_commit else None
        return {
            "lag_s": self.lag_s,
            "running": self.running,
            "state": self.state,
            "events_per_s": self.events_per_s,
            "lag_events": self.lag_events,
            "latency_p99_s": self.latency_p99_s,
            "dead_letters": self.dead_letters,
            "last_commit": self.last_commit.isoformat() if self.last_commit else None,
            "age_s": round(now - last, 3) if last else None,
        }


def import_object(target: str) -> Any:
    """``module:attr.attr`` -> the object (the configurable pipeline loader and lister)."""
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split(".") if attr else []:
        obj = getattr(obj, part)
    return obj


class WarehouseHost:
    """The one owner of the warehouse in this process: the pipelines and the query workbench.

    Everything is opened lazily, on the first query or pipeline start, so a server whose
    pipelines API is never used does not lock the warehouse file.
    """

    def __init__(
        self,
        *,
        warehouse: str = "",
        root: str = "",
        pipelines_dir: str = "",
        loader: str = "workbench.streaming:load_pipeline",
        lister: str = "workbench.streaming:list_pipelines",
        mapper: PrincipalMapper | None = None,
        query_workers: int = 4,
        log: Any = None,
        audit_source: Callable[[], Any] | None = None,
    ):
        self.warehouse, self.root, self.pipelines_dir = warehouse, root, pipelines_dir
        # A callable giving the server's audit log (the identity provider's), or None: every
        # semantic query and refusal is then recorded there (who, members, rows, milliseconds).
        self.audit_source = audit_source
        self.loader_target, self.lister_target = loader, lister
        self.mapper = mapper or PrincipalMapper()
        self.log = log
        self.executor = ThreadPoolExecutor(
            max_workers=query_workers, thread_name_prefix="workbench-api"
        )
        self._lock = threading.RLock()
        self._wb: Any = None
        self._pipelines: dict[str, Any] = {}
        self._views: dict[str | None, Any] = {}
        self._principals: dict[str, tuple[int, Any]] = {}
        # Arrow tables of answers sent, by result key: a cached answer is not converted again.
        self.result_tables = ResultTables()

    # paths -------------------------------------------------------------------------------
    def settings(self) -> Any:
        from workbench.config import load_settings

        return load_settings(Path(self.root) if self.root else None)

    def warehouse_path(self) -> Path:
        if self.warehouse:
            return Path(self.warehouse)
        s = self.settings()
        return Path(s.path(s.warehouse))

    def _pipelines_dir(self) -> Path:
        if self.pipelines_dir:
            return Path(self.pipelines_dir)
        return Path(self.settings().root) / "pipelines"

    # the query workbench -----------------------------------------------------------------
    def workbench(self) -> Any:
        """The read-write workbench every request's principal view derives from."""
        with self._lock:
            if self._wb is None:
                import workbench

                audit = self.audit_source() if self.audit_source is not None else None
                self._wb = workbench.connect(
                    warehouse=self.warehouse_path(),
                    read_only=False,
                    root=self.root or None,
                    gateway=False,
                    audit=audit,
                )
            return self._wb

    def for_user(self, user: Any) -> Any:
        """The workbench as seen by the principal this Jupyter user maps to.

        A person who logged in (workbench.server.login.WorkbenchUser) is their own principal: the
        roles and attributes of their account feed the row and column policies.  Other identities
        (the owner's token, another identity provider) map through ``principal_map``."""
        if _logged_in(user):
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
                view = base if name is None else base.as_principal(name)
                self._views[name] = view
            return view

    def principal_for(self, user: Any) -> Any:
        """The principal (name, roles, attributes) this Jupyter user is, without opening the
        warehouse: principals.yml is read here (again when it changes), and the fallback without
        a principals file is ``connect()``'s own (workbench.api.session_principal)."""
        from workbench.api import session_principal
        from workbench.security.principal import load_principals

        if _logged_in(user):
            return user.principal()  # a person who logged in: their account's roles
        name = self.mapper.principal_name(user)
        s = self.settings()
        path = Path(s.path(s.principals_file))
        if not path.exists():
            return session_principal(None, name, path)
        mtime = path.stat().st_mtime_ns
        with self._lock:
            cached = self._principals.get(str(path))
            if cached is None or cached[0] != mtime:
                cached = self._principals[str(path)] = (mtime, load_principals(path))
        return session_principal(cached[1], name, path)

    def tables_changed(self) -> None:
        """Tell the query side that tables changed under it (views a pipeline created, the
        ``quality_*`` tables a validation wrote): cached plans and results are dropped."""
        self.result_tables.clear()
        if self._wb is not None:
            try:
                self._wb.invalidate()
            except Exception:  # noqa: BLE001, S110  best effort: a stale handle is re-opened on error
                pass

    # pipelines ---------------------------------------------------------------------------
    def known_pipelines(self) -> list[str]:
        """Names of the pipeline specs (``workbench.streaming.list_pipelines``) plus any loaded."""
        names: set[str] = set(self._pipelines)
        try:
            lister = import_object(self.lister_target)
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

    def pipeline(self, name: str) -> Any:
        with self._lock:
            p = self._pipelines.get(name)
            if p is not None:
                return p
            known = self.known_pipelines()
            if name not in known:
                raise UnknownPipeline(name, known)
            loader = import_object(self.loader_target)
            kw: dict[str, Any] = {"warehouse": self.warehouse_path()}
            if self.root:
                kw["root"] = self.root
            p = loader(name, **kw)
            self._pipelines[name] = p
            # Views the pipeline creates or replaces are new tables to the query side.
            self.tables_changed()
            return p

    def start(self, name: str) -> PipelineStatus:
        self.pipeline(name).start()
        return self.status(name)

    def stop(self, name: str) -> PipelineStatus:
        self.pipeline(name).stop()
        return self.status(name)

    def status(self, name: str) -> PipelineStatus:
        if name not in self._pipelines:
            known = self.known_pipelines()
            if name not in known:
                raise UnknownPipeline(name, known)
            return PipelineStatus.not_loaded(name)
        return PipelineStatus.from_report(name, self._pipelines[name].status())

    def statuses(self) -> list[PipelineStatus]:
        return [self.status(n) for n in self.known_pipelines()]

    def running_count(self) -> int:
        return sum(1 for s in self.statuses() if s.running or s.state == "running")

    def loaded(self) -> list[PipelineStatus]:
        """Status of each pipeline loaded in this process (a broken one reports its error)."""
        out = []
        for name, p in list(self._pipelines.items()):
            try:
                out.append(PipelineStatus.from_report(name, p.status()))
            except Exception as exc:  # noqa: BLE001  a broken pipeline must not break the caller
                out.append(PipelineStatus.failed(name, exc))
        return out

    def loaded_statuses(self) -> list[dict]:
        """:meth:`loaded` as the runners' reports, each with its name (the detection loop's
        heartbeats read them)."""
        return [{**s.report, "name": s.name} for s in self.loaded()]

    def warehouse_open(self) -> bool:
        """Is the warehouse already open in this server (a query answered, a pipeline loaded)?"""
        return self._wb is not None or bool(self._pipelines)

    def freshness(self) -> dict[str, Any]:
        """How current the served data is: per loaded pipeline, its last commit and lag."""
        now = time.time()
        pipelines: dict[str, Any] = {}
        newest: dt.datetime | None = None
        for st in self.loaded():
            pipelines[st.name] = st.freshness(now)
            if st.last_commit and (newest is None or st.last_commit > newest):
                newest = st.last_commit
        return {
            "served_at": dt.datetime.now(dt.UTC).isoformat(),
            "pipelines": pipelines,
            "last_commit": newest.isoformat() if newest else None,
            "age_s": round(now - newest.timestamp(), 3) if newest else None,
            "streaming": any(e["running"] for e in pipelines.values()),
        }

    def close(self) -> None:
        for name, p in list(self._pipelines.items()):
            try:
                p.stop()
            except Exception as exc:  # noqa: BLE001
                if self.log:
                    self.log.warning("workbench: stopping pipeline %s failed: %s", name, exc)
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self._wb is not None:
            try:
                self._wb.close()
            except Exception:  # noqa: BLE001, S110  shutdown: a failing close must not stop the others
                pass
            self._wb = None


def _logged_in(user: Any) -> bool:
    """A person who logged in with a name and password (login.WorkbenchUser), not the owner."""
    return getattr(user, "via", "owner") != "owner" and callable(getattr(user, "principal", None))

"""Live anomaly detection inside the Workbench server: the alert rules run on the gold views the
pipelines keep fresh, on the warehouse connection the server already holds.

DuckDB lets one process write a warehouse file, and the server's warehouse host
(``workbench.server.host.WarehouseHost``) is that process's owner; so detection queries go through
``host.workbench()`` like every REST handler, never through a second connection.  The server
only builds the loop (:func:`build_loop`) and starts and stops it.

A background thread runs :class:`workbench.anomaly.jobs_runner.JobRunner` cycles

- every ``interval`` seconds, and also ``settle`` seconds after each minute closes, so a
  minute-grain rule scores its newest bucket as soon as it is complete (detection latency is
  ``settle`` plus one cycle, whatever the interval);
- only on the enabled rules of the configured namespaces (``live`` by default) whose tables are
  in the warehouse; the others are listed as ``waiting`` in :meth:`DetectionLoop.status`;
- only while the warehouse is open in this server (a pipeline is loaded or a query was
  answered), so an idle server does not lock the warehouse file just to look for data;
- with a clock that trails the slowest running pipeline's lag: a bucket counts as complete once
  the pipeline has applied the events up to its end, not merely once the wall clock passed it;
- recording each loaded pipeline's heartbeat at every cycle (running or not, which run, caught up
  with its source or not; :mod:`workbench.anomaly.pipeline_heartbeats`), so a rule with
  ``pipeline_heartbeat: true`` (the live drop rule) skips the minutes a stopped or restarting
  pipeline did not watch instead of scoring them as an outage.

A rule that fails is logged and shown in the status with its error; the loop goes on with the
others and never takes the server down.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

log = logging.getLogger("workbench.anomaly.detection")

# Module level: prometheus_client refuses a second registration (a test session starts several
# servers in one process). Served by GET /workbench/api/metrics with the others.
CYCLE_SECONDS = Histogram(
    "workbench_detection_cycle_seconds",
    "Time of one live detection cycle.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ANOMALIES = Counter(
    "workbench_detection_anomalies", "Anomalies raised by the live detection loop.", ["rule"]
)
RULE_ERRORS = Gauge("workbench_detection_rules_failing", "Live rules whose last run failed.")

_KEEP_ERRORS = 20


def _now_iso() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


class DetectionLoop:
    """Runs the live alert rules in a background thread of the server (see the module doc)."""

    def __init__(
        self,
        host,
        *,
        rules_dir: Path,
        incidents_db: Path,
        state_dir: Path,
        interval: float = 5.0,
        settle: float = 2.0,
        namespaces: list[str] | None = None,
        enabled: bool = True,
        insights: bool = True,
        now=None,
    ):
        from workbench.anomaly.pipeline_heartbeats import Heartbeats

        self.host = host
        # The time of data and heartbeats (tests may run it faster than the wall clock).
        self.now = now or dt.datetime.now
        self.rules_dir, self.incidents_db, self.state_dir = (
            Path(rules_dir),
            Path(incidents_db),
            Path(state_dir),
        )
        self.interval, self.settle = float(interval), float(settle)
        self.namespaces = list(namespaces or ["live"])
        self.enabled, self.insights = enabled, insights
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._rules: list = []
        self._rules_sig: tuple | None = None
        self._rules_error: str | None = None
        self._runner = None
        self._runner_rules: tuple[str, ...] = ()
        self._store = None
        self._lag_s = 0.0
        # A beat per cycle: a gap of three intervals (plus settle) means nobody watched; less
        # is a slow cycle on a busy machine, which must not cost a minute's detection.
        self.heartbeats = Heartbeats(
            max_gap=dt.timedelta(seconds=3 * self.interval + self.settle),
            margin=dt.timedelta(seconds=self.settle),
        )
        self._status: dict[str, Any] = {
            "state": "stopped" if not enabled else "starting",
            "cycles": 0,
            "last_cycle_at": None,
            "last_cycle_s": None,
            "max_cycle_s": None,
            "rules": {},
            "errors": [],
            "anomalies_raised": 0,
        }

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.enabled or (self._thread and self._thread.is_alive()):
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="workbench-detection", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        with self._lock:
            self._status["state"] = "stopped"

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self._next_wake())

    def _next_wake(self) -> float:
        """Seconds to the next cycle: the interval, or sooner if a minute closes before then."""
        now = time.time()
        boundary = (now // 60 + 1) * 60 + self.settle + self._lag_s
        return max(0.05, min(self.interval, boundary - now))

    # -- the incident store (shared with the REST handlers) --------------------------------------
    def store(self):
        from workbench.anomaly.incidents import IncidentStore

        with self._lock:
            if self._store is None:
                self._store = IncidentStore(self.incidents_db)
            return self._store

    # -- one cycle --------------------------------------------------------------------------------
    def tick(self) -> dict | None:
        """One detection cycle (the thread calls it; tests may too). Never raises."""
        t0 = time.perf_counter()
        try:
            if not self.host.warehouse_open():
                self._set(
                    state="idle",
                    reason="the warehouse is not open in this server yet "
                    "(no pipeline loaded, no query answered)",
                )
                return None
            rules = self._load_rules()
            wb = self.host.workbench()
            ready, waiting = self._available(wb, rules)
            self._lag_s = self._pipeline_lag()
            self._beat()
            if not ready:
                self._set(
                    state="waiting",
                    reason="no rule's namespace is in the warehouse yet",
                    rules=waiting,
                )
                return None
            runner = self._runner_for(wb, ready)
            out = runner.cycle(invalidate=False)
        except Exception as exc:  # noqa: BLE001  the loop must outlive any failure; status says why
            log.exception("live detection cycle failed")
            self._error(f"cycle: {type(exc).__name__}: {exc}")
            self._set(state="error", reason=f"{type(exc).__name__}: {exc}")
            return None
        secs = time.perf_counter() - t0
        CYCLE_SECONDS.observe(secs)
        rules_status = dict(waiting)
        raised = 0
        for name, r in out["rules"].items():
            rules_status[name] = {**r, "state": "ok" if r["ok"] else "error", "at": _now_iso()}
            raised += r.get("anomalies", 0)
            if r.get("anomalies"):
                ANOMALIES.labels(name).inc(r["anomalies"])
            if not r["ok"]:
                self._error(f"{name}: {r['error']}")
        RULE_ERRORS.set(sum(1 for r in out["rules"].values() if not r["ok"]))
        with self._lock:
            st = self._status
            st["cycles"] += 1
            st["anomalies_raised"] += raised
            st["last_cycle_at"] = _now_iso()
            st["last_cycle_s"] = round(secs, 4)
            st["max_cycle_s"] = round(max(secs, st["max_cycle_s"] or 0.0), 4)
            st["last_dispatch"] = out.get("dispatch")
        self._set(state="running", reason=None, rules=rules_status)
        return out

    def _load_rules(self) -> list:
        """The enabled rules of our namespaces, re-read when a file in the folder changes. A
        broken file keeps the last good set running and shows the error (file, line, field)."""
        from workbench.anomaly.alert_rules import load_rules

        files = sorted(list(self.rules_dir.glob("*.yml")) + list(self.rules_dir.glob("*.yaml")))
        sig = tuple((str(p), p.stat().st_mtime_ns) for p in files)
        if sig != self._rules_sig:
            self._rules_sig = sig
            try:
                rules = load_rules(self.rules_dir, enabled_only=True)
            except Exception as exc:  # noqa: BLE001  AlertRuleError names file, line and field
                self._rules_error = str(exc)
                self._error(f"rules: {exc}")
                log.error("live detection: alert rules not reloaded: %s", exc)
            else:
                self._rules_error = None
                self._rules = [r for r in rules if r.source.namespace in self.namespaces]
        return self._rules

    def _available(self, wb, rules) -> tuple[list, dict]:
        """Rules whose namespace exists and whose tables are in the warehouse; the others, why."""
        cur = wb.engine.cursor()  # SupportsCursor: live detection runs on the DuckDB warehouse
        try:
            have = {
                r[0]
                for r in cur.execute("SELECT table_name FROM information_schema.tables").fetchall()
            }
        finally:
            cur.close()
        ready, waiting = [], {}
        for rule in rules:
            ns = rule.source.namespace
            try:
                space = wb.namespace(ns)
            except Exception as exc:  # noqa: BLE001  an unknown namespace: the rule waits
                waiting[rule.name] = {"state": "waiting", "reason": str(exc).splitlines()[0]}
                continue
            missing = sorted({m.table for m in space.models.values() if m.table} - have)
            if missing:
                waiting[rule.name] = {
                    "state": "waiting",
                    "reason": f"namespace '{ns}' has no data yet (missing tables: "
                    f"{', '.join(missing)}); start its pipeline",
                }
            else:
                ready.append(rule)
        return ready, waiting

    def _pipeline_lag(self) -> float:
        """Seconds the slowest running pipeline is behind its source (0 when caught up)."""
        lag = 0.0
        for st in self.host.loaded_statuses():
            if st.get("running") or st.get("state") == "running":
                lag = max(lag, float(st.get("lag_s") or 0.0))
        return lag

    def _beat(self) -> None:
        """One heartbeat per loaded pipeline, from its own status, with the tables it feeds."""
        at = self.now()
        for st in self.host.loaded_statuses():
            name = st.get("name")
            try:
                p = self.host.pipeline(name)
            except Exception:  # noqa: BLE001  unloadable: its beat says not running
                p = None
            feeds = [v.name for v in getattr(p, "views", None) or []]
            self.heartbeats.beat(name, st, at, run=getattr(p, "started_at", None), feeds=feeds)

    def _clock(self) -> dt.datetime:
        # Buckets are complete once the pipelines have applied the events up to their end.
        return self.now() - dt.timedelta(seconds=self.settle + self._lag_s)

    def _runner_for(self, wb, rules):
        from workbench.anomaly.jobs_runner import JobRunner
        from workbench.anomaly.pipeline_heartbeats import RuleCoverage, rule_tables

        names = tuple(sorted((r.name, r.model_dump_json()) for r in rules))
        if self._runner is None or names != self._runner_rules:
            # Jobs keep their state on disk, so a rebuilt runner goes on where the old one stopped.
            self._runner = JobRunner(
                wb,
                rules,
                store=self.store(),
                state_dir=self.state_dir,
                clock=self._clock,
                insights=self.insights,
                owns_all_held=False,
                coverage=RuleCoverage(
                    self.heartbeats, lambda r: rule_tables(wb, r.source.namespace)
                ),
            )
            self._runner_rules = names
        return self._runner

    # -- status -----------------------------------------------------------------------------------
    def _set(self, **kw) -> None:
        with self._lock:
            self._status.update(kw)

    def _error(self, message: str) -> None:
        with self._lock:
            errs = self._status["errors"]
            if errs and errs[-1]["message"] == message:  # the same failure again: count it
                errs[-1]["last_at"] = _now_iso()
                errs[-1]["repeats"] = errs[-1].get("repeats", 1) + 1
                return
            errs.append({"at": _now_iso(), "message": message})
            del errs[:-_KEEP_ERRORS]

    def status(self) -> dict:
        with self._lock:
            st = {
                k: (list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v)
                for k, v in self._status.items()
            }
        st.update(
            {
                "enabled": self.enabled,
                "interval_s": self.interval,
                "settle_s": self.settle,
                "namespaces": self.namespaces,
                "pipeline_lag_s": round(self._lag_s, 3),
                "rules_dir": str(self.rules_dir),
                "incidents_db": str(self.incidents_db),
                "rules_error": self._rules_error,
                "alive": bool(self._thread and self._thread.is_alive()),
            }
        )
        if not self.enabled:
            st["state"] = "disabled"
        return st


def build_loop(
    host,
    log_,
    *,
    enabled: bool | None = None,
    interval: float | None = None,
    settle: float | None = None,
    alerts_dir: str = "",
    incidents_db: str = "",
    state_dir: str = "",
) -> DetectionLoop:
    """The loop from the extension's traits, each falling back to workbench.yml ``anomaly``.
    A configuration that cannot be read leaves the loop off (status says why), the server up."""
    try:
        s = host.settings()
        a = s.anomaly
        interval = a.live.interval_s if interval is None else interval
        if not 0 < interval <= 15:
            log_.warning(
                "workbench: detection_interval %s is outside (0, 15] s; using 15", interval
            )
            interval = 15.0
        return DetectionLoop(
            host,
            rules_dir=s.path(alerts_dir or a.alerts_dir),
            incidents_db=s.path(incidents_db or a.incidents_db),
            state_dir=s.path(state_dir or a.state_dir),
            interval=interval,
            settle=a.live.settle_s if settle is None else settle,
            namespaces=a.live.namespaces,
            enabled=a.live.enabled if enabled is None else enabled,
        )
    except Exception as exc:  # noqa: BLE001  e.g. a bad workbench.yml
        log_.error("workbench: live detection is off: %s", exc)
        loop = DetectionLoop(
            host,
            rules_dir=Path("pipelines/alerts"),
            incidents_db=Path(".workbench/anomaly/incidents.sqlite"),
            state_dir=Path(".workbench/anomaly/jobs"),
            enabled=False,
        )
        loop._error(f"configuration: {exc}")
        return loop

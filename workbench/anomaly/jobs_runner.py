"""Run every enabled alert rule as data arrives: poll, detect, correlate, notify.

    runner = JobRunner(wb, load_rules("pipelines/alerts", enabled_only=True))
    runner.run_forever(interval=15)          # or runner.cycle() once

A cycle refreshes the workbench's view of the warehouse (``wb.invalidate()``), runs each job
over the buckets completed since its watermark, hands the anomalies to the dispatcher and
releases notifications held by quiet hours. With minute-grain rules on the live gold views and
``interval`` well under a minute, an anomaly is raised within a minute of its data point.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from workbench.anomaly.alert_rules import AlertRule
from workbench.anomaly.incidents import DEFAULT_DB, IncidentStore
from workbench.anomaly.incidents_dispatch import AlertDispatcher
from workbench.anomaly.jobs import DEFAULT_STATE_DIR, Anomaly, DetectionJob

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(
        self,
        wb,
        rules: list[AlertRule],
        store: IncidentStore | None = None,
        state_dir: str | Path = DEFAULT_STATE_DIR,
        clock: Callable[[], dt.datetime] | None = None,
        insights: bool = True,
        owns_all_held: bool = True,
        coverage=None,
    ):
        # owns_all_held=False: another runner (the CLI) may own rules not given here; their held
        # notifications are theirs to release or drop.
        self.wb, self.clock = wb, clock or dt.datetime.now
        self.owns_all_held = owns_all_held
        self.store = store or IncidentStore(DEFAULT_DB)
        # coverage: pipeline_heartbeats.RuleCoverage, for rules with pipeline_heartbeat
        self.jobs = [
            DetectionJob(r, wb, state_dir=state_dir, clock=self.clock, coverage=coverage)
            for r in rules
            if r.enabled
        ]
        explain = None
        if insights:
            from workbench.anomaly.insights import explain_incident

            explain = lambda inc_id: explain_incident(wb, self.store, rules, inc_id).text  # noqa: E731
        self.dispatcher = AlertDispatcher(rules, self.store, clock=self.clock, explain=explain)
        self._last_error: dict[str, str] = {}
        self._last_scored: dict[str, dict] = {}  # per rule: the last run that scored buckets

    def cycle(self, invalidate: bool = True) -> dict:
        """Run every job once. ``invalidate=False`` keeps the workbench's caches: a caller whose
        engine already sees each commit (the server, whose result cache is keyed by the data
        version) need not drop everyone's cached results every few seconds.

        ``out["rules"]`` has one entry per rule: ``ok``, ``summary`` or ``error``, ``anomalies``,
        ``warming_up``. Between two completed buckets a run has nothing to score (``idle``); its
        entry then keeps the last scoring run's summary and figures (``last_scored``), so a status
        polled every few seconds shows what was scored, not the empty run.
        """
        if invalidate:
            self.wb.invalidate()
        jobs: list[str] = []
        rules: dict[str, dict] = {}
        anomalies: list[Anomaly] = []
        for job in self.jobs:
            try:
                res = job.run()
            except Exception as e:  # one broken rule must not stop the others
                # The traceback once per distinct error, not at every cycle of a long-running loop.
                msg = f"{type(e).__name__}: {e}"
                if self._last_error.get(job.rule.name) != msg:
                    log.exception("rule %s failed", job.rule.name)
                else:
                    log.debug("rule %s failed again: %s", job.rule.name, msg)
                self._last_error[job.rule.name] = msg
                jobs.append(f"{job.rule.name}: failed: {e}")
                rules[job.rule.name] = {
                    "ok": False,
                    "error": f"{type(e).__name__}: {e}",
                    "anomalies": 0,
                }
                continue
            self._last_error.pop(job.rule.name, None)
            anomalies += res.anomalies
            jobs.append(res.summary())
            entry = {
                "ok": True,
                "summary": res.summary(),
                "anomalies": len(res.anomalies),
                "scored_to": str(res.end),
                "idle": res.idle,
                "warming_up": res.warmup_text() or None,
                "waiting": res.waiting,
                "buckets": sum(s.buckets for s in res.slices.values()),
                "slices": len(res.slices),
            }
            if res.idle and not res.waiting and job.rule.name in self._last_scored:
                last = self._last_scored[job.rule.name]
                entry.update(
                    summary=f"{last['summary']} (up to date: the next {res.grain} is scored "
                    "once it is complete)",
                    buckets=last["buckets"],
                    slices=last["slices"],
                    last_scored=last["at"],
                )
            elif not res.idle:
                self._last_scored[job.rule.name] = {
                    "summary": res.summary(),
                    "buckets": entry["buckets"],
                    "slices": entry["slices"],
                    "at": str(self.clock()),
                }
            rules[job.rule.name] = entry
        dispatch = self.dispatcher.process(anomalies)
        held = self.dispatcher.flush_held(only_known=not self.owns_all_held)
        return {"jobs": jobs, "dispatch": dispatch, "held": held, "rules": rules}

    def run_forever(
        self,
        interval: float = 15.0,
        stop: threading.Event | None = None,
        on_cycle: Callable[[dict], None] | None = None,
    ) -> None:
        stop = stop or threading.Event()
        while not stop.is_set():
            t0 = time.monotonic()
            out = self.cycle()
            if on_cycle:
                on_cycle(out)
            stop.wait(max(0.0, interval - (time.monotonic() - t0)))

"""Which buckets a streaming pipeline watched from start to end: its heartbeat, as the server's
live detection loop observes it, so a rule that counts empty minutes as 0 (an outage: orders
fall to nothing in one region) does not take a stopped pipeline for an outage.

A stopped pipeline leaves empty minutes that are not business events: the demo simulator stops
with it, and a CDC source's backlog only arrives once it runs again. Only the pipeline can say
which case an empty minute is, so every loop cycle records one *beat* per loaded pipeline from
its own status: running or not (a source error being retried counts as not), the run it belongs
to (a restart is a new run) and how far what it has committed trails its source (``lag_s``: 0
when its committed position has caught up with the source, else the age of the newest source
event it committed). So each beat says up to when the data is applied (``applied_to``).

A bucket [a, b) is *covered* when, for every pipeline feeding the rule's tables, one run was
alive throughout: an alive beat at or before ``a``, then only alive beats of the same run, never
more than ``max_gap`` apart, up to one whose ``applied_to`` is at least ``b + margin``
(``margin``: the loop's settle time, for a batch still being committed). Such a bucket is scored
(its empty minutes are 0); any other is skipped and said so. A bucket newer than the newest
``applied_to`` is not judged yet (``confirmed_to``): the rule waits, so a lagging pipeline delays
detection rather than losing it.

Beats are kept in memory for ``keep``: a restarted server has no beats for the time it was down,
which is right, since its pipelines were down too.
"""

from __future__ import annotations

import datetime as dt
import threading
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Beat:
    at: pd.Timestamp
    alive: bool
    applied_to: pd.Timestamp | None  # the source's events up to here are committed
    run: object  # identifies one run of the pipeline: a restart changes it


class Heartbeats:
    """Beats per pipeline, and which tables each pipeline feeds (its gold views)."""

    def __init__(
        self,
        max_gap: dt.timedelta = dt.timedelta(seconds=20),
        margin: dt.timedelta = dt.timedelta(seconds=2),
        keep: dt.timedelta = dt.timedelta(hours=3),
    ):
        self.max_gap, self.margin, self.keep = (
            pd.Timedelta(max_gap),
            pd.Timedelta(margin),
            pd.Timedelta(keep),
        )
        self._lock = threading.Lock()
        self._beats: dict[str, list[Beat]] = {}
        self._feeds: dict[str, frozenset[str]] = {}

    # -- recording ----------------------------------------------------------------------------
    def beat(
        self,
        name: str,
        status: dict,
        at: dt.datetime,
        run: object = None,
        feeds: Iterable[str] = (),
    ) -> Beat:
        """Record one observation of pipeline ``name`` (its ``status()``) at ``at``."""
        alive = status.get("state") == "running" and not status.get("error")
        lag = status.get("lag_s")
        applied = (
            pd.Timestamp(at) - pd.Timedelta(seconds=float(lag))
            if alive and lag is not None
            else None
        )
        b = Beat(pd.Timestamp(at), alive, applied, run)
        with self._lock:
            beats = self._beats.setdefault(name, [])
            if beats and b.at < beats[-1].at:  # a clock step back: start the record afresh
                beats.clear()
            beats.append(b)
            cut = bisect_right([x.at for x in beats], b.at - self.keep)
            del beats[:cut]
            if feeds:
                self._feeds[name] = frozenset(feeds)
        return b

    # -- reading ------------------------------------------------------------------------------
    def feeders(self, tables: Iterable[str]) -> list[str]:
        """The pipelines whose gold views include one of ``tables``."""
        want = set(tables)
        with self._lock:
            return sorted(n for n, f in self._feeds.items() if f & want)

    def confirmed_to(self, pipelines: list[str]) -> pd.Timestamp | None:
        """Up to when every one of ``pipelines`` is known to have applied its source (the newest
        ``applied_to``, less the margin); None when one never said."""
        out = None
        with self._lock:
            for name in pipelines:
                ups = [b.applied_to for b in self._beats.get(name, []) if b.applied_to is not None]
                if not ups:
                    return None
                t = max(ups) - self.margin
                out = t if out is None else min(out, t)
        return out

    def covered(
        self, pipelines: list[str], index: pd.DatetimeIndex, step: pd.Timedelta
    ) -> np.ndarray:
        """One bool per bucket start in ``index``: watched end to end by every pipeline."""
        ok = np.ones(len(index), dtype=bool) if pipelines else np.zeros(len(index), dtype=bool)
        with self._lock:
            beats = {n: list(self._beats.get(n, [])) for n in pipelines}
        for name in pipelines:
            bs = beats[name]
            times = [b.at for b in bs]
            for i, a in enumerate(index):
                if ok[i]:
                    ok[i] = self._watched(bs, times, pd.Timestamp(a), pd.Timestamp(a) + step)
        return ok

    def _watched(self, bs: list[Beat], times: list, a: pd.Timestamp, b: pd.Timestamp) -> bool:
        i = bisect_right(times, a) - 1  # the last beat at or before the bucket's start
        if i < 0 or not bs[i].alive or a - bs[i].at > self.max_gap:
            return False
        run, prev = bs[i].run, bs[i].at
        for beat in bs[i + 1 :]:
            if not beat.alive or beat.run != run or beat.at - prev > self.max_gap:
                return False
            prev = beat.at
            if beat.applied_to is not None and beat.applied_to >= b + self.margin:
                return True
        return False  # not confirmed yet


def rule_tables(wb, namespace: str) -> set[str]:
    """The warehouse tables a namespace's models read (what a pipeline must feed)."""
    space = wb.namespace(namespace)
    return {m.table for m in space.models.values() if getattr(m, "table", None)}


class RuleCoverage:
    """What a detection job asks (``DetectionJob(coverage=...)``): for a rule with
    ``pipeline_heartbeat``, up to when its data is confirmed and which buckets were watched."""

    def __init__(self, heartbeats: Heartbeats, tables_of):
        self.heartbeats, self.tables_of = heartbeats, tables_of

    def pipelines(self, rule) -> list[str]:
        return self.heartbeats.feeders(self.tables_of(rule))

    def confirmed_to(self, rule) -> pd.Timestamp | None:
        feeders = self.pipelines(rule)
        return self.heartbeats.confirmed_to(feeders) if feeders else None

    def covered(self, rule, index: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
        return self.heartbeats.covered(self.pipelines(rule), index, step)

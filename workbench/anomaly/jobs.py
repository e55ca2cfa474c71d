"""Detection jobs: one alert rule watching one semantic-layer metric, per slice, as data arrives.

A job reads through ``wb.query`` only, so its source is any semantic namespace: ``retail`` today,
the streaming gold views in ``live`` later.  Every run

1. reads the buckets completed since its watermark (plus ``source.lookback`` buckets of late
   data) at the rule's grain, per value of ``slice_by``;
2. densifies them: the query has no row for a bucket without data, so the full range of buckets
   is rebuilt and empty ones become 0 (additive metrics) or stay missing (ratios; the detector
   skips them and the job reports that);
3. scores each slice with its own detector, restored from the saved state, and keeps a short
   tail of values (and the last known value) to compute the expected value: the median of the
   same phase in past seasons, else of the previous 24 buckets, else the last known value;
4. returns the anomalies (score >= threshold, in the rule's direction; ``unknown`` when there is
   no expected value at all, which no direction filter drops) and saves the state, so a
   restarted job goes on exactly where it stopped. The report counts what each detector skipped
   (true totals per reason, from the detector's counters, plus a few recent examples).

The first run on an empty state reads the whole history up to ``now``: a backfill and a live run
are the same code path.
"""

from __future__ import annotations

import datetime as dt
import logging
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.anomaly.alert_rules import AlertRule
from workbench.anomaly.detectors import create

log = logging.getLogger(__name__)

FREQ = {"minute": "min", "hour": "h", "day": "D", "week": "W-MON"}
STEP = {
    "minute": pd.Timedelta(minutes=1),
    "hour": pd.Timedelta(hours=1),
    "day": pd.Timedelta(days=1),
    "week": pd.Timedelta(weeks=1),
}
# Points per season for the expected value: a day of minutes, a week of hours or days, a year of weeks.
SEASON = {"minute": 1440, "hour": 168, "day": 7, "week": 52}
SEASONS_KEPT = 4
TOTAL = "__total__"
DEFAULT_STATE_DIR = ".workbench/anomaly/jobs"


def floor(ts: pd.Timestamp, grain: str) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    if grain == "week":
        d = ts.normalize()
        return d - pd.Timedelta(days=d.weekday())
    return ts.floor(FREQ[grain])


@dataclass
class Anomaly:
    rule: str
    namespace: str
    metric: str
    grain: str
    slice_by: str | None
    slice_value: str | None
    ts: dt.datetime  # start of the bucket
    value: float
    expected: float | None
    score: float
    severity: str
    direction: str  # up | down | unknown (no baseline to compare with)
    group: str
    detected_at: dt.datetime = field(default_factory=dt.datetime.now)
    # The rule's own ``source.where``: the series is the metric under these filters (and the
    # slice), so the dashboard draws the anomaly only on a chart filtered the same way.
    rule_where: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return f"{self.rule}|{self.slice_value or TOTAL}|{pd.Timestamp(self.ts).isoformat()}"

    @property
    def where(self) -> list[str]:
        if self.slice_by and self.slice_value is not None:
            return [f"{self.slice_by} = '{self.slice_value}'"]
        return []

    def describe(self) -> str:
        where = (
            f" for {self.slice_by} = {self.slice_value}"
            if self.slice_by and self.slice_value
            else ""
        )
        exp = f" (expected about {self.expected:,.2f})" if self.expected is not None else ""
        return (
            f"{self.metric}{where} at {pd.Timestamp(self.ts):%Y-%m-%d %H:%M} ({self.grain}) was "
            f"{self.value:,.2f}{exp}, "
            f"{'direction unknown (nothing to compare with)' if self.direction == 'unknown' else self.direction}; "
            f"score {self.score:.3f}"
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ts"] = pd.Timestamp(self.ts).isoformat()
        d["detected_at"] = pd.Timestamp(self.detected_at).isoformat()
        d["fingerprint"] = self.fingerprint
        return d


@dataclass
class SliceReport:
    """What a run did to one slice's series; ``skipped`` is the detector's own account."""

    buckets: int = 0
    filled_zero: int = 0
    not_watched: int = 0  # buckets the feeding pipeline did not watch end to end: skipped
    skipped: dict[str, int] = field(default_factory=dict)
    skipped_examples: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class JobResult:
    rule: str
    start: pd.Timestamp | None
    end: pd.Timestamp
    anomalies: list[Anomaly]
    slices: dict[str, SliceReport]
    seconds: float
    grain: str = ""
    # (points seen, points needed) while the slowest slice's detector is still warming up
    warmup: tuple[int, int] | None = None
    waiting: str | None = None  # why nothing newer was scored (a pipeline_heartbeat rule)

    @property
    def idle(self) -> bool:
        """No bucket completed since the last run: nothing was read or scored."""
        return not self.slices and self.start is not None and self.start >= self.end

    def warmup_text(self) -> str:
        if not self.warmup:
            return ""
        return f"warming up: {self.warmup[0]} of {self.warmup[1]} {self.grain or 'bucket'}s"

    def summary(self) -> str:
        if self.waiting:
            return f"{self.rule}: scored up to {self.end}; {self.waiting}"
        if self.idle:
            warm = f"; {self.warmup_text()}" if self.warmup else ""
            return (
                f"{self.rule}: up to date, scored up to {self.end}; the next {self.grain or 'bucket'} "
                f"is scored once it is complete{warm}"
            )
        if not self.slices and self.start is None:
            return (
                f"{self.rule}: no data before {self.end} yet; waiting for the first complete "
                f"{self.grain or 'bucket'}"
            )
        n = sum(s.buckets for s in self.slices.values())
        filled = sum(s.filled_zero for s in self.slices.values())
        skipped: dict[str, int] = {}
        for s in self.slices.values():
            for k, v in s.skipped.items():
                skipped[k] = skipped.get(k, 0) + v
        sk = ", ".join(f"{v} {k}" for k, v in sorted(skipped.items())) or "none"
        gone = sum(s.not_watched for s in self.slices.values())
        if gone:
            sk += f" ({gone} while the pipeline was not running)"
        return (
            f"{self.rule}: scored {n} buckets in {len(self.slices)} slice(s) up to {self.end}, "
            f"{filled} empty bucket(s) filled with 0, skipped: {sk}; {len(self.anomalies)} anomalies "
            f"in {self.seconds:.2f}s" + (f"; {self.warmup_text()}" if self.warmup else "")
        )


def expected_at(history: np.ndarray, i: int, season: int) -> float | None:
    """Expected value of ``history[i]`` from the past only: the median of the same phase in up to
    ``SEASONS_KEPT`` previous seasons, else the median of the previous 24 points."""
    same = [history[i - k * season] for k in range(1, SEASONS_KEPT + 1) if i - k * season >= 0]
    same = [v for v in same if np.isfinite(v)]
    if len(same) >= 2:
        return float(np.median(same))
    prev = history[max(0, i - 24) : i]
    prev = prev[np.isfinite(prev)]
    return float(np.median(prev)) if prev.size else None


def last_known_before(history: np.ndarray, i: int, last_known: float | None = None) -> float | None:
    """The last finite value before ``history[i]``; ``last_known`` (kept in the job state, from
    before the kept history) if there is none."""
    prev = np.flatnonzero(np.isfinite(history[:i]))
    return float(history[prev[-1]]) if prev.size else last_known


def direction_of(value: float, baseline: float | None) -> str:
    """``up``/``down`` against the baseline; ``unknown`` when there is no baseline at all."""
    if baseline is None or not np.isfinite(baseline):
        return "unknown"
    return "up" if value >= baseline else "down"


def direction_passes(wanted: str, direction: str) -> bool:
    """Does an anomaly going ``direction`` pass a rule that wants ``wanted`` (up/down/both)?

    ``unknown`` passes every rule: with nothing to compare against, dropping it could hide the
    very drop (or rise) the rule is for; the anomaly says ``unknown`` so nobody reads it as either."""
    return wanted == "both" or direction in (wanted, "unknown")


def transform_values(values: np.ndarray, how: str) -> np.ndarray:
    """A rule's `source.transform`, sign-preserving (also used when tuning a rule offline)."""
    if how == "sqrt":
        return np.sign(values) * np.sqrt(np.abs(values))
    if how == "log1p":
        return np.sign(values) * np.log1p(np.abs(values))
    return values


class DetectionJob:
    """Runs one rule.  ``run()`` scores everything completed since the last run."""

    def __init__(
        self,
        rule: AlertRule,
        wb,
        state_dir: str | Path | None = DEFAULT_STATE_DIR,
        clock: Callable[[], dt.datetime] | None = None,
        coverage=None,
    ):
        self.rule, self.wb = rule, wb
        self.clock = clock or dt.datetime.now
        # pipeline_heartbeats.RuleCoverage: which buckets the feeding pipeline watched
        self.coverage = coverage
        self.state_path = Path(state_dir) / f"{rule.name}.pkl" if state_dir else None
        self.state: dict[str, Any] = {
            "watermark": None,
            "slices": {},
            "rule": rule.model_dump(mode="json"),
        }
        if self.state_path and self.state_path.exists():
            # The job's own state file, written by save() below into the project's state folder
            # (not input from anyone else): unpickling it is as trusted as the code itself.
            saved = pickle.loads(self.state_path.read_bytes())  # noqa: S301
            if (
                saved.get("rule", {}).get("detector") == self.state["rule"]["detector"]
                and saved.get("rule", {}).get("source") == self.state["rule"]["source"]
            ):
                self.state = saved
            else:  # the rule's source or detector changed: its old state no longer applies
                log.warning("rule %s changed; starting its detection state afresh", rule.name)
        self.last_result: JobResult | None = None

    # -- metadata ---------------------------------------------------------------------------
    def _time_dimension(self) -> str:
        src = self.rule.source
        if src.time_dimension:
            return src.time_dimension
        space = self.wb.namespace(src.namespace)
        ref = space.resolve(src.metric)
        model = space.models[ref.model]
        if getattr(model, "default_time_dimension", None):
            return model.default_time_dimension
        timed = space.time_dimensions(ref.model)
        if timed:
            return timed[0].name
        raise ValueError(
            f"rule {self.rule.name}: cannot find a time dimension for {src.metric}; set "
            "source.time_dimension"
        )

    def _fill_zero(self) -> bool:
        src = self.rule.source
        if src.fill != "auto":
            return src.fill == "zero"
        space = self.wb.namespace(src.namespace)
        member = space.member(space.resolve(src.metric))
        if hasattr(member, "additive"):
            return bool(member.additive)
        if getattr(member, "type", None) == "simple" and member.measure:
            inner = space.member(space.resolve(member.measure))
            return bool(getattr(inner, "additive", False))
        return False

    # -- data -------------------------------------------------------------------------------
    def fetch(self, start: pd.Timestamp | None, end: pd.Timestamp) -> pd.DataFrame:
        """Long frame (ts, slice, value) of complete buckets in [start, end)."""
        src, tdim = self.rule.source, self._time_dimension()
        lo = (start or pd.Timestamp("1970-01-01")).isoformat()
        frames = []
        dims = [tdim] + ([src.slice_by] if src.slice_by else [])
        df = self.wb.query(
            src.namespace,
            [src.metric],
            dims,
            grain=src.grain,
            where=src.where or None,
            time_range=f"{lo}..{end.isoformat()}",
            time_dimension=tdim,
        ).df
        df = df.rename(columns={tdim: "ts", src.metric: "value"})
        df["slice"] = df[src.slice_by].astype(str) if src.slice_by else TOTAL
        frames.append(df[["ts", "slice", "value"]])
        if src.slice_by and src.include_total:
            tot = self.wb.query(
                src.namespace,
                [src.metric],
                [tdim],
                grain=src.grain,
                where=src.where or None,
                time_range=f"{lo}..{end.isoformat()}",
                time_dimension=tdim,
            ).df
            tot = tot.rename(columns={tdim: "ts", src.metric: "value"})
            tot["slice"] = TOTAL
            frames.append(tot[["ts", "slice", "value"]])
        out = pd.concat(frames, ignore_index=True)
        out["ts"] = pd.to_datetime(out["ts"])
        out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
        if src.slices:
            out = out[out["slice"].isin(list(src.slices) + [TOTAL])]
        return out

    def densify(
        self, long: pd.DataFrame, start: pd.Timestamp | None, end: pd.Timestamp
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Wide frame (bucket x slice) over every bucket in [start, end); and the mask of filled cells."""
        grain = self.rule.source.grain
        first = (
            start if start is not None else (floor(long["ts"].min(), grain) if len(long) else end)
        )
        index = pd.date_range(first, end, freq=FREQ[grain], inclusive="left")
        if grain == "week":
            index = pd.DatetimeIndex([floor(t, grain) for t in index]).unique()
        # sum(min_count=1), not pivot_table's sum: a row whose ratio is NULL (0/0, e.g. an hour
        # with only cancelled orders) must stay missing, not turn into a 0 that looks like a drop.
        wide = (
            long.groupby(["ts", "slice"])["value"].sum(min_count=1).unstack("slice")
            if len(long)
            else pd.DataFrame(index=pd.DatetimeIndex([]))
        )
        known = set(self.state["slices"])
        cols = sorted(set(wide.columns) | known)
        if self.rule.source.slices:
            cols = sorted(set(cols) | set(self.rule.source.slices))
        wide = wide.reindex(index=index, columns=cols)
        missing = wide.isna()
        if self._fill_zero():
            wide = wide.fillna(0.0)
        return wide, missing

    # -- scoring ----------------------------------------------------------------------------
    def _detector(self, key: str):
        st = self.state["slices"].get(key)
        det = create(self.rule.detector.name, **self.rule.detector.params)
        if st is not None:
            det.set_state(st["detector"])
        return det, (st["tail"] if st else np.array([], dtype=float))

    def run(self, now: dt.datetime | None = None, since: dt.datetime | None = None) -> JobResult:
        """Score every complete bucket up to ``now`` not scored yet; returns the anomalies."""
        t0 = time.perf_counter()
        rule, grain = self.rule, self.rule.source.grain
        end = floor(pd.Timestamp(now or self.clock()), grain)  # buckets before `end` are complete
        wm = self.state["watermark"]
        start = (
            pd.Timestamp(wm)
            if wm is not None
            else (floor(pd.Timestamp(since), grain) if since else None)
        )
        if rule.pipeline_heartbeat:
            # Only buckets the pipeline has confirmed (caught up after they closed) are judged.
            confirmed = self.coverage.confirmed_to(rule) if self.coverage is not None else None
            limit = floor(confirmed, grain) if confirmed is not None else None
            if limit is None or (limit < end and start is not None and limit <= start):
                why = (
                    "waiting for its pipeline's heartbeat (only the server's live loop sees it)"
                    if self.coverage is None
                    else "waiting for its pipeline to run and catch up"
                )
                self.last_result = JobResult(
                    rule.name,
                    start,
                    start if start is not None else end,
                    [],
                    {},
                    time.perf_counter() - t0,
                    grain=grain,
                    warmup=self.state.get("warmup"),
                    waiting=why,
                )
                return self.last_result
            end = min(end, limit)
        if start is not None and start >= end:
            self.last_result = JobResult(
                rule.name,
                start,
                end,
                [],
                {},
                time.perf_counter() - t0,
                grain=grain,
                warmup=self.state.get("warmup"),
            )
            return self.last_result
        read_from = (
            start - rule.source.lookback * STEP[grain]
            if (start is not None and rule.source.lookback)
            else start
        )
        long = self.fetch(read_from, end)
        if start is not None and read_from != start:
            # Late data for already scored buckets is not re-scored (detectors are past-only);
            # the lookback only keeps slices seen there alive.
            long = long[long["ts"] >= start]
        if start is None and not len(long) and not self.state["slices"]:
            # A first run before the pipeline applied anything (a fresh `make up`): no watermark
            # yet, or the minutes its first batches bring would be behind it and never scored.
            self.last_result = JobResult(
                rule.name, None, end, [], {}, time.perf_counter() - t0, grain=grain
            )
            return self.last_result
        wide, missing = self.densify(long, start, end)
        unwatched = np.zeros(len(wide.index), dtype=bool)
        if rule.pipeline_heartbeat:  # not scored as 0: skipped, like a missing bucket
            unwatched = ~np.asarray(
                self.coverage.covered(rule, wide.index, STEP[grain]), dtype=bool
            )
            wide.loc[unwatched, :] = np.nan
            missing.loc[unwatched, :] = False
        anomalies: list[Anomaly] = []
        reports: dict[str, SliceReport] = {}
        season = SEASON[grain]
        ts_list = list(wide.index)
        ts_np = wide.index.to_numpy()
        fill_zero = self._fill_zero()
        seen: list[int] = []
        needed = None
        for key in wide.columns:
            values = wide[key].to_numpy(dtype=float)
            det, tail = self._detector(key)
            before = dict(det.skipped_by_reason), det.skipped_count
            scores = det.score_series(transform_values(values, self.rule.source.transform), ts_np)
            seen.append(det.n_seen)
            needed = getattr(det.params, "min_history", None)
            rep = SliceReport(
                buckets=len(values),
                filled_zero=int(missing[key].sum()) if fill_zero else 0,
                not_watched=int(unwatched.sum()),
            )
            # true counts of this run (the detector keeps totals per reason), a few recent examples
            rep.skipped = {
                r: n - before[0].get(r, 0)
                for r, n in det.skipped_by_reason.items()
                if n - before[0].get(r, 0) > 0
            }
            rep.skipped_examples = [
                (str(pd.Timestamp(t)), r) for t, r in det.skipped_since(before[1])[-5:]
            ]
            if rep.skipped:
                log.debug("rule %s slice %s: skipped %s", rule.name, key, rep.skipped)
            reports[key] = rep
            history = np.concatenate([tail, values])
            last_known = self.state["slices"].get(key, {}).get("last_known")
            hot = np.flatnonzero(scores >= rule.threshold)
            for i in hot:
                v = values[i]
                e = expected_at(history, len(tail) + int(i), season)
                if e is None:  # too little recent history: the last value seen before this one
                    e = last_known_before(history, len(tail) + int(i), last_known)
                direction = direction_of(v, e)
                if not direction_passes(rule.direction, direction):
                    continue
                if e is not None and abs(v - e) < rule.min_deviation:
                    continue
                anomalies.append(
                    Anomaly(
                        rule=rule.name,
                        namespace=rule.source.namespace,
                        metric=rule.source.metric,
                        grain=grain,
                        slice_by=rule.source.slice_by,
                        slice_value=None if key == TOTAL else key,
                        ts=pd.Timestamp(ts_list[i]).to_pydatetime(),
                        value=float(v),
                        expected=e,
                        score=float(scores[i]),
                        severity=rule.severity_for(float(scores[i])),
                        direction=direction,
                        group=rule.group,
                        rule_where=list(rule.source.where),
                    )
                )
            keep = season * SEASONS_KEPT + 1
            finite = np.flatnonzero(np.isfinite(values))
            if finite.size:
                last_known = float(values[finite[-1]])
            self.state["slices"][key] = {
                "detector": det.get_state(),
                "tail": history[-keep:],
                "last_known": last_known,
            }
        self.state["watermark"] = end
        # Detectors score 0 until they have seen min_history points: say so rather than look idle.
        self.state["warmup"] = (
            (min(seen), int(needed)) if seen and needed and min(seen) < needed else None
        )
        self.save()
        self.last_result = JobResult(
            rule.name,
            start,
            end,
            anomalies,
            reports,
            time.perf_counter() - t0,
            grain=grain,
            warmup=self.state["warmup"],
        )
        return self.last_result

    def save(self) -> None:
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(self.state))
        tmp.replace(self.state_path)

    def reset(self) -> None:
        self.state = {"watermark": None, "slices": {}, "rule": self.rule.model_dump(mode="json")}
        if self.state_path and self.state_path.exists():
            self.state_path.unlink()

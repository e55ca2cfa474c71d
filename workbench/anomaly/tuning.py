"""Tune a detector on one labelled metric series and know how it does on data it has not seen.

    from workbench.anomaly.tuning import metric_series, incident_windows, search, plot_in_vs_out
    wide = metric_series(wb, {"metric": "orders", "grain": "hour", "slice_by": "channel"})
    series = wide["online"]
    windows = incident_windows(series.index, truth[["start_ts", "end_ts"]])
    result = search(series.to_numpy(), series.index, windows, "seasonal",
                    grid=[{"bins": 24}, {"bins": 168}])
    result.table()                    # per setting: in-sample, out-of-sample, the gap, rates
    plot_in_vs_out(result)            # the overfitting gap at a glance
    rule = result.to_alert_rule("online_orders", source={...})   # then save_alert_rule(rule, dir)

**Rolling-origin cross-validation.**  The detectors are streaming and past-only, so a setting's
scores are computed once over the whole series.  What the labels decide -- the setting and the
threshold -- is chosen on the labelled past ``[0, origin)`` only and judged on the next stretch
``[origin, next origin)``, for a few origins (``rolling_origin_splits``).  An origin never cuts a
labelled window in two: it moves to the window's left edge.

**Scores** are NAB's (``workbench.anomaly.nab_scoring``, standard profile by default) on each
stretch, normalised between never firing and firing at every window's left edge; beside them
the mission's rates (``workbench.anomaly.nab_cv.DetectionFigures``): windows detected / windows
and false alarms per 1,000 points and per series-day.

* **in-sample** (per setting): threshold chosen on the whole series and scored there, which is
  what a notebook that tunes and evaluates on the same data reports;
* **out-of-sample** (per setting): each stretch scored with the threshold from its past;
* **nested** (the search as a whole): on each fold the setting *and* threshold are chosen on the
  past, so this is the honest estimate of what ``search`` delivers on new data.

The chosen setting is the best out-of-sample one; its alert-rule threshold is then chosen on all
the labelled data (the final fit uses every label, as usual after cross-validation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.anomaly.alert_rules import AlertRule, load_rule
from workbench.anomaly.detectors import create, get_detector_class
from workbench.anomaly.nab_cv import TIE_TOLERANCE, DetectionFigures, detection_figures
from workbench.anomaly.nab_scoring import (
    DEFAULT_PROFILES,
    PreparedSeries,
    normalise,
    null_score,
    optimise_threshold,
    perfect_score,
    prepare_series,
    probationary_length,
    score_series_at,
    windows_to_indices,
)


@dataclass(frozen=True)
class Split:
    """Choose on ``[0, origin)``, judge on ``[origin, end)``."""

    origin: int
    end: int


def incident_windows(
    timestamps, incidents, margin: pd.Timedelta | str | None = None
) -> list[tuple[int, int]]:
    """Index windows ``(left, right)`` of labelled incidents on ``timestamps``, overlaps merged.

    ``incidents`` is a frame with ``start_ts`` and ``end_ts`` (``jobs_eval.truth_table``) or pairs
    ``(start, end)``; ``margin`` widens each side (a detection just before an outage counts).
    """
    if isinstance(incidents, pd.DataFrame):
        missing = {"start_ts", "end_ts"} - set(incidents.columns)
        if missing:
            raise ValueError(
                f"incidents frame needs columns start_ts and end_ts; missing {sorted(missing)}"
            )
        pairs = list(zip(incidents["start_ts"], incidents["end_ts"], strict=True))
    else:
        pairs = [tuple(p) for p in incidents]
    pad = pd.Timedelta(margin) if margin is not None else pd.Timedelta(0)
    spans = sorted((pd.Timestamp(a) - pad, pd.Timestamp(b) + pad) for a, b in pairs)
    ts = (
        pd.DatetimeIndex(timestamps).tz_localize(None)
        if getattr(timestamps, "tz", None)
        else timestamps
    )
    idx = windows_to_indices(
        np.asarray(ts, dtype="datetime64[ns]"), [(str(a), str(b)) for a, b in spans]
    )
    merged: list[tuple[int, int]] = []
    for left, right in idx:
        if merged and left <= merged[-1][1]:  # overlapping (NAB windows may not overlap)
            merged[-1] = (merged[-1][0], max(merged[-1][1], right))
        else:
            merged.append((left, right))
    return merged


def rolling_origin_splits(
    n: int, windows: Sequence[tuple[int, int]] = (), folds: int = 3, initial: float = 0.5
) -> list[Split]:
    """``folds`` consecutive test stretches after an initial ``initial`` share of the series."""
    if folds < 1:
        raise ValueError(f"folds must be at least 1, got {folds}")
    if not 0 < initial < 1:
        raise ValueError(f"initial must be a share of the series in (0, 1), got {initial}")
    step = (n - initial * n) / folds
    origins = [int(round(initial * n + k * step)) for k in range(folds)]
    for k, o in enumerate(origins):
        for left, right in windows:  # never cut a window: it goes wholly to the test side
            if left < o <= right:
                origins[k] = left
    origins = sorted(set(origins))
    splits = [Split(o, e) for o, e in zip(origins, origins[1:] + [n], strict=True) if 0 < o < e]
    if not splits:
        raise ValueError(f"a series of {n} points is too short for {folds} rolling-origin folds")
    return splits


def choose_threshold(
    prep: PreparedSeries, scores: np.ndarray, profile, rule: str = "midpoint"
) -> tuple[float, float]:
    """Best threshold on ``prep``'s scored points: ``(threshold, raw score)``.

    ``"nab"`` is NAB's rule: the highest threshold with the best score, i.e. the lowest score the
    detector must catch -- on a few labelled incidents that sits right at the edge, and the next
    incident, a little weaker, falls below it.  ``"midpoint"`` (the default here) keeps the same
    detections on ``prep`` but moves the threshold halfway down to the highest score it must not
    catch, the widest margin those labels allow.
    """
    threshold, raw = optimise_threshold([prep], [scores], profile)
    if rule == "midpoint" and math.isfinite(threshold):
        s = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
        below = s[prep.scored & (s < threshold)]
        below = below[np.isfinite(below)]
        if below.size:
            threshold = (threshold + float(below.max())) / 2.0
    elif rule not in ("nab", "midpoint"):
        raise ValueError(f"threshold rule must be 'nab' or 'midpoint', got {rule!r}")
    return threshold, raw


def _segment(prep: PreparedSeries, start: int, end: int) -> PreparedSeries:
    """The same sweep scores, counted only on ``[start, end)`` (probation still excluded)."""
    idx = np.arange(prep.n)
    scored = prep.scored & (idx >= start) & (idx < end)
    n_windows = len({int(w) for w in prep.window_of[scored] if w >= 0})
    return replace(prep, scored=scored, n_windows=n_windows)


@dataclass
class SettingResult:
    setting: int
    params: dict[str, Any]
    in_sample: float
    in_sample_threshold: float
    out_of_sample: float | None  # None: no labelled window in any test stretch
    fold_thresholds: list[float]
    in_figures: DetectionFigures
    out_figures: DetectionFigures


@dataclass
class SearchResult:
    detector: str
    params: dict[str, Any]
    settings: list[SettingResult]
    splits: list[Split]
    chosen: int
    nested_out_of_sample: float | None
    nested_choices: list[int] = field(default_factory=list)

    @property
    def chosen_detector(self) -> str:
        return self.settings[self.chosen].params.get("detector", self.detector)

    @property
    def chosen_params(self) -> dict[str, Any]:
        own = {k: v for k, v in self.settings[self.chosen].params.items() if k != "detector"}
        return {**self.params, **own} if self.chosen_detector == self.detector else own

    @property
    def threshold(self) -> float:
        return self.settings[self.chosen].in_sample_threshold

    def table(self) -> pd.DataFrame:
        rows = []
        for s in self.settings:
            rows.append(
                {
                    "setting": s.setting,
                    "params": s.params,
                    "in_sample": round(s.in_sample, 2),
                    "out_of_sample": None if s.out_of_sample is None else round(s.out_of_sample, 2),
                    "gap": None
                    if s.out_of_sample is None
                    else round(s.in_sample - s.out_of_sample, 2),
                    "accuracy_in": s.in_figures.detection_accuracy,
                    "accuracy_out": s.out_figures.detection_accuracy,
                    "fa_per_1000_in": s.in_figures.false_alarms_per_1000_points,
                    "fa_per_1000_out": s.out_figures.false_alarms_per_1000_points,
                    "chosen": s.setting == self.chosen,
                }
            )
        return pd.DataFrame(rows)

    def to_alert_rule(self, name: str, source: Mapping[str, Any], **fields: Any) -> AlertRule:
        """The chosen configuration as an alert rule (validated like any rule file)."""
        if not math.isfinite(self.threshold) or not 0 < self.threshold <= 1:
            raise ValueError(
                f"setting {self.chosen} of {self.detector} scores best by never firing on the labelled data "
                f"(threshold {self.threshold}); there is no threshold worth saving as an alert rule"
            )
        body = {
            "name": name,
            "source": dict(source),
            "detector": {"name": self.chosen_detector, "params": self.chosen_params},
            "threshold": float(self.threshold),
            **fields,
        }
        return AlertRule.model_validate(body)


def save_alert_rule(rule: AlertRule, directory: str | Path) -> Path:
    """Write ``rule`` as ``<directory>/<name>.yml`` (``AlertRule.to_yaml``) and load it back to check it."""
    path = Path(directory) / f"{rule.name}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rule.to_yaml(), encoding="utf-8")
    load_rule(
        path
    )  # a file that does not load back is an error here, not at the next detection run
    return path


def _seconds(timestamps) -> np.ndarray | None:
    if timestamps is None:
        return None
    ts = np.asarray(
        pd.DatetimeIndex(timestamps).tz_localize(None)
        if getattr(timestamps, "tz", None)
        else timestamps
    )
    if ts.dtype.kind == "M":
        return ts.astype("datetime64[ns]").astype(np.int64) / 1e9
    return ts.astype(float)


def search(
    values,
    timestamps,
    windows: Sequence[tuple[int, int]],
    detector: str,
    grid: Sequence[Mapping[str, Any]] | None = None,
    params: Mapping[str, Any] | None = None,
    splits: Sequence[Split] | None = None,
    folds: int = 3,
    profile: str = "standard",
    probation: int | None = None,
    threshold_rule: str = "midpoint",
) -> SearchResult:
    """Score every setting of ``grid`` (default: the detector's ``tuning_grid``) in and out of sample.

    A grid entry is a dict of parameter overrides; a ``"detector"`` key in it swaps in another
    registered detector for that entry, so one search can compare detectors too.

    ``windows`` are the labelled incidents as index ranges (``incident_windows``); ``probation``
    leading points are not scored (default NAB's ``min(15 %, 750)``) and detectors with a
    ``probation`` knob get it, as the NAB runner does.  ``threshold_rule``: see ``choose_threshold``.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    prof = DEFAULT_PROFILES[profile]
    cls = get_detector_class(detector)
    grid = [dict(g) for g in (grid if grid is not None else cls.tuning_grid)]
    if not grid:
        raise ValueError("grid is empty: give at least one setting ({} for the defaults)")
    base = dict(params or {})
    probation = probationary_length(n) if probation is None else int(probation)
    if "probation" in cls.Params.model_fields and "probation" not in base:
        base["probation"] = probation
    prep = prepare_series("series", n, windows)
    prep = replace(prep, scored=np.arange(n) >= probation)
    prep = replace(prep, n_windows=len({int(w) for w in prep.window_of[prep.scored] if w >= 0}))
    splits = list(splits) if splits is not None else rolling_origin_splits(n, windows, folds)
    seconds = _seconds(timestamps)
    trains = [_segment(prep, 0, s.origin) for s in splits]
    tests = [_segment(prep, s.origin, s.end) for s in splits]
    test_null = sum(null_score([t], prof) for t in tests)
    test_perfect = sum(perfect_score([t], prof) for t in tests)

    scores_by_setting, results = [], []
    for g, overrides in enumerate(grid):
        name = overrides.get("detector", detector)
        knobs = {k: v for k, v in overrides.items() if k != "detector"}
        if name != detector:  # another detector: its own knobs only, plus the probation it has
            knobs = {
                **(
                    {"probation": probation}
                    if "probation" in get_detector_class(name).Params.model_fields
                    else {}
                ),
                **knobs,
            }
        else:
            knobs = {**base, **knobs}
        scores = create(name, **knobs).score_series(values, seconds)
        scores_by_setting.append(scores)
        threshold, raw = choose_threshold(prep, scores, prof, threshold_rule)
        fold_thresholds, out_raw = [], 0.0
        out_fig = DetectionFigures(0, 0, 0, 0, 0.0 if seconds is not None else None)
        for train, test in zip(trains, tests, strict=True):
            t, _ = choose_threshold(train, scores, prof, threshold_rule)
            fold_thresholds.append(t)
            out_raw += score_series_at(test, scores, prof, t).raw
            out_fig = out_fig + detection_figures([test], [scores], prof, t, [seconds])
        results.append(
            SettingResult(
                setting=g,
                params=dict(overrides),
                in_sample=float(
                    normalise(raw, null_score([prep], prof), perfect_score([prep], prof))
                ),
                in_sample_threshold=threshold,
                out_of_sample=float(normalise(out_raw, test_null, test_perfect))
                if test_perfect != test_null
                else None,
                fold_thresholds=fold_thresholds,
                in_figures=detection_figures([prep], [scores], prof, threshold, [seconds]),
                out_figures=out_fig,
            )
        )

    # Nested: on each fold the setting too is chosen on the past only.
    nested_raw, choices = 0.0, []
    for train, test in zip(trains, tests, strict=True):
        best: tuple[int, float, float] | None = None
        for g, scores in enumerate(scores_by_setting):
            t, raw = choose_threshold(train, scores, prof, threshold_rule)
            if best is None or raw > best[2] + TIE_TOLERANCE:
                best = (g, t, raw)
        if best is None:  # not reached: the grid was checked to be non-empty above
            raise ValueError("grid is empty")
        choices.append(best[0])
        nested_raw += score_series_at(test, scores_by_setting[best[0]], prof, best[1]).raw
    nested = (
        float(normalise(nested_raw, test_null, test_perfect)) if test_perfect != test_null else None
    )

    def key(r: SettingResult) -> float:
        return -math.inf if r.out_of_sample is None else r.out_of_sample

    chosen = max(results, key=lambda r: (key(r), -r.setting)).setting
    return SearchResult(detector, base, results, splits, chosen, nested, choices)


def plot_in_vs_out(result, ax=None, title: str | None = None):
    """Scatter of in-sample (x) against out-of-sample (y) score per setting, with the diagonal.

    ``result`` is a ``SearchResult`` or a frame with ``in_sample``, ``out_of_sample`` and
    ``params`` (or ``label``) columns, e.g. one row per setting of a leave-one-category-out run.
    Points far below the diagonal are settings that look good only on the data they were tuned on.
    """
    import matplotlib.pyplot as plt

    if isinstance(result, SearchResult):
        rows = [
            (s.in_sample, s.out_of_sample, str(s.params or "defaults"), s.setting == result.chosen)
            for s in result.settings
            if s.out_of_sample is not None
        ]
        title = title or f"{result.detector}: in-sample vs out-of-sample"
    else:
        labels = (
            result["label"]
            if "label" in result
            else result["params"].map(lambda p: str(p or "defaults"))
        )
        chosen = result["chosen"] if "chosen" in result else [False] * len(result)
        rows = [
            (float(a), float(b), str(c), bool(d))
            for a, b, c, d in zip(
                result["in_sample"], result["out_of_sample"], labels, chosen, strict=True
            )
            if b is not None and not pd.isna(b)
        ]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4))
    xs, ys = [r[0] for r in rows], [r[1] for r in rows]
    ax.scatter(xs, ys, c=["tab:red" if r[3] else "tab:blue" for r in rows])
    for x, y, label, _ in rows:
        ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    lo = min([0.0, *xs, *ys])
    ax.plot([lo, 100], [lo, 100], color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("in-sample score (tuned and scored on the same labels)")
    ax.set_ylabel("out-of-sample score")
    ax.set_title(title or "in-sample vs out-of-sample")
    return ax


def metric_series(wb, source: Mapping[str, Any], end=None) -> pd.DataFrame:
    """A semantic-layer metric as the detection job sees it: bucket x slice, empty buckets filled
    as the rule's ``fill`` says and ``transform`` applied, up to ``end`` (default: the last bucket)."""
    from workbench.anomaly.jobs import FREQ, DetectionJob, floor, transform_values

    rule = AlertRule.model_validate({"name": "tuning", "source": dict(source)})
    job = DetectionJob(rule, wb, state_dir=None)
    grain = rule.source.grain
    if end is None:
        long = job.fetch(None, pd.Timestamp("2262-01-01"))
        if long.empty:
            raise ValueError(
                f"metric {rule.source.metric!r} has no data in namespace {rule.source.namespace!r}"
            )
        end = floor(long["ts"].max(), grain) + pd.tseries.frequencies.to_offset(FREQ[grain])
    end = pd.Timestamp(end)
    wide, _ = job.densify(job.fetch(None, end), None, end)
    return wide.apply(
        lambda col: pd.Series(
            transform_values(col.to_numpy(dtype=float), rule.source.transform), index=col.index
        )
    )

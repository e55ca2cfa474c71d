"""Out-of-sample figures on a labelled corpus: leave-one-category-out (LOCO) and the mission's rates.

NAB's scoreboard optimises the threshold on the corpus it reports, and a detector's defaults are
usually tuned there too, so its score says little about data the detector has not seen.  LOCO
answers that question with the categories as the unit of novelty: for every category, the
detector setting (from a small grid declared in code) *and* the threshold are chosen on the other
categories only, then the held-out category is scored with NAB's method at that threshold.

Everything here works on scores already computed (one array per series per setting), because
the detectors are streaming and past-only: a setting's scores do not depend on which series are
"training", only the choices made from the labels do.

The two figures the mission names are defined here, on NAB's own counting (docs/anomaly.md):

* **detection accuracy** = labelled windows with at least one detection / labelled windows;
* **false alarms** = detections (points scoring ``>=`` the threshold) outside every window,
  per 1,000 scored points and per series-day (scored points only: NAB's probation excluded).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from workbench.anomaly.nab_scoring import (
    PreparedSeries,
    Profile,
    normalise,
    null_score,
    optimise_threshold,
    perfect_score,
    score_series_at,
)

SECONDS_PER_DAY = 86400.0
TIE_TOLERANCE = 1e-9


@dataclass
class DetectionFigures:
    """Windows found and false alarms at one threshold (see the module docstring)."""

    windows: int
    detected: int
    false_alarms: int
    points: int
    series_days: float | None

    @property
    def detection_accuracy(self) -> float | None:
        return self.detected / self.windows if self.windows else None

    @property
    def false_alarms_per_1000_points(self) -> float | None:
        return 1000.0 * self.false_alarms / self.points if self.points else None

    @property
    def false_alarms_per_series_day(self) -> float | None:
        return self.false_alarms / self.series_days if self.series_days else None

    def as_dict(self) -> dict:
        def r(x, nd=4):
            return None if x is None else round(x, nd)

        return {
            **asdict(self),
            "series_days": r(self.series_days, 2),
            "detection_accuracy": r(self.detection_accuracy),
            "false_alarms_per_1000_points": r(self.false_alarms_per_1000_points),
            "false_alarms_per_series_day": r(self.false_alarms_per_series_day),
        }

    def __add__(self, other: DetectionFigures) -> DetectionFigures:
        days = (
            None
            if self.series_days is None or other.series_days is None
            else self.series_days + other.series_days
        )
        return DetectionFigures(
            self.windows + other.windows,
            self.detected + other.detected,
            self.false_alarms + other.false_alarms,
            self.points + other.points,
            days,
        )


def scored_days(prepared: PreparedSeries, seconds: np.ndarray | None) -> float | None:
    """Time covered by a series' scored points, in days; ``None`` without usable timestamps."""
    if seconds is None:
        return None
    idx = np.flatnonzero(prepared.scored)
    if idx.size < 2:
        return 0.0
    # Span plus one median step, so n points at a fixed interval cover n intervals.
    ts = np.asarray(seconds, dtype=float)[idx]
    step = float(np.median(np.diff(ts)))
    span = float(ts[-1] - ts[0]) + step
    return span / SECONDS_PER_DAY if np.isfinite(span) and span > 0 else None


def detection_figures(
    prepared: Sequence[PreparedSeries],
    scores: Sequence[np.ndarray],
    profile: Profile,
    threshold: float,
    seconds: Sequence[np.ndarray | None] | None = None,
) -> DetectionFigures:
    """Detection accuracy and false alarms of ``scores`` at ``threshold`` over ``prepared``."""
    total = DetectionFigures(0, 0, 0, 0, 0.0)
    for i, (prep, sc) in enumerate(zip(prepared, scores, strict=True)):
        r = score_series_at(prep, sc, profile, threshold)
        days = scored_days(prep, None if seconds is None else seconds[i])
        total = total + DetectionFigures(r.tp + r.fn, r.tp, r.fp, int(prep.scored.sum()), days)
    return total


@dataclass
class HeldOut:
    """One LOCO fold: what was chosen without ``category`` and how it scored on it."""

    category: str
    setting: int  # index into the grid
    params: dict
    threshold: float
    train_normalised: float
    normalised: float | None  # None: the held-out category has no windows
    raw: float
    figures: DetectionFigures

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "setting": self.setting,
            "params": self.params,
            "threshold": self.threshold,
            "train_normalised": round(self.train_normalised, 2),
            "normalised": None if self.normalised is None else round(self.normalised, 2),
            "raw": round(self.raw, 3),
            **self.figures.as_dict(),
        }


def categories_of(prepared: Sequence[PreparedSeries]) -> list[str]:
    return sorted({p.category for p in prepared})


def leave_one_category_out(
    prepared: Sequence[PreparedSeries],
    scores_by_setting: Sequence[Sequence[np.ndarray]],
    grid: Sequence[Mapping],
    profile: Profile,
    seconds: Sequence[np.ndarray | None] | None = None,
) -> list[HeldOut]:
    """For each category: choose a setting and threshold on the rest, score the category with them.

    ``scores_by_setting[g][i]`` are the scores of series ``i`` under ``grid[g]``.  The setting
    with the best total score on the other categories wins; a tie goes to the earlier grid
    point (list the default first).  Nothing about the held-out category is used to choose.
    """
    cats = categories_of(prepared)
    if len(cats) < 2:
        raise ValueError(
            f"leave-one-category-out needs at least two categories (data/<category>/<series>.csv); "
            f"found {cats or 'none'}"
        )
    if len(scores_by_setting) != len(grid):
        raise ValueError(f"{len(scores_by_setting)} score sets for {len(grid)} grid points")
    out = []
    for cat in cats:
        train = [i for i, p in enumerate(prepared) if p.category != cat]
        test = [i for i, p in enumerate(prepared) if p.category == cat]
        train_prep = [prepared[i] for i in train]
        best: tuple[int, float, float] | None = None
        for g, scores in enumerate(scores_by_setting):
            threshold, raw = optimise_threshold(train_prep, [scores[i] for i in train], profile)
            # A float-rounding difference is a tie, and a tie keeps the earlier grid point.
            if best is None or raw > best[2] + TIE_TOLERANCE:
                best = (g, threshold, raw)
        if best is None:
            raise ValueError("the grid is empty: give at least one setting ({} for the defaults)")
        g, threshold, train_raw = best
        test_prep = [prepared[i] for i in test]
        test_scores = [scores_by_setting[g][i] for i in test]
        raw = sum(
            score_series_at(p, s, profile, threshold).raw
            for p, s in zip(test_prep, test_scores, strict=True)
        )
        null, perfect = null_score(test_prep, profile), perfect_score(test_prep, profile)
        out.append(
            HeldOut(
                category=cat,
                setting=g,
                params=dict(grid[g]),
                threshold=threshold,
                train_normalised=normalise(
                    train_raw, null_score(train_prep, profile), perfect_score(train_prep, profile)
                ),
                normalised=normalise(raw, null, perfect) if perfect != null else None,
                raw=raw,
                figures=detection_figures(
                    test_prep,
                    test_scores,
                    profile,
                    threshold,
                    None if seconds is None else [seconds[i] for i in test],
                ),
            )
        )
    return out


def loco_summary(
    folds: Sequence[HeldOut], prepared: Sequence[PreparedSeries], profile: Profile
) -> dict:
    """Mean of the held-out categories' normalised scores (those with windows) and the pooled score.

    The pooled score sums every held-out raw score and normalises once over the corpus, which is
    the LOCO counterpart of NAB's corpus score; the mean weighs each category equally.
    """
    scored = [f.normalised for f in folds if f.normalised is not None]
    pooled = normalise(
        sum(f.raw for f in folds), null_score(prepared, profile), perfect_score(prepared, profile)
    )
    figures = folds[0].figures
    for f in folds[1:]:
        figures = figures + f.figures
    return {
        "mean": round(float(np.mean(scored)), 2) if scored else None,
        "pooled": round(pooled, 2),
        "per_category": {
            f.category: None if f.normalised is None else round(f.normalised, 2) for f in folds
        },
        "figures": figures.as_dict(),
    }

"""NAB (Numenta Anomaly Benchmark) scoring, reimplemented from the published method.

The method, as NAB v1.0 publishes it (``nab/sweeper.py``):

* The first ``min(floor(0.15 * n), 0.15 * 5000)`` points of a series are probationary and
  are dropped from scoring altogether (neither detections nor windows there count).
* Every point ``i`` carries a *sweep score*, independent of the detector:
  - inside a window ``[L, R]`` (indices, width ``W = R - L + 1``) its relative position is
    ``y = -(R - i + 1) / W`` (``-1`` at the left edge, ``-1/W`` at the right edge) and the
    reward is ``scaled_sigmoid(y) * tp_weight / scaled_sigmoid(-1)``;
  - outside every window the cost is ``fp_weight * -1`` if no window precedes the point,
    otherwise ``fp_weight * scaled_sigmoid(|R_prev - i| / (W_prev - 1))``.
  ``scaled_sigmoid(y) = 2 * sigmoid(-5 y) - 1``, and ``-1`` once ``y > 3`` (as in NAB).
* For a threshold ``t`` a point is a detection when its anomaly score is ``>= t``.  A window
  earns the reward of its earliest detection (the largest, because the sigmoid falls with
  position) or ``-fn_weight`` when it has none; every detection outside a window adds its cost.
* One threshold per profile is chosen for the whole corpus: the one maximising the summed
  raw score.  Scores are normalised as ``100 * (S - S_null) / (S_perfect - S_null)``, where
  the null detector never fires (``S_null = -fn_weight * windows``) and the perfect detector
  fires at the left edge of every window (``S_perfect = tp_weight * windows``).

The threshold sweep is vectorised: sort every scored point of the corpus by anomaly score once,
then the total score at each candidate threshold is a cumulative sum of false-positive costs
plus the per-window improvement of the best reward so far.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PROBATION_PERCENT = 0.15


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


DEFAULT_PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 1.0, 0.11),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
}


def load_profiles(path: str | Path) -> dict[str, Profile]:
    """Read NAB's ``config/profiles.json``."""
    raw = json.loads(Path(path).read_text())
    profiles = {}
    for name, body in raw.items():
        cost = body["CostMatrix"]
        profiles[name] = Profile(
            name, float(cost["tpWeight"]), float(cost["fnWeight"]), float(cost["fpWeight"])
        )
    return profiles


def scaled_sigmoid(y: np.ndarray | float) -> np.ndarray | float:
    """NAB's ``2 * sigmoid(-5 y) - 1``, pinned to ``-1`` once ``y > 3``."""
    arr = np.asarray(y, dtype=float)
    # exp overflows harmlessly to inf for large y, but those are replaced by -1 anyway.
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * arr)) - 1.0
    val = np.where(arr > 3.0, -1.0, val)
    return float(val) if np.ndim(y) == 0 else val


MAX_TP = float(scaled_sigmoid(-1.0))


def probationary_length(n: int, percent: float = PROBATION_PERCENT) -> int:
    """Number of leading points whose detections NAB ignores."""
    return int(min(math.floor(percent * n), percent * 5000))


@dataclass
class PreparedSeries:
    """Label-derived sweep scores of one series (independent of detector and profile).

    ``window_of`` is ``-1`` outside windows, else the window's index within the series;
    ``tp_unit`` is the unweighted in-window reward ``scaled_sigmoid(y) / scaled_sigmoid(-1)``;
    ``fp_unit`` the unweighted (negative) out-of-window cost.  Probationary points are kept
    in the arrays but flagged in ``scored``.
    """

    name: str
    n: int
    window_of: np.ndarray
    tp_unit: np.ndarray
    fp_unit: np.ndarray
    scored: np.ndarray
    n_windows: int
    windows: list[tuple[int, int]] = field(default_factory=list)

    @property
    def category(self) -> str:
        return self.name.split("/")[0] if "/" in self.name else ""


def prepare_series(name: str, n: int, windows: Sequence[tuple[int, int]]) -> PreparedSeries:
    """Compute per-point sweep scores from window index ranges ``[(L, R), ...]`` (inclusive)."""
    windows = sorted((int(a), int(b)) for a, b in windows)
    window_of = np.full(n, -1, dtype=np.int64)
    tp_unit = np.zeros(n)
    fp_unit = np.full(n, -1.0)
    idx = np.arange(n)
    prev_right = None
    prev_width = None
    cursor = 0
    for w, (left, right) in enumerate(windows):
        if not (0 <= left <= right < n):
            raise ValueError(f"{name}: window {left}..{right} outside 0..{n - 1}")
        if left < cursor:
            raise ValueError(f"{name}: overlapping windows at index {left}")
        gap = slice(cursor, left)
        fp_unit[gap] = _fp_after(idx[gap], prev_right, prev_width)
        width = right - left + 1
        inside = slice(left, right + 1)
        window_of[inside] = w
        tp_unit[inside] = scaled_sigmoid(-(right - idx[inside] + 1) / width) / MAX_TP
        prev_right, prev_width, cursor = right, width, right + 1
    tail = slice(cursor, n)
    fp_unit[tail] = _fp_after(idx[tail], prev_right, prev_width)
    scored = idx >= probationary_length(n)
    n_windows = len({int(w) for w in window_of[scored] if w >= 0})
    return PreparedSeries(name, n, window_of, tp_unit, fp_unit, scored, n_windows, windows)


def _fp_after(indices: np.ndarray, prev_right: int | None, prev_width: int | None) -> np.ndarray:
    if prev_right is None:
        return np.full(len(indices), -1.0)
    # A one-point window would divide by zero; NAB never has one, treat as "far past".
    denom = float(prev_width - 1) if prev_width and prev_width > 1 else 1e-12
    return np.asarray(scaled_sigmoid(np.abs(prev_right - indices) / denom), dtype=float)


def windows_to_indices(
    timestamps: np.ndarray, windows: Iterable[Sequence]
) -> list[tuple[int, int]]:
    """Map ``[start, end]`` timestamp windows onto inclusive index ranges of ``timestamps``."""
    ts = np.asarray(timestamps, dtype="datetime64[ns]")
    out = []
    for start, end in windows:
        left = int(np.searchsorted(ts, np.datetime64(_iso(start), "ns"), side="left"))
        right = int(np.searchsorted(ts, np.datetime64(_iso(end), "ns"), side="right")) - 1
        if left <= right:
            out.append((left, right))
    return out


def _iso(value) -> str:
    return str(value).strip().replace(" ", "T")


# --------------------------------------------------------------------------- scoring


@dataclass
class SeriesResult:
    name: str
    raw: float
    tp: int
    fp: int
    fn: int
    n_windows: int


def score_series_at(
    prepared: PreparedSeries, scores: np.ndarray, profile: Profile, threshold: float
) -> SeriesResult:
    """Raw NAB score of one series for a fixed threshold."""
    scores = np.asarray(scores, dtype=float)
    if scores.shape != (prepared.n,):
        raise ValueError(f"{prepared.name}: {scores.shape[0]} scores for {prepared.n} points")
    detected = (np.nan_to_num(scores, nan=-np.inf) >= threshold) & prepared.scored
    win = prepared.window_of
    fp_mask = detected & (win < 0)
    raw = float(profile.fp_weight * prepared.fp_unit[fp_mask].sum())
    tp = fn = 0
    for w in np.unique(win[prepared.scored & (win >= 0)]):
        hits = np.flatnonzero(detected & (win == w))
        if hits.size:
            raw += profile.tp_weight * prepared.tp_unit[hits[0]]
            tp += 1
        else:
            raw -= profile.fn_weight
            fn += 1
    return SeriesResult(prepared.name, raw, tp, int(fp_mask.sum()), fn, prepared.n_windows)


def null_score(prepared: Iterable[PreparedSeries], profile: Profile) -> float:
    return -profile.fn_weight * sum(p.n_windows for p in prepared)


def perfect_score(prepared: Iterable[PreparedSeries], profile: Profile) -> float:
    return profile.tp_weight * sum(p.n_windows for p in prepared)


def normalise(raw: float, null: float, perfect: float) -> float:
    if perfect == null:
        return 0.0
    return 100.0 * (raw - null) / (perfect - null)


def optimise_threshold(
    prepared: Sequence[PreparedSeries], scores: Sequence[np.ndarray], profile: Profile
) -> tuple[float, float]:
    """Corpus-wide threshold maximising the summed raw score: ``(threshold, raw_score)``.

    Ties in score go to the highest threshold, as NAB's sweep (high to low, strict ``>``) does.
    A threshold above every score (no detections at all) is a candidate too.
    """
    s_parts, v_parts, g_parts = [], [], []
    offset = 0
    n_windows = 0
    for prep, sc in zip(prepared, scores, strict=True):
        sc = np.nan_to_num(np.asarray(sc, dtype=float), nan=-np.inf)
        m = prep.scored
        win = prep.window_of[m]
        in_win = win >= 0
        value = np.where(
            in_win, profile.tp_weight * prep.tp_unit[m], profile.fp_weight * prep.fp_unit[m]
        )
        s_parts.append(sc[m])
        v_parts.append(value)
        g_parts.append(np.where(in_win, win + offset, -1))
        offset += len(prep.windows) + 1
        n_windows += prep.n_windows
    s = np.concatenate(s_parts) if s_parts else np.zeros(0)
    v = np.concatenate(v_parts) if v_parts else np.zeros(0)
    g = np.concatenate(g_parts) if g_parts else np.zeros(0, dtype=np.int64)
    base = -profile.fn_weight * n_windows
    if s.size == 0:
        return math.inf, base

    order = np.argsort(-s, kind="stable")
    s, v, g = s[order], v[order], g[order]
    delta = np.where(g < 0, v, 0.0)

    wpos = np.flatnonzero(g >= 0)
    if wpos.size:
        # Per window, the best reward among points at or above the threshold only grows as
        # the threshold falls; each improvement is a delta at the point that caused it.
        wg = g[wpos]
        by_group = np.argsort(wg, kind="stable")
        pos_sorted, grp_sorted, val_sorted = wpos[by_group], wg[by_group], v[wpos][by_group]
        starts = np.r_[True, grp_sorted[1:] != grp_sorted[:-1]]
        # Shift each group's values into its own band so one running max serves all groups.
        band = np.cumsum(starts) * 4.0 * (abs(profile.tp_weight) + abs(profile.fn_weight) + 1.0)
        running = np.maximum.accumulate(val_sorted + band) - band
        prev = np.r_[0.0, running[:-1]]
        prev[starts] = -profile.fn_weight
        delta[pos_sorted] = running - prev

    total = base + np.cumsum(delta)
    # Only the last point of each run of equal scores is a valid cut.
    ends = np.r_[s[1:] != s[:-1], True]
    cand_scores = np.r_[base, total[ends]]
    cand_thresholds = np.r_[math.inf, s[ends]]
    best = int(np.argmax(cand_scores))
    return float(cand_thresholds[best]), float(cand_scores[best])


@dataclass
class ProfileResult:
    profile: str
    threshold: float
    raw: float
    null: float
    perfect: float
    normalised: float
    tp: int
    fp: int
    fn: int
    per_category: dict[str, float | None]
    per_category_raw: dict[str, float]
    per_series: dict[str, float]


def score_corpus(
    prepared: Sequence[PreparedSeries],
    scores: Sequence[np.ndarray],
    profiles: Mapping[str, Profile] | None = None,
) -> dict[str, ProfileResult]:
    """Optimise the threshold per profile and report normalised corpus and category scores."""
    profiles = dict(profiles or DEFAULT_PROFILES)
    results = {}
    for name, profile in profiles.items():
        threshold, _ = optimise_threshold(prepared, scores, profile)
        per = [
            score_series_at(p, s, profile, threshold) for p, s in zip(prepared, scores, strict=True)
        ]
        raw = sum(r.raw for r in per)
        null, perfect = null_score(prepared, profile), perfect_score(prepared, profile)
        per_category: dict[str, float | None] = {}
        per_category_raw: dict[str, float] = {}
        for cat in sorted({p.category for p in prepared}):
            members = [i for i, p in enumerate(prepared) if p.category == cat]
            cat_prep = [prepared[i] for i in members]
            cat_raw = sum(per[i].raw for i in members)
            per_category_raw[cat] = cat_raw
            cat_null, cat_perfect = null_score(cat_prep, profile), perfect_score(cat_prep, profile)
            # A category without windows (artificialNoAnomaly) cannot be normalised; its raw
            # score (the false-positive cost) is still reported.
            per_category[cat] = (
                normalise(cat_raw, cat_null, cat_perfect) if cat_perfect != cat_null else None
            )
        results[name] = ProfileResult(
            profile=name,
            threshold=threshold,
            raw=raw,
            null=null,
            perfect=perfect,
            normalised=normalise(raw, null, perfect),
            tp=sum(r.tp for r in per),
            fp=sum(r.fp for r in per),
            fn=sum(r.fn for r in per),
            per_category=per_category,
            per_category_raw=per_category_raw,
            per_series={r.name: r.raw for r in per},
        )
    return results

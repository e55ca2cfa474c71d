"""How insights aggregate a metric over buckets and slices: additive, ratio, or other.

- **additive** (a sum or a count): values add up over buckets and slices, and a bucket without
  rows is 0. The expected value is the mean over past seasons; slices split the change exactly.
- **ratio** (numerator / denominator, both additive, e.g. ``avg_shelf_price = line_gross_sales /
  units``): values must never be summed or averaged bucket by bucket (seven hourly prices summed
  are not a price, and a season without sales is not a price of 0). Insights query the numerator
  and denominator through the semantic layer and re-aggregate: the expected value is
  ``sum(numerator) / sum(denominator)`` over the same bucket in past seasons, and the change is
  split between slices by a **mix/rate decomposition** (``ratio_contributions``).
- **other** (avg, count distinct, derived, ...): nothing to decompose exactly. The expected value
  is the mean of the past buckets that have a value (missing ones are left out, not 0), and slices
  are **ranked by their own deviation** from their own expected value (``deviation_ranking``).

The 7-day trend is, for every kind, the metric itself queried over each 7-day range: the semantic
layer aggregates it correctly (a sum, a pooled ratio, a distinct count over the whole week).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

METHODS = {
    "additive": "additive split: each slice's change against its expected value",
    "ratio": "mix/rate decomposition: a slice's rate change weighted by its current share, plus the "
    "effect of its share moving towards or away from a rate above or below the expected total",
    "other": "slices ranked by their own deviation from their own expected value (the metric is not "
    "additive, so shares of the change are not defined)",
}


@dataclass(frozen=True)
class MetricShape:
    kind: str  # additive | ratio | other
    numerator: str | None = None  # ratio only: the additive members it is built from
    denominator: str | None = None

    @property
    def columns(self) -> list[str]:
        """The columns a frame of this metric carries besides ``value``."""
        return ["num", "den"] if self.kind == "ratio" else []


def _additive(space, member, depth: int = 0) -> bool:
    if hasattr(member, "additive"):  # a measure
        return bool(member.additive)
    if getattr(member, "type", None) == "simple" and member.measure and depth < 8:
        return _additive(
            space, space.member(space.resolve(member.measure, ("measure",))), depth + 1
        )
    return False


def metric_shape(wb, namespace: str, metric: str) -> MetricShape:
    space = wb.namespace(namespace)
    member = space.member(space.resolve(metric))
    if _additive(space, member):
        return MetricShape("additive")
    if getattr(member, "type", None) == "ratio":
        num = space.member(space.resolve(member.numerator))
        den = space.member(space.resolve(member.denominator))
        if _additive(space, num) and _additive(space, den):
            return MetricShape("ratio", member.numerator, member.denominator)
    return MetricShape("other")


def expected_by(past: pd.DataFrame, shape: MetricShape, seasons: int, by: str) -> pd.Series:
    """Expected value per value of ``by`` from the rows of the past seasons (see the module doc)."""
    g = past.groupby(by)
    if shape.kind == "additive":
        return g["value"].sum() / seasons
    if shape.kind == "ratio":
        s = g[["num", "den"]].sum()
        return s["num"] / s["den"].where(s["den"] != 0)
    return g["value"].mean()  # skips missing values


def expected_total(past: pd.DataFrame, shape: MetricShape, seasons: int) -> float | None:
    """The expected value of the whole bucket (``past`` has one row per past season)."""
    if past.empty:
        return None
    e = expected_by(past.assign(_all=0), shape, seasons, "_all")
    v = float(e.iloc[0]) if len(e) else float("nan")
    return v if np.isfinite(v) else None


def contributions(actual: pd.Series, expected: pd.Series) -> pd.DataFrame:
    """Additive metrics: per-slice change and share of the total change (indexed by slice).

    Missing on one side counts as 0 (a slice that vanished contributed all of its expected value).
    """
    idx = actual.index.union(expected.index)
    a = actual.reindex(idx).fillna(0.0).astype(float)
    e = expected.reindex(idx).fillna(0.0).astype(float)
    delta = a - e
    total = float(delta.sum())
    share = delta / total if total != 0 else delta * 0.0
    out = pd.DataFrame({"actual": a, "expected": e, "delta": delta, "share": share})
    # Order by contribution in the direction of the total change.
    return out.reindex((delta * (1 if total >= 0 else -1)).sort_values(ascending=False).index)


def ratio_contributions(actual: pd.DataFrame, expected: pd.DataFrame) -> pd.DataFrame:
    """Mix/rate decomposition of a ratio's change (frames with ``num``, ``den`` per slice).

    With weights ``w = den_i / sum(den)`` and rates ``r = num_i / den_i``, the total is
    ``R = sum(w * r)`` and, exactly, ``R_act - R_exp = sum(rate_i + mix_i)`` with

    - ``rate_i = w_act (r_act - r_exp)``: the slice's own rate moved;
    - ``mix_i = (w_act - w_exp)(r_exp - R_exp)``: its weight moved, towards a rate above or below
      the expected total.

    A slice new in ``actual`` takes ``r_exp = r_act`` (all mix); a vanished one has ``w_act = 0``.
    Hand-written: no maintained library does this decomposition on two small frames.
    """
    idx = actual.index.union(expected.index)
    a = actual.reindex(idx)[["num", "den"]].fillna(0.0).astype(float)
    e = expected.reindex(idx)[["num", "den"]].fillna(0.0).astype(float)
    if a["den"].sum() == 0 or e["den"].sum() == 0:
        return pd.DataFrame(
            columns=["actual", "expected", "delta", "share", "rate_effect", "mix_effect"]
        )
    w_a, w_e = a["den"] / a["den"].sum(), e["den"] / e["den"].sum()
    r_a = a["num"] / a["den"].where(a["den"] != 0)
    r_e = (e["num"] / e["den"].where(e["den"] != 0)).fillna(r_a)
    total_e = e["num"].sum() / e["den"].sum()
    rate = (w_a * (r_a - r_e)).fillna(0.0)
    mix = (w_a - w_e) * (r_e - total_e)
    mix = mix.fillna(0.0)
    delta = rate + mix
    total = float(delta.sum())
    out = pd.DataFrame(
        {
            "actual": r_a,
            "expected": r_e,
            "delta": delta,
            "share": delta / total if total != 0 else delta * 0.0,
            "rate_effect": rate,
            "mix_effect": mix,
        }
    )
    return out.reindex((delta * (1 if total >= 0 else -1)).sort_values(ascending=False).index)


def deviation_ranking(actual: pd.Series, expected: pd.Series, sign: float) -> pd.DataFrame:
    """Other non-additive metrics: slices that have both values, ranked by ``actual - expected``
    in the direction ``sign`` of the overall change. ``share`` is left undefined (NaN)."""
    both = pd.DataFrame({"actual": actual, "expected": expected}).dropna().astype(float)
    both["delta"] = both["actual"] - both["expected"]
    both["share"] = np.nan
    return both.reindex(
        (both["delta"] * (1 if sign >= 0 else -1)).sort_values(ascending=False).index
    )


def seasonal_forecast(
    values: list[tuple[float, float, float]], shape: MetricShape
) -> tuple[float, float] | None:
    """(forecast, sd) of one future bucket from the same phase in past seasons.

    ``values`` holds ``(value, num, den)`` per past season, NaN where the season had no rows.
    Additive: a missing season is 0. Ratio: pooled ``sum(num) / sum(den)``, spread of the seasons'
    own ratios. Other: mean and spread of the seasons that have a value. ``None``: no basis."""
    v = np.array([x[0] for x in values], dtype=float)
    if shape.kind == "additive":
        v = np.nan_to_num(v, nan=0.0)
        mean = float(v.mean())
    elif shape.kind == "ratio":
        num = np.nansum([x[1] for x in values])
        den = np.nansum([x[2] for x in values])
        if den == 0:
            return None
        mean = float(num / den)
        v = v[np.isfinite(v)]
    else:
        v = v[np.isfinite(v)]
        if not v.size:
            return None
        mean = float(v.mean())
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return mean, sd

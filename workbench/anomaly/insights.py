"""Insights: a deterministic, plain-language explanation of an incident, computed from numbers.

For the incident's strongest anomaly it states

- **what moved**: the metric and slice, its value against the expected value, absolute and %;
- **who contributed**: contribution analysis down the rule's drill path. For each dimension of
  ``rule.drill`` the metric is queried per slice at the anomaly's bucket and at the same bucket
  in the previous ``seasons`` seasons (the expected value per slice). For an additive metric a
  slice's contribution is ``actual - expected`` and its share that divided by the total change;
  a ratio's change is split by a mix/rate decomposition; any other metric's slices are ranked by
  their own deviation (``insights_metrics``). The top slice is drilled into with the next dimension;
- **the recent trend**: the metric over the last 7 days against the 7 days before, each queried
  as one range through the semantic layer (so a ratio is re-aggregated, never summed);
- **a short-horizon forecast**: the next ``horizon`` buckets by seasonal naive (the same phase in
  past seasons, aggregated as the metric requires) with an interval from the spread of those seasons.

Expected values respect the metric's aggregation (``insights_metrics.metric_shape``): a ratio's
expected value is ``sum(numerator) / sum(denominator)`` over the past seasons' buckets, queried
through the semantic layer; the facts say which method was used (``aggregation``, ``drill_method``).

``explain(...)`` returns an ``Insight`` whose ``facts`` hold every number and whose ``text`` is
built from them by templates. ``rephrase(insight, llm)`` lets a LangChain chat model reword the
text; the reworded text is only used if every number of the facts still appears in it, else the
deterministic text is kept. No LangChain import is needed: any object with ``invoke(str)`` works.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.anomaly.insights_metrics import (
    METHODS,
    MetricShape,
    contributions,
    deviation_ranking,
    expected_by,
    expected_total,
    metric_shape,
    ratio_contributions,
    seasonal_forecast,
)
from workbench.anomaly.jobs import STEP, TOTAL

__all__ = [
    "Explainer",
    "Insight",
    "contributions",
    "explain_incident",
    "ratio_contributions",
    "deviation_ranking",
    "render",
    "rephrase",
]

SEASON_STEP = {
    "minute": pd.Timedelta(days=1),
    "hour": pd.Timedelta(weeks=1),
    "day": pd.Timedelta(weeks=1),
    "week": pd.Timedelta(weeks=52),
}


@dataclass
class Insight:
    facts: dict[str, Any]
    text: str
    rephrased: bool = False
    lines: list[str] = field(default_factory=list)


def _fmt(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.1f}%"


class Explainer:
    def __init__(self, wb, rules: dict, seasons: int = 4, horizon: int = 6, max_depth: int = 3):
        self.wb, self.rules = wb, rules
        self.seasons, self.horizon, self.max_depth = seasons, horizon, max_depth
        self._shapes: dict[tuple[str, str], MetricShape] = {}

    def shape(self, rule) -> MetricShape:
        key = (rule.source.namespace, rule.source.metric)
        if key not in self._shapes:
            self._shapes[key] = metric_shape(self.wb, *key)
        return self._shapes[key]

    def _series(
        self, rule, where: list[str], dims: list[str], start, end, grain: str | None = "rule"
    ) -> pd.DataFrame:
        """The metric (and, for a ratio, its numerator ``num`` and denominator ``den``) per bucket
        of the rule's grain, or over the whole range with ``grain=None``."""
        src, shape = rule.source, self.shape(rule)
        tdim = _time_dim(self.wb, rule)
        metrics = [src.metric] + (
            [shape.numerator, shape.denominator] if shape.kind == "ratio" else []
        )
        df = self.wb.query(
            src.namespace,
            metrics,
            ([tdim] if grain else []) + dims,
            grain=src.grain if grain else None,
            where=(src.where + where) or None,
            time_dimension=tdim,
            time_range=f"{pd.Timestamp(start).isoformat()}..{pd.Timestamp(end).isoformat()}",
        ).df
        df = df.rename(columns={tdim: "ts", src.metric: "value"})
        if shape.kind == "ratio":
            df = df.rename(columns={shape.numerator: "num", shape.denominator: "den"})
        for c in ["value"] + shape.columns:
            df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
        return df

    def _at(self, rule, where, dims, ts) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(rows at ts, rows at the same bucket in the past ``seasons`` seasons, with ``k``)."""
        grain = rule.source.grain
        step, season = STEP[grain], SEASON_STEP[grain]
        cur = self._series(rule, where, dims, ts, ts + step)
        past = []
        for k in range(1, self.seasons + 1):
            p = self._series(rule, where, dims, ts - k * season, ts - k * season + step)
            p["k"] = k
            past.append(p)
        past = pd.concat(past, ignore_index=True)
        return cur, past

    def _drill_step(self, rule, dim, cur, past, sign: float) -> pd.DataFrame:
        shape = self.shape(rule)
        if shape.kind == "additive":
            return contributions(
                cur.groupby(dim)["value"].sum(), expected_by(past, shape, self.seasons, dim)
            )
        if shape.kind == "ratio":
            return ratio_contributions(
                cur.groupby(dim)[["num", "den"]].sum(), past.groupby(dim)[["num", "den"]].sum()
            )
        return deviation_ranking(
            cur.groupby(dim)["value"].mean(), expected_by(past, shape, self.seasons, dim), sign
        )

    def explain_anomaly(self, anomaly: dict) -> Insight:
        rule = self.rules[anomaly["rule"]]
        shape = self.shape(rule)
        ts = pd.Timestamp(anomaly["ts"])
        grain = rule.source.grain
        base_where = (
            [f"{rule.source.slice_by} = '{anomaly['slice_value']}'"]
            if rule.source.slice_by and anomaly.get("slice_value") not in (None, TOTAL)
            else []
        )
        facts: dict[str, Any] = {
            "metric": rule.source.metric,
            "slice": base_where[0] if base_where else "all",
            "at": ts.isoformat(),
            "grain": grain,
            "value": round(float(anomaly["value"]), 2),
            "aggregation": shape.kind,
        }
        # what moved: value vs the same bucket in past seasons, aggregated as the metric requires
        cur, past = self._at(rule, base_where, [], ts)
        exp = expected_total(past, shape, self.seasons)
        facts["expected"] = round(exp, 2) if exp is not None else None
        facts["change"] = round(float(anomaly["value"]) - exp, 2) if exp is not None else None
        facts["change_pct"] = round(100 * facts["change"] / exp, 1) if exp else None
        facts["expected_basis"] = (
            f"same {grain} in previous seasons"
            + {
                "additive": "",
                "ratio": f", re-aggregated as sum of {shape.numerator} / sum of {shape.denominator}",
                "other": ", mean of those with a value",
            }[shape.kind]
        )
        # contribution analysis down the drill path
        drill, where, path = (
            [d for d in rule.drill if d != rule.source.slice_by],
            list(base_where),
            [],
        )
        sign = -1.0 if (facts["change"] or 0) < 0 else 1.0
        for dim in drill[: self.max_depth]:
            cur, past = self._at(rule, where, [dim], ts)
            c = self._drill_step(rule, dim, cur, past, sign)
            if c.empty or c["delta"].abs().sum() == 0:
                break
            top = c.index[0]
            extra = ("rate_effect", "mix_effect") if shape.kind == "ratio" else ()
            path.append(
                {
                    "dimension": dim,
                    "top": str(top),
                    "delta": round(float(c.iloc[0]["delta"]), 2),
                    "share": _round(c.iloc[0]["share"], 3),
                    **{k: round(float(c.iloc[0][k]), 2) for k in extra},
                    "actual": _round(c.iloc[0]["actual"], 2),
                    "expected": _round(c.iloc[0]["expected"], 2),
                    "table": [
                        {
                            "value": str(i),
                            "actual": _round(r.actual, 2),
                            "expected": _round(r.expected, 2),
                            "delta": round(r.delta, 2),
                            "share": _round(r.share, 3),
                            **{k: round(float(getattr(r, k)), 2) for k in extra},
                        }
                        for i, r in c.head(5).iterrows()
                    ],
                }
            )
            where = where + [f"{dim} = '{top}'"]
        facts["drill"] = path
        facts["drill_method"] = METHODS[shape.kind] if path else None
        # recent trend: the metric over the 7 days before the anomaly vs the 7 days before that
        facts["trend"] = self._trend(rule, base_where, ts)
        facts["forecast"] = self._forecast(rule, base_where, ts)
        facts["forecast_horizon"] = self.horizon
        text, lines = render(facts)
        return Insight(facts, text, lines=lines)

    def _trend(self, rule, where, ts) -> dict:
        week = pd.Timedelta(days=7)
        vals = []
        for lo in (ts - week, ts - 2 * week):
            df = self._series(rule, where, [], lo, lo + week, grain=None)
            v = float(df["value"].iloc[0]) if len(df) else float("nan")
            if not np.isfinite(v):
                v = 0.0 if self.shape(rule).kind == "additive" else float("nan")
            vals.append(v)
        last, prev = vals
        ok = bool(prev) and np.isfinite(prev) and np.isfinite(last)
        return {
            "last_7d": _round(last, 2),
            "prev_7d": _round(prev, 2),
            "pct": round(100 * (last - prev) / prev, 1) if ok else None,
        }

    def _forecast(self, rule, where, ts) -> list[dict]:
        grain = rule.source.grain
        step, season = STEP[grain], SEASON_STEP[grain]
        shape = self.shape(rule)
        out = []
        hist = self._series(
            rule, where, [], ts - self.seasons * season, ts + (self.horizon + 1) * step
        )
        s = hist.set_index("ts")
        nan = float("nan")
        for h in range(1, self.horizon + 1):
            t = ts + h * step
            rows = [
                s.loc[t - k * season] if (t - k * season) in s.index else None
                for k in range(1, self.seasons + 1)
            ]
            vals = [
                (nan, nan, nan)
                if r is None
                else (float(r["value"]), float(r.get("num", nan)), float(r.get("den", nan)))
                for r in rows
            ]
            got = seasonal_forecast(vals, shape)
            if got is None:
                continue
            mean, sd = got
            out.append(
                {
                    "at": t.isoformat(),
                    "forecast": round(mean, 2),
                    "low": round(max(0.0, mean - 1.96 * sd) if mean >= 0 else mean - 1.96 * sd, 2),
                    "high": round(mean + 1.96 * sd, 2),
                }
            )
        return out


def _round(x, nd: int):
    """Rounded float, or None for a missing value (kept JSON-friendly)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return round(x, nd) if math.isfinite(x) else None


def render(f: dict) -> tuple[str, list[str]]:
    lines = []
    where = "" if f["slice"] == "all" else f" ({f['slice']})"
    if f.get("expected") is not None:
        lines.append(
            f"{f['metric']}{where} was {_fmt(f['value'])} in the {f['grain']} starting {f['at']}, "
            f"against an expected {_fmt(f['expected'])} "
            f"({f.get('expected_basis') or 'same ' + f['grain'] + ' in previous seasons'}): "
            f"{'+' if f['change'] >= 0 else ''}{_fmt(f['change'])}, {_pct(f['change_pct'])}."
        )
    else:
        lines.append(
            f"{f['metric']}{where} was {_fmt(f['value'])} in the {f['grain']} starting {f['at']}."
        )
    kind = f.get("aggregation", "additive")
    for step in f["drill"]:
        d = f"{'+' if step['delta'] >= 0 else ''}{_fmt(step['delta'])}"
        if kind == "ratio":
            lines.append(
                f"By {step['dimension']}, {step['top']} contributed most: {d} "
                f"({100 * step['share']:.1f}% of the change; rate {_fmt(step['rate_effect'])}, "
                f"mix {_fmt(step['mix_effect'])}, by mix/rate decomposition)."
            )
        elif kind == "other":
            lines.append(
                f"By {step['dimension']}, {step['top']} deviated most from its own expected value: "
                f"{_fmt(step['actual'])} against {_fmt(step['expected'])} ({d}); {f['metric']} is not "
                f"additive, so slices are ranked by their own deviation."
            )
        else:
            lines.append(
                f"By {step['dimension']}, {step['top']} contributed most: {d}, "
                f"{100 * step['share']:.1f}% of the change."
            )
    t = f["trend"]
    if t["last_7d"] is not None and t["prev_7d"] is not None:
        over = "" if kind == "additive" else f" ({f['metric']} over each 7-day range)"
        lines.append(
            f"Recent trend: {_fmt(t['last_7d'])} in the last 7 days vs {_fmt(t['prev_7d'])} in the 7 "
            f"days before ({_pct(t['pct'])}){over}."
        )
    if f["forecast"]:
        a, b = f["forecast"][0], f["forecast"][-1]
        n, of = len(f["forecast"]), f.get("forecast_horizon", len(f["forecast"]))
        span = (
            f"the next {n} {f['grain']}s"
            if n == of
            else f"{n} of the next {of} {f['grain']}s (no past values for the others)"
        )
        lines.append(
            f"Forecast for {span}: {_fmt(a['forecast'])} "
            f"({_fmt(a['low'])} to {_fmt(a['high'])}, 95%) next, {_fmt(b['forecast'])} "
            f"({_fmt(b['low'])} to {_fmt(b['high'])}) at {b['at']}."
        )
    return " ".join(lines), lines


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"-?\d[\d,]*\.?\d*", text))


def rephrase(insight: Insight, llm=None) -> Insight:
    """Let a chat model (LangChain ``BaseChatModel`` or anything with ``invoke``) reword the text.

    The facts never change; the rewording is kept only if it still contains every number of the
    deterministic text, so a model cannot silently alter or drop a figure."""
    if llm is None:
        return insight
    prompt = (
        "Rewrite this incident explanation for a business reader. Keep every number exactly "
        "as written; do not add facts.\n\n" + insight.text
    )
    try:
        reply = llm.invoke(prompt)
        text = getattr(reply, "content", reply)
    except Exception:
        return insight
    if not isinstance(text, str) or not _numbers(insight.text) <= _numbers(text):
        return insight
    return Insight(insight.facts, text, rephrased=True, lines=insight.lines)


def _time_dim(wb, rule) -> str:
    from workbench.anomaly.jobs import DetectionJob

    return DetectionJob(rule, wb, state_dir=None)._time_dimension()


def explain_incident(wb, store, rules, incident_id: int, llm=None) -> Insight:
    """The insight of an incident: its strongest anomaly, explained (see the module doc)."""
    rules = {r.name: r for r in rules} if not isinstance(rules, dict) else rules
    anomalies = [a for a in store.anomalies(incident_id) if a["rule"] in rules]
    if not anomalies:
        raise ValueError(f"incident #{incident_id} has no anomalies of known rules")
    top = max(
        anomalies, key=lambda a: (a["score"], abs(a["value"] - (a["expected"] or a["value"])))
    )
    ins = Explainer(wb, rules).explain_anomaly(top)
    others = len({(a["rule"], a["slice_value"]) for a in anomalies}) - 1
    if others > 0:
        ins.text += f" {others} other series moved in the same incident."
    return rephrase(ins, llm)

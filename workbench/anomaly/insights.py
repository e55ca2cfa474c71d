"""Insights: a deterministic, plain-language explanation of an incident, computed from numbers.

For the incident's strongest anomaly it states

- **what moved**: the metric and slice, its value against the expected value, absolute and %;
- **who contributed**: contribution analysis down the rule's drill path. For each dimension of
  ``rule.drill`` the metric is queried per slice at the anomaly's bucket and at the same bucket
  in the previous ``seasons`` seasons (their mean is the expected value per slice). A slice's
  contribution is ``actual - expected``; its share is that divided by the total change. The
  biggest contributor is then drilled into with the next dimension;
- **the recent trend**: the last 7 days of the metric against the 7 days before;
- **a short-horizon forecast**: the next ``horizon`` buckets by seasonal naive (mean of the same
  phase in past seasons) with an interval from the spread of those seasons.

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

from workbench.anomaly.jobs import STEP, TOTAL

SEASON_STEP = {"minute": pd.Timedelta(days=1), "hour": pd.Timedelta(weeks=1),
               "day": pd.Timedelta(weeks=1), "week": pd.Timedelta(weeks=52)}


@dataclass
class Insight:
    facts: dict[str, Any]
    text: str
    rephrased: bool = False
    lines: list[str] = field(default_factory=list)


def contributions(actual: pd.Series, expected: pd.Series) -> pd.DataFrame:
    """Per-slice change and share of the total change (both series indexed by slice value).

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


def _fmt(x: float) -> str:
    return f"{x:,.2f}"


def _pct(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:+.1f}%"


class Explainer:
    def __init__(self, wb, rules: dict, seasons: int = 4, horizon: int = 6, max_depth: int = 3):
        self.wb, self.rules = wb, rules
        self.seasons, self.horizon, self.max_depth = seasons, horizon, max_depth

    def _series(self, rule, where: list[str], dims: list[str], start, end) -> pd.DataFrame:
        src = rule.source
        tdim = _time_dim(self.wb, rule)
        df = self.wb.query(src.namespace, [src.metric], [tdim] + dims, grain=src.grain,
                           where=(src.where + where) or None, time_dimension=tdim,
                           time_range=f"{pd.Timestamp(start).isoformat()}..{pd.Timestamp(end).isoformat()}").df
        return df.rename(columns={tdim: "ts", src.metric: "value"})

    def _at(self, rule, where, dims, ts) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(actual per slice at ts, expected per slice = mean over the same bucket in past seasons)."""
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

    def explain_anomaly(self, anomaly: dict) -> Insight:
        rule = self.rules[anomaly["rule"]]
        ts = pd.Timestamp(anomaly["ts"])
        grain = rule.source.grain
        base_where = [f"{rule.source.slice_by} = '{anomaly['slice_value']}'"] \
            if rule.source.slice_by and anomaly.get("slice_value") not in (None, TOTAL) else []
        facts: dict[str, Any] = {
            "metric": rule.source.metric, "slice": base_where[0] if base_where else "all",
            "at": ts.isoformat(), "grain": grain, "value": round(float(anomaly["value"]), 2),
        }
        # what moved: value vs the mean of the same bucket in past seasons (and the job's expectation)
        cur, past = self._at(rule, base_where, [], ts)
        exp = float(past["value"].sum() / self.seasons) if len(past) else None
        facts["expected"] = round(exp, 2) if exp is not None else None
        facts["change"] = round(float(anomaly["value"]) - exp, 2) if exp is not None else None
        facts["change_pct"] = round(100 * facts["change"] / exp, 1) if exp else None
        # contribution analysis down the drill path
        drill, where, path = [d for d in rule.drill if d != rule.source.slice_by], list(base_where), []
        for dim in drill[: self.max_depth]:
            cur, past = self._at(rule, where, [dim], ts)
            actual = cur.groupby(dim)["value"].sum()
            expected = past.groupby(dim)["value"].sum() / self.seasons
            c = contributions(actual, expected)
            if c.empty or c["delta"].abs().sum() == 0:
                break
            top = c.index[0]
            path.append({"dimension": dim, "top": str(top), "delta": round(float(c.iloc[0]["delta"]), 2),
                         "share": round(float(c.iloc[0]["share"]), 3),
                         "table": [{"value": str(i), "actual": round(r.actual, 2), "expected": round(r.expected, 2),
                                    "delta": round(r.delta, 2), "share": round(r.share, 3)}
                                   for i, r in c.head(5).iterrows()]})
            where = where + [f"{dim} = '{top}'"]
        facts["drill"] = path
        # recent trend: 7 days before the anomaly vs the 7 days before that
        hist = self._series(rule, base_where, [], ts - pd.Timedelta(days=14), ts)
        last = float(hist.loc[hist["ts"] >= ts - pd.Timedelta(days=7), "value"].sum())
        prev = float(hist.loc[hist["ts"] < ts - pd.Timedelta(days=7), "value"].sum())
        facts["trend"] = {"last_7d": round(last, 2), "prev_7d": round(prev, 2),
                          "pct": round(100 * (last - prev) / prev, 1) if prev else None}
        facts["forecast"] = self._forecast(rule, base_where, ts)
        text, lines = render(facts)
        return Insight(facts, text, lines=lines)

    def _forecast(self, rule, where, ts) -> list[dict]:
        grain = rule.source.grain
        step, season = STEP[grain], SEASON_STEP[grain]
        out = []
        hist = self._series(rule, where, [], ts - self.seasons * season, ts + (self.horizon + 1) * step)
        s = hist.set_index("ts")["value"]
        for h in range(1, self.horizon + 1):
            t = ts + h * step
            vals = np.array([float(s.get(t - k * season, 0.0)) for k in range(1, self.seasons + 1)])
            mean, sd = float(vals.mean()), float(vals.std(ddof=1)) if len(vals) > 1 else 0.0
            out.append({"at": t.isoformat(), "forecast": round(mean, 2),
                        "low": round(max(0.0, mean - 1.96 * sd) if mean >= 0 else mean - 1.96 * sd, 2),
                        "high": round(mean + 1.96 * sd, 2)})
        return out


def render(f: dict) -> tuple[str, list[str]]:
    lines = []
    where = "" if f["slice"] == "all" else f" ({f['slice']})"
    if f.get("expected") is not None:
        lines.append(f"{f['metric']}{where} was {_fmt(f['value'])} in the {f['grain']} starting {f['at']}, "
                     f"against an expected {_fmt(f['expected'])} (same {f['grain']} in previous seasons): "
                     f"{'+' if f['change'] >= 0 else ''}{_fmt(f['change'])}, {_pct(f['change_pct'])}.")
    else:
        lines.append(f"{f['metric']}{where} was {_fmt(f['value'])} in the {f['grain']} starting {f['at']}.")
    for step in f["drill"]:
        lines.append(f"By {step['dimension']}, {step['top']} contributed most: {'+' if step['delta'] >= 0 else ''}"
                     f"{_fmt(step['delta'])}, {100 * step['share']:.1f}% of the change.")
    t = f["trend"]
    lines.append(f"Recent trend: {_fmt(t['last_7d'])} in the last 7 days vs {_fmt(t['prev_7d'])} in the 7 "
                 f"days before ({_pct(t['pct'])}).")
    if f["forecast"]:
        a, b = f["forecast"][0], f["forecast"][-1]
        lines.append(f"Forecast for the next {len(f['forecast'])} {f['grain']}s: {_fmt(a['forecast'])} "
                     f"({_fmt(a['low'])} to {_fmt(a['high'])}, 95%) next, {_fmt(b['forecast'])} "
                     f"({_fmt(b['low'])} to {_fmt(b['high'])}) at {b['at']}.")
    return " ".join(lines), lines


def _numbers(text: str) -> set[str]:
    return set(re.findall(r"-?\d[\d,]*\.?\d*", text))


def rephrase(insight: Insight, llm=None) -> Insight:
    """Let a chat model (LangChain ``BaseChatModel`` or anything with ``invoke``) reword the text.

    The facts never change; the rewording is kept only if it still contains every number of the
    deterministic text, so a model cannot silently alter or drop a figure."""
    if llm is None:
        return insight
    prompt = ("Rewrite this incident explanation for a business reader. Keep every number exactly "
              "as written; do not add facts.\n\n" + insight.text)
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
    top = max(anomalies, key=lambda a: (a["score"], abs(a["value"] - (a["expected"] or a["value"]))))
    ins = Explainer(wb, rules).explain_anomaly(top)
    others = len({(a["rule"], a["slice_value"]) for a in anomalies}) - 1
    if others > 0:
        ins.text += f" {others} other series moved in the same incident."
    return rephrase(ins, llm)

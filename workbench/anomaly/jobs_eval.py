"""Score detection jobs against a labelled incidents table (the retail demo's ground truth).

    from workbench.anomaly.jobs_eval import evaluate_rules
    report = evaluate_rules(wb, load_rules("pipelines/alerts"))
    report["precision"], report["recall"], report["matches"]

Each rule runs from an empty state over the whole history (the same code path as live), the
anomalies go through the incident store (so correlated anomalies count once), and the detected
incidents are compared with the truth table:

- a true incident is **found** if a detected incident overlaps ``[start_ts - tol, end_ts + tol)``
  *and* one of its anomalies watches the affected slice: its slice value, or a literal in its
  rule's ``where``, is one of the quoted values of the truth's ``filter`` (so a store blip during a
  two-week returns spike does not count as finding it);
- a detected incident is **correct** if it overlaps some true incident that way, or if it
  overlaps a true incident's window and one of its anomalies watches a slice where that incident's
  *injected orders* (the generator's ``incident_orders`` table, not anything the detector saw)
  are at least ``effect_share`` of them: the pricing error's bargain hunters are real extra web
  and app orders, so a burst alarm on those channels is that incident seen from another side.
  ``precision_strict`` leaves this out and counts only the slice the truth names;
- only detected incidents that start inside the **evaluation period** count: by default the part of
  the history where the demo injects incidents (the last 40 %), minus ``warmup`` days of it.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pandas as pd

from workbench.anomaly.alert_rules import AlertRule
from workbench.anomaly.incidents import IncidentStore
from workbench.anomaly.incidents_dispatch import AlertDispatcher
from workbench.anomaly.jobs import DetectionJob


def _related(rule: AlertRule | None, slice_value: str | None, literals: set[str]) -> bool:
    """Does an anomaly of ``rule`` on ``slice_value`` look at the slice the truth names?"""
    if slice_value is not None and slice_value in literals:
        return True
    text = " ".join(rule.source.where) if rule else ""
    return any(f"'{lit}'" in text for lit in literals)


def truth_table(wb, namespace: str = "retail") -> pd.DataFrame:
    df = wb.query(
        namespace,
        dimensions=[
            "incident_id",
            "incident_kind",
            "incident_start",
            "incident_end",
            "incident_filter",
        ],
    ).df
    df = df.rename(
        columns={
            "incident_start": "start_ts",
            "incident_end": "end_ts",
            "incident_kind": "kind",
            "incident_filter": "filter",
        }
    )
    df["start_ts"] = pd.to_datetime(df["start_ts"])
    df["end_ts"] = pd.to_datetime(df["end_ts"])
    return df.sort_values("incident_id").reset_index(drop=True)


def detect(
    wb, rules: list[AlertRule], end, store: IncidentStore | None = None
) -> tuple[IncidentStore, list]:
    """Run every rule from scratch up to ``end``; anomalies go into ``store`` (a temporary one by default)."""
    if store is None:
        store = IncidentStore(Path(tempfile.mkdtemp(prefix="wb-eval-")) / "incidents.sqlite")
    quiet = [r.model_copy(update={"routing": [], "quiet_hours": []}) for r in rules]
    dispatcher = AlertDispatcher(quiet, store)
    results = []
    for rule in quiet:
        res = DetectionJob(rule, wb, state_dir=None).run(now=pd.Timestamp(end).to_pydatetime())
        dispatcher.process(res.anomalies)
        results.append(res)
    return store, results


def injected_slices(
    wb,
    namespace: str,
    slice_by: str,
    where: list[str] | tuple[str, ...] = (),
    effect_share: float = 0.1,
) -> dict[int, set[str]]:
    """Per true incident, the ``slice_by`` values holding at least ``effect_share`` of its injected orders.

    Only injected orders that a rule with filter ``where`` sees count: the pricing error's web orders
    are no effect on a rule watching in-store orders.
    """
    try:
        injected = wb.engine.execute(wb.engine.table("incident_orders"))
    except Exception:  # not the demo warehouse: no record of injected orders, no side effects
        return {}
    out: dict[int, set[str]] = {}
    for iid, ids in injected.groupby("incident_id")["order_id"]:
        order_ids = ", ".join(
            str(int(i)) for i in ids
        )  # integers from the warehouse, not user text
        total = len(ids)
        df = wb.query(
            namespace, ["orders"], [slice_by], where=[*where, f"order_id in ({order_ids})"]
        ).df
        out[int(iid)] = {
            str(v)
            for v, n in zip(df[slice_by], df["orders"], strict=True)
            if total and n >= effect_share * total
        }
    return out


def evaluate_rules(
    wb,
    rules: list[AlertRule],
    namespace: str = "retail",
    end=None,
    eval_start=None,
    tolerance: str = "2h",
    store: IncidentStore | None = None,
    effect_share: float = 0.1,
) -> dict:
    # Only rules on the namespace whose labelled incidents are the truth: a `live` rule watches
    # the streaming gold views, which the demo's incidents table says nothing about.
    rules = [r for r in rules if r.source.namespace == namespace]
    truth = truth_table(wb, namespace)
    if end is None:
        try:
            meta = wb.engine.execute(wb.engine.table("warehouse_meta"))
            end = pd.Timestamp(
                meta.set_index("key").loc["end", "value"]
            )  # exclusive end of history
        except Exception:  # not the demo warehouse: a month after the last incident
            end = truth["end_ts"].max() + pd.Timedelta(days=30)
    store, results = detect(wb, rules, end, store)
    tol = pd.Timedelta(tolerance)
    if eval_start is None:
        eval_start = truth["start_ts"].min() - pd.Timedelta(days=30)
    eval_start = pd.Timestamp(eval_start)
    detected = [i for i in store.list() if pd.Timestamp(i["first_ts"]) >= eval_start]
    by_rule = {r.name: r for r in rules}
    # What each detected incident watched: the slice values and the literals in the rules' filters.
    watched = {
        i["id"]: {(a["rule"], a["slice_value"]) for a in store.anomalies(i["id"])} for i in detected
    }
    effects = {
        r.name: injected_slices(wb, namespace, r.source.slice_by, r.source.where, effect_share)
        for r in rules
        if r.source.slice_by
    }
    matches: list[dict] = []
    correct: set[int] = set()
    side_effects: set[int] = set()
    for _, t in truth.iterrows():
        lo, hi = t["start_ts"] - tol, t["end_ts"] + tol
        literals = set(re.findall(r"'([^']*)'", t["filter"] or ""))
        during = [
            i
            for i in detected
            if pd.Timestamp(i["first_ts"]) < hi and pd.Timestamp(i["last_ts"]) >= lo
        ]
        hit = [
            i["id"]
            for i in during
            if any(_related(by_rule.get(rule), value, literals) for rule, value in watched[i["id"]])
        ]
        correct.update(hit)
        side_effects.update(
            i["id"]
            for i in during
            if i["id"] not in hit
            and any(
                value in effects.get(rule, {}).get(int(t["incident_id"]), set())
                for rule, value in watched[i["id"]]
            )
        )
        matches.append(
            {
                "incident_id": int(t["incident_id"]),
                "kind": t["kind"],
                "start": str(t["start_ts"]),
                "found": bool(hit),
                "detected_incidents": hit,
            }
        )
    found = sum(m["found"] for m in matches)
    n_det = len(detected)
    strict = set(correct)
    correct |= side_effects
    return {
        "precision": round(len(correct) / n_det, 3) if n_det else 0.0,
        "precision_strict": round(len(strict) / n_det, 3) if n_det else 0.0,
        "side_effect_detections": sorted(side_effects),
        "recall": round(found / len(truth), 3) if len(truth) else 0.0,
        "true_incidents": len(truth),
        "found": found,
        "detected_incidents": n_det,
        "correct_detections": len(correct),
        "false_detections": [
            {"id": i["id"], "first_ts": i["first_ts"], "title": i["title"]}
            for i in detected
            if i["id"] not in correct
        ],
        "matches": matches,
        "eval_start": str(eval_start),
        "end": str(pd.Timestamp(end)),
        "jobs": [r.summary() for r in results],
        "store": str(store.path),
    }

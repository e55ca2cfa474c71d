"""Proof on the demo domain: the shipped alert rules find the injected incidents.

Builds (once, cached under .workbench/) the retail demo at scale 1, seed 42, ending 2026-11-26,
runs every rule in pipelines/alerts/ over the whole history exactly as a live job would, and
scores the resulting incidents against the `incidents` ground-truth table
(workbench.anomaly.jobs_eval). Measured: precision 1.0 (6 of 6 detected incidents, one of them the
pricing error's burst of web orders; strict precision 0.833; 0.714 before the channel rule's
min_deviation, the two false ones single-hour dips of digital orders), recall 1.0 (5 of 5).
Seeds 3, 7 and 11 (never tuned on) are checked below. The pricing error is
found by retail_product_price (hourly shelf price per product) in its first hour. The floors
below leave room for one more false alarm and one missed outage; every kind must be found.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import workbench
from workbench.anomaly.alert_rules import load_rules
from workbench.anomaly.incidents import IncidentStore
from workbench.anomaly.jobs_eval import evaluate_rules, injected_slices, truth_table

REPO = Path(__file__).resolve().parents[2]
WAREHOUSE = REPO / ".workbench" / "test_anomaly_retail_s1_20261126.duckdb"


@pytest.fixture(scope="module")
def demo_wb():
    if not WAREHOUSE.exists():
        from workbench.warehouse.seed import build_demo_warehouse

        build_demo_warehouse(WAREHOUSE, scale=1.0, seed=42, end="2026-11-26", progress=False)
    wb = workbench.connect(warehouse=WAREHOUSE, read_only=True, cache="none")
    yield wb
    wb.close()


def test_injected_incidents_are_detected(demo_wb, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ALERT_WEBHOOK", "http://127.0.0.1:9/unused")
    report = evaluate_rules(demo_wb, load_rules(REPO / "pipelines" / "alerts"))
    print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "precision",
                    "recall",
                    "found",
                    "detected_incidents",
                    "correct_detections",
                    "false_detections",
                    "jobs",
                )
            },
            indent=1,
        )
    )
    found = {m["kind"] for m in report["matches"] if m["found"]}
    assert {"outage", "fraud_burst", "returns_spike", "pricing_error"} <= found
    assert report["recall"] >= 0.8
    assert report["precision"] >= 0.6
    # The pricing error is caught by the price rule while it is going on, not hours later: the
    # first anomaly of a matching incident lies inside the labelled window.
    truth = truth_table(demo_wb).set_index("kind").loc["pricing_error"]
    store = IncidentStore(Path(report["store"]))
    price_hits = [
        a
        for m in report["matches"]
        if m["kind"] == "pricing_error"
        for i in m["detected_incidents"]
        for a in store.anomalies(i)
        if a["rule"] == "retail_product_price"
    ]
    assert price_hits, "the pricing error was matched, but not by retail_product_price"
    first = min(pd.Timestamp(a["ts"]) for a in price_hits)
    assert truth["start_ts"] <= first < truth["end_ts"]


def test_injected_orders_name_the_side_effects(demo_wb):
    # From the generator (warehouse/seed incidents): the pricing error's bargain hunters order
    # online / app / marketplace with probabilities 0.5 / 0.35 / 0.15 (250 orders: each channel
    # well above 10 %), never in a store; the fraud ring orders online only. Outages inject none.
    by_channel = injected_slices(demo_wb, "retail", "channel")
    truth = truth_table(demo_wb).set_index("kind")
    pricing, fraud = (
        int(truth.loc["pricing_error", "incident_id"]),
        int(truth.loc["fraud_burst", "incident_id"]),
    )
    assert by_channel == {pricing: {"online", "mobile_app", "marketplace"}, fraud: {"online"}}
    # a rule that watches in-store orders sees none of them
    assert injected_slices(demo_wb, "retail", "region", ["channel = 'store'"]) == {
        pricing: set(),
        fraud: set(),
    }
    # a share threshold above the marketplace's 15 % leaves it out
    assert injected_slices(demo_wb, "retail", "channel", effect_share=0.25)[pricing] == {
        "online",
        "mobile_app",
    }


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3, 7, 11])
def test_rules_tuned_on_seed_42_hold_on_unseen_seeds(seed, monkeypatch):
    """The issue's goal, out of sample: recall 1.0 and precision >= 0.85 on demos never tuned on.

    Same build as the seed-42 demo (scale 1, ending 2026-11-26); only the seed (the noise, and
    seed 7's outage hour) differs. Precision counts an alarm explained by an incident's injected
    orders as correct (jobs_eval docstring); the strict figure is printed beside it.
    """
    monkeypatch.setenv("WORKBENCH_ALERT_WEBHOOK", "http://127.0.0.1:9/unused")
    path = REPO / ".workbench" / f"test_anomaly_retail_s1_20261126_seed{seed}.duckdb"
    if not path.exists():
        from workbench.warehouse.seed import build_demo_warehouse

        build_demo_warehouse(path, scale=1.0, seed=seed, end="2026-11-26", progress=False)
    wb = workbench.connect(warehouse=path, read_only=True, cache="none")
    try:
        report = evaluate_rules(wb, load_rules(REPO / "pipelines" / "alerts"))
    finally:
        wb.close()
    print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "precision",
                    "precision_strict",
                    "recall",
                    "false_detections",
                    "side_effect_detections",
                )
            },
            default=str,
        )
    )
    assert report["recall"] == 1.0, [m for m in report["matches"] if not m["found"]]
    assert report["precision"] >= 0.85, report["false_detections"]
    assert report["precision_strict"] <= report["precision"]

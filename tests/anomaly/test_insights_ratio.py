"""Insights on non-additive metrics, against numbers worked out by hand: a ratio (``aov`` =
revenue / orders) is re-aggregated from its numerator and denominator and its change split by a
mix/rate decomposition; an average (``avg_amount``) is averaged over the buckets that have a value
and its slices ranked by their own deviation. Neither is ever summed over buckets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.support.shop import SHOP_YML, shop_from_rows
from workbench.anomaly.alert_rules import parse_rule
from workbench.anomaly.insights import Explainer
from workbench.anomaly.insights_metrics import metric_shape, ratio_contributions

# SHOP_YML plus an average measure, the "other" kind of non-additive metric.
AVG_YML = SHOP_YML.replace(
    """      - name: revenue
        label: Revenue
        agg: sum
        expr: amount
""",
    """      - name: revenue
        label: Revenue
        agg: sum
        expr: amount
      - name: avg_amount
        label: Average amount
        agg: avg
        expr: amount
""",
)

TS = pd.Timestamp("2026-01-29 14:00")
H, W = pd.Timedelta(hours=1), pd.Timedelta(weeks=1)


@pytest.fixture
def shop(tmp_path):
    """(ts, region, orders, amount). The anomaly hour: North 30 orders for 300 (AOV 10), South 10
    for 200 (AOV 20). Same hour in past weeks: weeks 1 and 2 North 10/100, South 10/300; week 3 no
    sales at all (must not count as 0); week 4 North 10/100, South 30/900. The hour after: North
    5/50 in weeks 1 and 2, 5/100 in week 4. Ten days before: North 20/800 (the trend's prior week)."""
    rows = [(TS, "North", 30, 300.0), (TS, "South", 10, 200.0)]
    for k in (1, 2):
        rows += [
            (TS - k * W, "North", 10, 100.0),
            (TS - k * W, "South", 10, 300.0),
            (TS - k * W + H, "North", 5, 50.0),
        ]
    rows += [
        (TS - 4 * W, "North", 10, 100.0),
        (TS - 4 * W, "South", 30, 900.0),
        (TS - 4 * W + H, "North", 5, 100.0),
    ]
    rows += [(TS - pd.Timedelta(days=10), "North", 20, 800.0)]
    wb = shop_from_rows(tmp_path, rows, AVG_YML)
    yield wb
    wb.close()


def explain(wb, metric, value, horizon=2):
    rule = parse_rule(
        f"""
name: shop_{metric}
source: {{namespace: shop, metric: {metric}, grain: hour}}
drill: [region]
""",
        "x.yml",
    )
    return Explainer(wb, {rule.name: rule}, seasons=4, horizon=horizon).explain_anomaly(
        {"rule": rule.name, "ts": TS, "value": value, "slice_value": None}
    )


def test_metric_kinds(shop):
    assert metric_shape(shop, "shop", "orders").kind == "additive"
    s = metric_shape(shop, "shop", "aov")
    assert (s.kind, s.numerator, s.denominator) == ("ratio", "revenue", "orders")
    assert metric_shape(shop, "shop", "avg_amount").kind == "other"


def test_ratio_expected_contributions_trend_and_forecast(shop):
    f = explain(shop, "aov", 12.5).facts
    # expected: pooled over the 3 weeks with sales, (100+300)*2 + 100+900 over (10+10)*2 + 10+30
    assert f["aggregation"] == "ratio"
    assert f["expected"] == 1800 / 80 == 22.5  # not (20 + 20 + 0 + 25) / 4 = 16.25
    assert f["change"] == -10.0 and f["change_pct"] == -44.4
    # mix/rate by hand: weights now N 30/40, S 10/40; expected N 30/80, S 50/80; rates N 10 -> 10,
    # S 30 -> 20; total 22.5 -> 12.5.
    (step,) = f["drill"]
    rate_s, mix_s = 0.25 * (20 - 30), (0.25 - 50 / 80) * (30 - 22.5)
    rate_n, mix_n = 0.75 * (10 - 10), (0.75 - 30 / 80) * (10 - 22.5)
    assert rate_s + mix_s + rate_n + mix_n == pytest.approx(-10.0)
    assert step["top"] == "South"
    assert step["delta"] == round(rate_s + mix_s, 2) == -5.31
    assert step["rate_effect"] == -2.5 and step["mix_effect"] == round(mix_s, 2)
    assert step["share"] == round((rate_s + mix_s) / -10, 3)
    assert (step["actual"], step["expected"]) == (20.0, 30.0)
    north = step["table"][1]
    assert north["value"] == "North" and north["delta"] == round(rate_n + mix_n, 2)
    assert north["rate_effect"] == 0.0
    # trend: AOV over each 7-day range, not a sum of hourly AOVs.
    # last 7 days: weeks-1 rows 100 + 300 + 50 over 10 + 10 + 5; the 7 before: the same for week 2
    # plus 800 over 20 ten days back.
    assert f["trend"]["last_7d"] == 18.0
    assert f["trend"]["prev_7d"] == round(1250 / 45, 2)
    assert f["trend"]["pct"] == round(100 * (18 - 1250 / 45) / (1250 / 45), 1)
    # forecast for 15:00: pooled (50 + 50 + 100) / 15, spread of the weeks' own AOVs 10, 10, 20;
    # no week ever sold at 16:00, so that hour has no forecast (not a forecast of 0).
    (fc,) = f["forecast"]
    sd = np.std([10, 10, 20], ddof=1)
    assert fc["forecast"] == round(200 / 15, 2)
    assert fc["low"] == round(200 / 15 - 1.96 * sd, 2) and fc["high"] == round(
        200 / 15 + 1.96 * sd, 2
    )


def test_ratio_text_says_what_was_done(shop):
    text = explain(shop, "aov", 12.5).text
    assert text.startswith(
        "aov was 12.50 in the hour starting 2026-01-29T14:00:00, against an expected 22.50 "
        "(same hour in previous seasons, re-aggregated as sum of revenue / sum of orders)"
    )
    assert (
        "By region, South contributed most: -5.31 (53.1% of the change; rate -2.50, mix -2.81, "
        "by mix/rate decomposition)." in text
    )
    assert "Recent trend: 18.00 in the last 7 days vs 27.78" in text
    assert "Forecast for 1 of the next 2 hours" in text


def test_average_metric_is_averaged_and_slices_ranked_by_own_deviation(shop):
    f = explain(shop, "avg_amount", 250.0).facts
    # same hour in past weeks: avg(100, 300) = 200 twice and avg(100, 900) = 500; week 3 has none
    assert f["aggregation"] == "other"
    assert f["expected"] == 300.0 and f["change"] == -50.0
    (step,) = f["drill"]
    # North: 300 vs its own mean 100 (+200); South: 200 vs mean(300, 300, 900) = 500 (-300).
    # The total went down, so the biggest fall leads.
    assert [(r["value"], r["actual"], r["expected"], r["delta"]) for r in step["table"]] == [
        ("South", 200.0, 500.0, -300.0),
        ("North", 300.0, 100.0, 200.0),
    ]
    assert step["share"] is None
    # trend: the average over each 7-day range: (100 + 300 + 50) / 3 and (100 + 300 + 50 + 800) / 4
    assert f["trend"] == {"last_7d": 150.0, "prev_7d": 312.5, "pct": -52.0}
    assert "ranked by their own deviation" in explain(shop, "avg_amount", 250.0).text


def test_ratio_contributions_by_hand_with_new_and_vanished_slices():
    actual = pd.DataFrame({"num": [10.0, 30.0], "den": [1.0, 1.0]}, index=["A", "C"])
    expected = pd.DataFrame({"num": [10.0, 20.0], "den": [1.0, 1.0]}, index=["A", "B"])
    c = ratio_contributions(actual, expected)
    # total 15 -> 20. C is new (all mix: 0.5 * (30 - 15)); B vanished (mix: -0.5 * (20 - 15)).
    assert list(c.index) == ["C", "A", "B"]
    assert c["delta"].tolist() == [7.5, 0.0, -2.5]
    assert c["rate_effect"].tolist() == [0.0, 0.0, 0.0]
    assert c["share"].tolist() == [1.5, 0.0, -0.5]
    assert c["delta"].sum() == 20 - 15

"""Insights: contribution analysis checked against numbers worked out by hand, and the optional
LLM rephrasing hook, which may change words but never numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.shop import SHOP_YML, shop_from_rows
from workbench.anomaly.alert_rules import parse_rule
from workbench.anomaly.insights import Explainer, contributions, rephrase


def test_contributions_by_hand():
    actual = pd.Series({"North": 10.0, "South": 2.0, "East": 5.0})
    expected = pd.Series({"North": 10.0, "South": 20.0, "West": 3.0})
    c = contributions(actual, expected)
    # total change = (10-10) + (2-20) + (5-0) + (0-3) = -16
    assert list(c.index) == ["South", "West", "North", "East"]  # biggest drop first
    assert c.loc["South", "delta"] == -18 and c.loc["South", "share"] == pytest.approx(18 / 16)
    assert c.loc["West", "delta"] == -3 and c.loc["West", "share"] == pytest.approx(3 / 16)
    assert c.loc["East", "delta"] == 5 and c.loc["East", "share"] == pytest.approx(-5 / 16)
    assert c["share"].sum() == pytest.approx(1.0)


@pytest.fixture
def tiny(tmp_path):
    """The anomaly hour (Thu 2026-01-29 14:00) and the same hour in the 4 weeks before it.
    South usually sells 18, 20, 22, 20 (mean 20), North always 10; now South sells 2.
    The hour after: 30 orders in total in each past week."""
    ts = pd.Timestamp("2026-01-29 14:00")
    rows = [(ts, "North", 10, 100.0), (ts, "South", 2, 20.0)]
    for k, south in zip(range(1, 5), (18, 20, 22, 20), strict=True):
        t = ts - pd.Timedelta(weeks=k)
        rows += [
            (t, "North", 10, 100.0),
            (t, "South", south, 200.0),
            (t + pd.Timedelta(hours=1), "North", 12, 1.0),
            (t + pd.Timedelta(hours=1), "South", 18, 1.0),
        ]
    rows += [(ts - pd.Timedelta(days=d), "North", 1, 1.0) for d in (1, 2, 3, 8, 9)]  # for the trend
    wb = shop_from_rows(tmp_path, rows, SHOP_YML)
    rule = parse_rule(
        """
name: shop_orders
source: {namespace: shop, metric: orders, grain: hour}
drill: [region]
""",
        "x.yml",
    )
    return wb, rule, ts


def test_explanation_numbers(tiny):
    wb, rule, ts = tiny
    ins = Explainer(wb, {rule.name: rule}, seasons=4, horizon=2).explain_anomaly(
        {"rule": rule.name, "ts": ts, "value": 12.0, "slice_value": None}
    )
    f = ins.facts
    assert f["expected"] == 30.0 and f["change"] == -18.0 and f["change_pct"] == -60.0
    (step,) = f["drill"]
    assert step["dimension"] == "region" and step["top"] == "South"
    assert step["delta"] == -18.0 and step["share"] == 1.0
    assert f["forecast"][0]["forecast"] == 30.0  # 12 + 18 in each past week
    assert f["forecast"][0]["low"] == f["forecast"][0]["high"] == 30.0  # no spread, no width
    assert f["forecast"][1]["forecast"] == 0.0
    # trend: [Jan 22 14:00, Jan 29 14:00) holds week 1 (10 + 18 at 14:00, 12 + 18 at 15:00) and the
    # day-1..3 rows: 58 + 3 = 61. The 7 days before hold week 2 (10 + 20, 12 + 18) and days 8, 9: 62.
    assert f["trend"] == {"last_7d": 61.0, "prev_7d": 62.0, "pct": -1.6}
    assert ins.text.startswith(
        "orders was 12.00 in the hour starting 2026-01-29T14:00:00, against an expected 30.00"
    )
    assert "By region, South contributed most: -18.00, 100.0% of the change." in ins.text


class FakeLLM:
    def __init__(self, fn):
        self.fn = fn

    def invoke(self, prompt):
        return type("Msg", (), {"content": self.fn(prompt.split("\n\n", 1)[1])})()


def test_rephrase_keeps_the_facts(tiny):
    wb, rule, ts = tiny
    ins = Explainer(wb, {rule.name: rule}, horizon=1).explain_anomaly(
        {"rule": rule.name, "ts": ts, "value": 12.0, "slice_value": None}
    )
    assert rephrase(ins, None) is ins
    ok = rephrase(ins, FakeLLM(lambda t: "Heads up! " + t.replace("contributed most", "drove it")))
    assert ok.rephrased and ok.text.startswith("Heads up!") and ok.facts == ins.facts
    bad = rephrase(
        ins, FakeLLM(lambda t: t.replace("30.00", "31.00"))
    )  # a changed number: rejected
    assert not bad.rephrased and bad.text == ins.text
    broken = rephrase(ins, FakeLLM(lambda t: 1 / 0))
    assert broken.text == ins.text

"""The text alternatives the catalog and quality charts carry (WCAG 1.1.1), on hand-made frames."""

import pandas as pd

from workbench.ui.charts import chart_summary
from workbench.ui.quality.overview import trend_summary


def test_catalog_chart_summary_names_the_metrics_and_their_range():
    df = pd.DataFrame({"region": ["North", "South", "East"], "revenue": [10.0, 2.5, 7.0]})
    text = chart_summary(df, ["revenue"], ["region"])
    assert text == "Chart of revenue by region, 3 points: revenue from 2.50 to 10.00."
    assert chart_summary(df.iloc[0:0], ["revenue"], ["region"]) == ""


def test_qualitytrend_summary_gives_each_series_latest_score():
    history = pd.DataFrame(
        {
            "run_at": pd.to_datetime(["2025-01-02", "2025-01-01", "2025-01-01"]),
            "table": ["orders", "orders", "customers"],
            "score": [90.0, 80.0, 99.5],
        }
    )
    text = trend_summary(history)
    assert "orders 90.0 (range 80.0 to 90.0)" in text
    assert "customers 99.5 (range 99.5 to 99.5)" in text

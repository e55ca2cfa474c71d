"""Alert rule files: the shipped ones load; malformed ones name the file, line and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from workbench.anomaly.alert_rules import (
    AlertRuleError,
    QuietHours,
    load_rule,
    load_rules,
    parse_rule,
)

REPO = Path(__file__).resolve().parents[2]

GOOD = """name: r
source:
  metric: orders
  grain: hour
detector:
  name: robust_zscore
  params:
    window: 48
threshold: 0.9
routing:
  - notifier: webhook
    url: http://127.0.0.1:9/hook
"""


def test_shipped_rules_load():
    rules = load_rules(REPO / "pipelines" / "alerts")
    assert {r.name for r in rules} >= {
        "retail_orders_by_channel",
        "retail_store_orders_by_region",
        "retail_footwear_returns",
    }
    assert {r.name for r in rules if r.source.namespace == "live"} >= {"live_orders_by_region"}
    assert all(r.source.namespace in ("retail", "live") for r in rules)


@pytest.mark.parametrize(
    "bad, line, field, words",
    [
        (
            GOOD.replace("window: 48", "windw: 48"),
            8,
            "detector.params.windw",
            "unknown field 'windw'",
        ),
        (GOOD.replace("window: 48", "window: -3"), 8, "detector.params.window", "greater than"),
        (
            GOOD.replace("  metric: orders\n", ""),
            2,
            "source.metric",
            "missing required field 'metric'",
        ),
        (GOOD.replace("grain: hour", "grain: fortnight"), 4, "source.grain", "'minute', 'hour'"),
        (
            GOOD.replace("threshold: 0.9", "threshold: 1.5"),
            9,
            "threshold",
            "less than or equal to 1",
        ),
        (
            GOOD.replace("name: robust_zscore", "name: nope"),
            6,
            "detector.name",
            "unknown detector 'nope'",
        ),
        (
            GOOD.replace("notifier: webhook", "notifier: pager"),
            11,
            "routing.0.notifier",
            "unknown notifier 'pager'",
        ),
        (
            GOOD.replace("    url: http://127.0.0.1:9/hook\n", ""),
            11,
            "routing.0.url",
            "missing required field 'url'",
        ),
        (
            GOOD + "quiet_hours:\n  - {start: '25:00', end: '07:00'}\n",
            14,
            "quiet_hours.0.start",
            "HH:MM",
        ),
    ],
)
def test_malformed_rule_names_file_line_and_field(tmp_path, bad, line, field, words):
    path = tmp_path / "broken_rule.yml"
    path.write_text(bad)
    with pytest.raises(AlertRuleError) as e:
        load_rule(path)
    msg = str(e.value)
    assert e.value.file == str(path) and e.value.field == field, msg
    assert e.value.line == line, msg
    assert words in msg and f"{path}:{line} ({field})" in msg


def test_invalid_yaml_and_duplicates(tmp_path):
    (tmp_path / "a.yml").write_text("name: [unclosed\n")
    with pytest.raises(AlertRuleError, match="a.yml:.*invalid YAML"):
        load_rules(tmp_path)
    (tmp_path / "a.yml").write_text(GOOD)
    (tmp_path / "b.yml").write_text(GOOD)
    with pytest.raises(AlertRuleError, match="duplicate rule name 'r'"):
        load_rules(tmp_path)


def test_env_in_routes_and_yaml_round_trip(monkeypatch):
    monkeypatch.setenv("HOOK", "http://127.0.0.1:1234/x")
    r = parse_rule(GOOD.replace("http://127.0.0.1:9/hook", "${HOOK}"))
    assert r.routing[0].params["url"] == "http://127.0.0.1:1234/x"
    again = parse_rule(r.to_yaml())
    assert again.model_dump(exclude={"path"}) == r.model_dump(exclude={"path"})


def test_quiet_hours_over_midnight():
    q = QuietHours(start="22:00", end="07:00", days=["mon"], allow_severity="critical")
    mon = dt.datetime(2026, 1, 5)  # a Monday
    assert q.active(mon.replace(hour=23)) and q.active(mon.replace(hour=23) + dt.timedelta(hours=3))
    assert not q.active(mon.replace(hour=21, minute=59))
    assert not q.active(mon.replace(hour=3))  # that night started on Sunday, not listed
    assert q.holds(mon.replace(hour=23), "warning") and not q.holds(
        mon.replace(hour=23), "critical"
    )

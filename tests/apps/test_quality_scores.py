"""The quality app's scores, failing checks and SLA panels on real stored runs: a small demo
warehouse with a few broken orders, validated twice with Great Expectations (once as of the
day after the data ends, so fresh; once as of today, so stale)."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from workbench.quality import scores
from workbench.ui.quality.overview import checks_section, quality_source, scores_section
from workbench.ui.quality.store import QualityStore

BROKEN_STATUS = 3  # orders given a status outside the suite's value set
BROKEN_TOTALS = 2  # orders whose net amount no longer equals the sum of their lines


@pytest.fixture(scope="module")
def validated(tmp_path_factory):
    from workbench.quality import validate
    from workbench.warehouse.seed import build_demo_warehouse

    wh = tmp_path_factory.mktemp("quality-app") / "warehouse.duckdb"
    build_demo_warehouse(wh, scale=0.02, seed=42, end="2025-01-01", progress=False)
    fresh = validate(wh, "orders", now=dt.datetime(2025, 1, 2), data_docs=False)
    con = duckdb.connect(str(wh))
    con.execute(
        "UPDATE orders SET status = 'lost' WHERE order_id IN "
        f"(SELECT order_id FROM orders ORDER BY order_id LIMIT {BROKEN_STATUS})"
    )
    con.execute(
        "UPDATE orders SET net_amount = net_amount + 5 WHERE order_id IN "
        f"(SELECT order_id FROM orders ORDER BY order_id LIMIT {BROKEN_TOTALS} OFFSET 10)"
    )
    con.close()
    stale = validate(wh, "orders", data_docs=False)
    return wh, fresh, stale


@pytest.fixture
def con(validated):
    c = duckdb.connect(str(validated[0]), read_only=True)
    yield c
    c.close()


@pytest.fixture
def store(validated, tmp_path):
    return QualityStore(validated[0], tmp_path / "schemas", tmp_path, None)


def test_the_app_finds_the_adapter():
    assert quality_source() is scores


def test_current_scores_are_the_latest_run(con, validated):
    _, fresh, stale = validated
    cur = scores.current_scores(con)
    assert cur.suite.tolist() == ["orders"]
    row = cur.iloc[0]
    assert row.run_id == stale.run_id
    assert row.score == pytest.approx(stale.score.overall)
    assert row.freshness == 0 and row.completeness == 100
    assert 0 < 100 - row.validity < 1  # 3 of ~9,000 rows fail status_known
    assert (
        not row.passed
        and row.failed_checks == 3
        and row.quarantined == BROKEN_STATUS + BROKEN_TOTALS
    )


def test_score_history_is_the_trend(con, validated):
    _, fresh, stale = validated
    hist = scores.score_history(con)
    assert hist.run_id.tolist() == [fresh.run_id, stale.run_id]
    assert hist.score.tolist() == pytest.approx([100.0, stale.score.overall])
    assert hist.score.iloc[1] < 91


def test_failing_checks_carry_sample_failing_rows(con):
    failing = scores.failing_checks(con).set_index("check")
    assert set(failing.index) == {"status_known", "total_equals_lines", "orders_recent"}
    status = failing.loc["status_known"]
    assert status.failing_rows == BROKEN_STATUS
    sample = json.loads(status.sample_rows)
    assert len(sample) == BROKEN_STATUS and {r["status"] for r in sample} == {"lost"}
    totals = json.loads(failing.loc["total_equals_lines"].sample_rows)
    assert all(abs(r["net_amount"] - r["lines_total"]) > 1 for r in totals)
    assert failing.loc["orders_recent"].sample_rows == ""  # table-level: no rows


def test_sla_status_against_score_and_freshness(con):
    sla = scores.sla_status(con).set_index("sla")
    assert sla.loc["quality score", "status"] == "breached"
    assert sla.loc["freshness orders_recent", "status"] == "breached"
    assert "3d" in sla.loc["freshness orders_recent", "threshold"]
    assert sla.loc["validated within", "status"] == "met"
    lenient = scores.sla_status(con, min_score=80).set_index("sla")
    assert lenient.loc["quality score", "status"] == "met"


def test_no_runs_yet_is_empty_frames(tmp_path):
    c = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        for f in (
            scores.current_scores,
            scores.score_history,
            scores.failing_checks,
            scores.sla_status,
        ):
            assert f(c).empty
    finally:
        c.close()


def test_scores_section_shows_scores_and_trend(store):
    col = scores_section(store)
    table = col[1]
    assert table.value.suite.tolist() == ["orders"]
    assert len(col) == 4  # heading, table, trend chart, its text alternative
    assert col[3].object.startswith("Quality score over time, latest per series: orders ")


def test_checks_section_shows_sample_rows_and_sla(store):
    failing, held, sla = checks_section(store)
    pick, rows = failing[2], failing[4]
    # Every row the run quarantined is listed, none deleted (the suite's latest run only).
    assert len(held[2].value) == BROKEN_STATUS + BROKEN_TOTALS
    assert set(held[2].value.source) == {"validate"}
    assert pick.value == "orders: status_known"  # the worst first
    assert rows.value.status.tolist() == ["lost"] * BROKEN_STATUS
    pick.value = "orders: orders_recent"
    assert not rows.visible and "table-level" in failing[3].object
    assert "2 of 3 SLA(s) breached" in sla[1].object
    assert set(sla[2].value.status) == {"met", "breached"}


def test_empty_warehouse_says_so(tmp_path):
    wh = tmp_path / "w.duckdb"
    duckdb.connect(str(wh)).close()
    s = QualityStore(wh, tmp_path, tmp_path, None)
    assert "No validation results yet" in scores_section(s)[1].object
    failing, held, sla = checks_section(s)
    assert "No rows in quarantine" in held[1].object
    assert "No failing checks" in failing[1].object and "No SLA results" in sla[1].object


def test_when_the_server_holds_the_warehouse_the_panels_ask_its_api(store, con, monkeypatch):
    """DuckDB refuses a reader beside the Jupyter server's writer: the app then reads
    /workbench/api/quality/scores (which the server answers from the same scores module)."""
    import contextlib

    from workbench.ui.dashboard import client as dashboard_client

    @contextlib.contextmanager
    def locked(write=False):
        raise duckdb.IOException('Could not set lock on file "w.duckdb": Conflicting lock is held')
        yield

    asked = []
    payload = {
        "current": scores.current_scores(con).to_dict("records"),
        "history": scores.score_history(con).to_dict("records"),
        "failing": scores.failing_checks(con).to_dict("records"),
        "sla": scores.sla_status(con).to_dict("records"),
        "quarantine": scores.quarantine(con).to_dict("records"),
    }

    def get(self, path, params=None, raw=False):
        asked.append((self.base, path))
        return payload

    monkeypatch.setattr(store, "connect", locked)
    monkeypatch.setenv("WORKBENCH_API_URL", "http://127.0.0.1:9/base/")
    monkeypatch.setattr(dashboard_client.ApiClient, "_get", get)
    # No served session here: without the gateway's signed identity the panels ask nothing
    # (tests/gateway/test_app_identity_e2e.py); this test stands in a person's credentials.
    from workbench.client.credentials import Credentials
    from workbench.ui import connection

    assert connection.session_credentials() is None
    monkeypatch.setattr(connection, "session_credentials", lambda: Credentials(token="t"))
    col = scores_section(store)
    assert col[1].value.suite.tolist() == ["orders"] and len(col) == 4
    failing, held, _ = checks_section(store)
    assert failing[4].value.status.tolist() == ["lost"] * BROKEN_STATUS
    assert len(held[2].value) == BROKEN_STATUS + BROKEN_TOTALS
    assert asked[0] == ("http://127.0.0.1:9/base/", "workbench/api/quality/scores")
    monkeypatch.delenv("WORKBENCH_API_URL")
    assert "Scores unavailable" in scores_section(store)[1].object  # no server: says so

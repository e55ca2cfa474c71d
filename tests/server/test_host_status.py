"""The warehouse host's typed pipeline status: read once from the runner's report, one field per
value, and the REST and freshness forms built from it."""

from __future__ import annotations

import datetime as dt

import pytest

from workbench.server.host import PipelineStatus, UnknownPipeline, WarehouseHost

COMMIT = dt.datetime(2026, 1, 5, 10, 0, 30, tzinfo=dt.UTC)


def runner_report(**over) -> dict:
    """What workbench.streaming.runner.Pipeline.status() returns (its keys, as it spells them)."""
    return {
        "name": "demo_orders",
        "source": "embedded",
        "title": "Demo",
        "state": "running",
        "error": None,
        "events_total": 120,
        "events_per_s": 4.5,
        "lag_events": 3,
        "lag_s": 0.25,
        "latency_p50_s": 0.01,
        "latency_p99_s": 0.2,
        "dead_letters": 1,
        "dead_letters_total": 4,
        "last_commit_ts": COMMIT.isoformat(),
        "position": "0/16",
        **over,
    }


def test_the_runners_report_becomes_typed_fields():
    st = PipelineStatus.from_report("demo_orders", runner_report())
    assert (st.name, st.state, st.running) == ("demo_orders", "running", True)
    assert st.last_commit == COMMIT
    assert (st.lag_s, st.lag_events, st.events_per_s, st.latency_p99_s) == (0.25, 3, 4.5, 0.2)
    assert st.dead_letters == 4  # the run's total, not this batch's


def test_running_follows_the_state_when_the_runner_does_not_say():
    assert PipelineStatus.from_report("p", {"state": "starting"}).running is True
    assert PipelineStatus.from_report("p", {"state": "stopped"}).running is False
    assert PipelineStatus.from_report("p", {"state": "stopped", "running": True}).running is True


def test_commit_times_without_an_offset_are_utc_and_junk_is_no_time():
    naive = PipelineStatus.from_report("p", {"last_commit_ts": "2026-01-05T10:00:30"})
    assert naive.last_commit == COMMIT
    assert PipelineStatus.from_report("p", {"last_commit_ts": "not a time"}).last_commit is None
    # Only the runner's key counts: other spellings are not read as the commit time.
    assert (
        PipelineStatus.from_report("p", {"last_commit_at": COMMIT.isoformat()}).last_commit is None
    )


def test_rest_form_is_the_runners_report_with_name_and_running():
    report = runner_report()
    del report["name"]
    out = PipelineStatus.from_report("demo_orders", report).to_dict()
    assert out == {**report, "name": "demo_orders", "running": True}
    assert PipelineStatus.not_loaded("x").to_dict() == {
        "name": "x",
        "state": "not loaded",
        "running": False,
    }


def test_freshness_entry_ages_the_last_commit():
    now = COMMIT.timestamp() + 12.5
    entry = PipelineStatus.from_report("demo_orders", runner_report()).freshness(now)
    assert entry == {
        "lag_s": 0.25,
        "running": True,
        "state": "running",
        "events_per_s": 4.5,
        "lag_events": 3,
        "latency_p99_s": 0.2,
        "dead_letters": 4,
        "last_commit": COMMIT.isoformat(),
        "age_s": 12.5,
    }


class Broken:
    def status(self):
        raise RuntimeError("source gone")


class Committed:
    def __init__(self, at: dt.datetime):
        self.at = at

    def status(self):
        return runner_report(last_commit_ts=self.at.isoformat())


def test_host_freshness_takes_the_newest_commit_and_survives_a_broken_pipeline(tmp_path):
    host = WarehouseHost(warehouse=str(tmp_path / "wh.duckdb"), root=str(tmp_path))
    later = COMMIT + dt.timedelta(minutes=2)
    host._pipelines.update({"a": Committed(COMMIT), "b": Committed(later), "c": Broken()})
    try:
        fresh = host.freshness()
        assert fresh["last_commit"] == later.isoformat()
        assert fresh["pipelines"]["c"]["state"] == "error" and fresh["streaming"] is True
        assert {s["name"]: s.get("error") for s in host.loaded_statuses()} == {
            "a": None,
            "b": None,
            "c": "source gone",
        }
        with pytest.raises(UnknownPipeline, match="Unknown pipeline 'nope'"):
            host.status("nope")
    finally:
        host.close()

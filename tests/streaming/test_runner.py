"""The runner's loop: clean shutdown, re-delivered events dropped by position, adaptive batches.

A scripted source (registered like any other) hands the runner fixed polls, so the oracle is the
script: which positions exist, which were delivered twice."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.streaming import envelope, pipeline_from_dict
from workbench.streaming.events import RawEvent, dumps
from workbench.streaming.simulator import OrderSimulator
from workbench.streaming.sources.base import Source, register_source

from .conftest import assert_gold_matches_recompute, spec_with_source

SCRIPT: list[list[RawEvent]] = []


class ScriptedSource(Source):
    """Returns the polls in SCRIPT one by one, then nothing."""

    kind = "scripted_test"

    def open(self, after):
        self.polls = list(SCRIPT)

    def poll(self, max_events, timeout):
        if self.polls:
            return self.polls.pop(0)
        time.sleep(timeout)
        return []


@pytest.fixture(autouse=True)
def scripted_source(clean_registries):
    """ScriptedSource is registered for this module's tests only."""
    register_source(ScriptedSource)


def _events(n: int, seed: int = 3) -> tuple[list[RawEvent], OrderSimulator]:
    sim = OrderSimulator(seed=seed)
    evs = []
    for tx in sim.transactions(n):
        for table, op, before, after in tx:
            i = len(evs) + 1
            evs.append(RawEvent(i, 0, str(i), dumps(envelope(table, op, before, after))))
    return evs, sim


def _pipeline(tmp_path, **batch):
    spec = spec_with_source({"kind": "scripted_test"})
    spec["batch"] = {**spec["batch"], **batch}
    return pipeline_from_dict("runner_test", spec, tmp_path / "wh.duckdb")


def _run_until(p, n, timeout=60):
    stop = threading.Event()
    errors = []

    def target():
        try:
            p.run(stop)
        except Exception as e:  # recorded: a normal stop must not raise
            errors.append(e)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    deadline = time.monotonic() + timeout
    while p.stats["events_total"] < n and time.monotonic() < deadline and t.is_alive():
        time.sleep(0.02)
    stop.set()
    t.join(20)
    return errors, t


def test_stop_returns_cleanly_while_idle(tmp_path):
    SCRIPT[:] = []
    p = _pipeline(tmp_path, max_latency_ms=20)
    # nothing to apply: the loop idles on an empty source until the stop event is set
    errors, t = _run_until(p, 1, timeout=1.0)
    assert not t.is_alive()
    assert errors == []  # run() returned instead of raising "the source reader stopped"
    assert p.status()["state"] == "stopped" and p.status()["error"] is None


def test_redelivered_events_are_dropped_by_position(tmp_path):
    evs, sim = _events(120)
    n = len(evs)
    a, b = n // 3, 2 * n // 3
    # a reconnect re-reads from the checkpoint while events read before are still queued: the
    # second poll repeats part of the first, the third repeats the second's last event
    SCRIPT[:] = [evs[:b], evs[a:b] + evs[b : b + 5], evs[b + 4 :]]
    p = _pipeline(tmp_path, max_events=n)
    errors, t = _run_until(p, n)
    assert not errors and not t.is_alive()
    con = p.cursor()
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT pos_hi) FROM bronze_events"
    ).fetchone()
    assert (total, distinct) == (n, n)
    assert p.stats["duplicates_dropped"] == (b - a) + 1
    expected = sorted(
        tuple(str(v[c]) for c in p.spec.tables["orders"].columns)
        for v in sim.state["orders"].values()
    )
    cols = ", ".join(p.spec.tables["orders"].columns)
    got = sorted(
        tuple(str(x) for x in r)
        for r in con.execute(f"SELECT {cols} FROM silver_orders").fetchall()
    )
    assert got == expected
    assert_gold_matches_recompute(con)


def test_small_polls_are_committed_without_waiting_for_max_latency(tmp_path):
    evs, _ = _events(40)
    SCRIPT[:] = [evs[:10]]
    # max_latency 120 s: only the 10 ms linger can close the batch before the 30 s wait gives up
    p = _pipeline(tmp_path, max_latency_ms=120_000, linger_ms=10)
    errors, t = _run_until(p, 10, timeout=30)
    assert not errors and not t.is_alive()  # and the stop is seen without waiting 120 s
    assert p.stats["events_total"] == 10 and p.stats["batches_total"] == 1


def test_wal_is_checkpointed_between_batches_and_threads_are_given_back(tmp_path):
    evs, sim = _events(600)
    n = len(evs)
    # several polls, so several batches; a 1 MB WAL threshold makes the runner checkpoint between them
    SCRIPT[:] = [evs[i : i + 300] for i in range(0, n, 300)]
    spec = spec_with_source({"kind": "scripted_test"})
    spec["batch"] = {**spec["batch"], "max_events": 300, "max_latency_ms": 50, "threads": 1}
    spec["storage"] = {"checkpoint_wal_mb": 1}
    p = pipeline_from_dict("runner_test", spec, tmp_path / "wh.duckdb")
    con = p.cursor()
    con.execute("SET threads = 2")
    errors, t = _run_until(p, n)
    assert not errors and not t.is_alive()
    assert p.stats["events_total"] == n
    assert p.stats["checkpoints"] >= 1
    # DuckDB's automatic checkpoint is only the backstop (256 MB), so the WAL was emptied by the runner
    wal = tmp_path / "wh.duckdb.wal"
    assert not wal.exists() or wal.stat().st_size < 1_000_000
    # batches ran on one thread; the instance's own setting is back once the runner is idle or stopped
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 2
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT pos_hi) FROM bronze_events"
    ).fetchone()
    assert (total, distinct) == (n, n)
    cols = ", ".join(p.spec.tables["orders"].columns)
    expected = sorted(
        tuple(str(v[c]) for c in p.spec.tables["orders"].columns)
        for v in sim.state["orders"].values()
    )
    got = sorted(
        tuple(str(x) for x in r)
        for r in con.execute(f"SELECT {cols} FROM silver_orders").fetchall()
    )
    assert got == expected
    assert_gold_matches_recompute(con)

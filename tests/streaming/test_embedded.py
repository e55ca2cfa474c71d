"""The embedded path end to end: SQLite outbox -> bronze, silver, gold; checkpoints; dead letters."""

from __future__ import annotations

import sqlite3
import threading
import time

import duckdb
import pytest

from workbench.semantic.errors import ModelError
from workbench.streaming import envelope, load_pipeline, pipeline_from_dict
from workbench.streaming.events import RawEvent, dumps
from workbench.streaming.simulator import LINES_COLUMNS, ORDERS_COLUMNS, OrderSimulator
from workbench.streaming.sources.base import Source, register_source
from workbench.streaming.sources.embedded import OperationalStore

from .conftest import assert_gold_matches_recompute, silver_rows, spec_with_source


def _pipeline(tmp_path, warehouse, **batch):
    spec = spec_with_source({"kind": "embedded", "path": str(tmp_path / "op.sqlite")})
    if batch:
        spec["batch"] = {**spec["batch"], **batch}
    return pipeline_from_dict("demo_test", spec, warehouse)


def _source_rows(path, table, columns):
    import pandas as pd

    src = sqlite3.connect(path)
    df = pd.DataFrame(
        src.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(),
        columns=columns,
        dtype=object,
    ).astype("string")
    src.close()
    con = duckdb.connect()
    con.register("src", df)
    types = ORDERS_COLUMNS if table == "orders" else LINES_COLUMNS
    cols = ", ".join(f"CAST({c} AS {types[c]})" for c in columns)
    return sorted(con.execute(f"SELECT {cols} FROM src").fetchall())


def _drain(p, store):
    n = store.con.execute("SELECT count(*) FROM _cdc_outbox").fetchone()[0]
    p.run(max_events=p.stats["events_total"] + n)


def _check_equal(p, path):
    con = p.cursor()
    for table, cols in (("orders", list(ORDERS_COLUMNS)), ("order_lines", list(LINES_COLUMNS))):
        assert silver_rows(con, table, cols) == _source_rows(path, table, cols), table
    assert_gold_matches_recompute(con)


def test_embedded_inserts_updates_deletes_reach_silver_and_gold(tmp_path, warehouse):
    p = _pipeline(tmp_path, warehouse, max_events=500)
    p._open_warehouse()
    store = OperationalStore(tmp_path / "op.sqlite", p.spec.tables)
    sim = OrderSimulator(seed=3)
    store.write(sim.transactions(1500))
    _drain(p, store)
    _check_equal(p, tmp_path / "op.sqlite")
    con = p.cursor()
    assert (
        con.execute("SELECT count(*) FROM bronze_events").fetchone()[0] == p.stats["events_total"]
    )
    assert set(r[0] for r in con.execute("SELECT DISTINCT op FROM bronze_events").fetchall()) == {
        "c",
        "u",
        "d",
    }
    # more changes, applied incrementally on top
    store.write(sim.transactions(800))
    _drain(p, store)
    _check_equal(p, tmp_path / "op.sqlite")
    st = p.status()
    assert st["events_total"] > 0 and st["dead_letters"] == 0 and st["state"] == "stopped"


def test_restart_resumes_from_checkpoint_and_drops_replays(tmp_path, warehouse):
    p = _pipeline(tmp_path, warehouse, max_events=300)
    p._open_warehouse()
    store = OperationalStore(tmp_path / "op.sqlite", p.spec.tables)
    store.write(OrderSimulator(seed=5).transactions(400))
    _drain(p, store)
    ck = p.cursor().execute("SELECT pos_hi FROM stream_checkpoints").fetchone()[0]
    p.close()
    # simulate a crash before the outbox was pruned: put the applied events back
    raw = (
        duckdb.connect(str(warehouse))
        .execute("SELECT pos_hi, payload FROM bronze_events ORDER BY pos_hi")
        .fetchall()
    )
    scon = sqlite3.connect(tmp_path / "op.sqlite")
    scon.executemany("INSERT INTO _cdc_outbox (id, tx_id, payload) VALUES (?, 0, ?)", raw[-100:])
    scon.commit()
    scon.close()
    p2 = _pipeline(tmp_path, warehouse)
    store2 = OperationalStore(tmp_path / "op.sqlite", p2.spec.tables)
    store2.write(OrderSimulator(seed=6, first_order_id=10_000).transactions(50))
    # the source resumes after the checkpoint, so the re-inserted rows are never even read
    n_new = store2.con.execute("SELECT count(*) FROM _cdc_outbox WHERE id > ?", [ck]).fetchone()[0]
    p2.run(max_events=n_new)
    assert (
        p2.cursor().execute("SELECT count(*) FROM bronze_events").fetchone()[0] == len(raw) + n_new
    )
    _check_equal(p2, tmp_path / "op.sqlite")


#: What ReplayingSource delivers, from the first event whatever position it is asked to resume
#: after (set by the test that registers it).
REPLAY: list[RawEvent] = []


class ReplayingSource(Source):
    """An at-least-once source that lost its offset: `open(after)` ignores `after` and delivers
    REPLAY from the beginning, so the runner itself must drop what it committed before."""

    kind = "replaying_test"

    def open(self, after):
        self.left = list(REPLAY)

    def poll(self, max_events, timeout):
        if not self.left:
            time.sleep(timeout)
            return []
        out, self.left = self.left[:max_events], self.left[max_events:]
        return out


def test_replayed_events_are_dropped_by_position(tmp_path, warehouse, clean_registries):
    """A restart whose source re-delivers everything, the committed events first: the runner
    drops those by position (oracle: the simulator's state, and each position once in bronze)."""
    register_source(ReplayingSource)
    sim = OrderSimulator(seed=9)
    evs = []
    for tx in sim.transactions(200):
        for table, op, before, after in tx:
            i = len(evs) + 1
            evs.append(RawEvent(i, 0, str(i), dumps(envelope(table, op, before, after))))
    done = len(evs) // 2  # applied before the restart

    def run(to_apply):
        p = pipeline_from_dict("demo_test", spec_with_source({"kind": "replaying_test"}), warehouse)
        stop = threading.Event()
        guard = threading.Timer(120, stop.set)  # a broken runner fails, it does not hang
        guard.start()
        try:
            p.run(stop, max_events=to_apply)
        finally:
            guard.cancel()
        return p

    REPLAY[:] = evs[:done]
    first = run(done)
    before = silver_rows(first.cursor(), "orders", list(ORDERS_COLUMNS))
    assert first.cursor().execute("SELECT pos_hi FROM stream_checkpoints").fetchone()[0] == done
    first.close()
    REPLAY[:] = evs  # the restart: everything again, from event 1
    p = run(len(evs) - done)
    assert p.stats["duplicates_dropped"] == done
    assert p.stats["events_total"] == len(evs) - done
    con = p.cursor()
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT pos_hi) FROM bronze_events"
    ).fetchone()
    assert (total, distinct) == (len(evs), len(evs))
    expected = sorted(tuple(v[c] for c in ORDERS_COLUMNS) for v in sim.state["orders"].values())
    got = silver_rows(con, "orders", list(ORDERS_COLUMNS))
    assert sorted(tuple(str(x) for x in r) for r in got) == sorted(
        tuple(str(x) for x in r) for r in expected
    )
    assert before != got
    assert_gold_matches_recompute(con)
    p.close()


BAD = {
    "malformed JSON": '{"op": "c", "after": {"order_id": 1',
    "unknown table": dumps(envelope("refunds", "c", None, {"refund_id": 1})),
    "missing key column order_id": dumps(envelope("orders", "c", None, {"status": "completed"})),
    "wrong type for net_amount": dumps(
        envelope("orders", "c", None, {"order_id": 5, "net_amount": "lots"})
    ),
    "wrong type for ordered_at": dumps(
        envelope("orders", "u", None, {"order_id": 6, "ordered_at": "yesterday-ish"})
    ),
    "unknown op x": dumps({**envelope("orders", "c", None, {"order_id": 7}), "op": "x"}),
    "not a change event": "[1, 2, 3]",
    "delete without a before image": dumps(envelope("orders", "d", None, None)),
}


def test_bad_events_go_to_dead_letters_and_the_stream_continues(tmp_path, warehouse):
    from workbench.streaming.apply import BatchApplier

    p = _pipeline(tmp_path, warehouse)
    p._open_warehouse()
    sim = OrderSimulator(seed=11)
    evs, i = [], 0
    good = [e for tx in sim.transactions(50) for e in tx]
    bad = list(BAD.items())
    for k, (table, op, before, after) in enumerate(good):
        i += 1
        evs.append(RawEvent(i, 0, str(i), dumps(envelope(table, op, before, after))))
        if k % 6 == 0 and bad:
            i += 1
            reason, payload = bad.pop()
            evs.append(RawEvent(i, 0, str(i), payload))
    assert not bad
    res = BatchApplier(p.con, p.spec, p.name, p.views).apply(evs, None)
    con = p.cursor()
    dl = con.execute("SELECT reason, payload, position FROM stream_dead_letters").fetchall()
    assert res.dead_letters == len(BAD) == len(dl)
    for reason, payload in BAD.items():
        hits = [r for r in dl if r[0].startswith(reason) or reason in r[0]]
        assert hits, f"no dead letter for {reason}: {dl}"
        assert hits[0][1] == payload  # the raw payload, byte for byte
    # every good event made it: silver equals the simulator's state, gold equals a recompute
    expected = sorted(
        tuple(str(v[c]) for c in ORDERS_COLUMNS) for v in sim.state["orders"].values()
    )
    got = sorted(tuple(str(x) for x in r) for r in silver_rows(con, "orders", list(ORDERS_COLUMNS)))
    assert got == expected
    assert con.execute("SELECT count(*) FROM bronze_events").fetchone()[0] == len(evs)
    assert_gold_matches_recompute(con)


def test_debezium_wrapped_and_epoch_timestamps(tmp_path, warehouse):
    from workbench.streaming.apply import BatchApplier

    p = _pipeline(tmp_path, warehouse)
    p._open_warehouse()
    after = {
        "order_id": 42,
        "ordered_at": 1767225600000000,
        "status": "completed",
        "net_amount": 12.5,
        "region_id": 2,
        "channel_id": 1,
    }
    wrapped = {
        "schema": {"type": "struct"},
        "payload": envelope("orders", "r", None, after, schema="public"),
    }
    ms = dict(after, order_id=43, ordered_at=1767225600000)
    evs = [
        RawEvent(1, 0, "1", dumps(wrapped)),
        RawEvent(2, 0, "2", dumps(envelope("orders", "c", None, ms))),
    ]
    BatchApplier(p.con, p.spec, p.name, p.views).apply(evs, None)
    rows = (
        p.cursor()
        .execute(
            "SELECT order_id, ordered_at::VARCHAR, net_amount::VARCHAR FROM silver_orders "
            "ORDER BY 1"
        )
        .fetchall()
    )
    assert rows == [(42, "2026-01-01 00:00:00", "12.50"), (43, "2026-01-01 00:00:00", "12.50")]


def test_spec_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "pipelines" / "broken.yml"
    bad.parent.mkdir()
    bad.write_text(
        "source: {kind: embedded}\ntables:\n  orders:\n    primary_key: [order_id]\n"
        "    columns: {order_id: BIGINT, amount: MONEYS}\n"
    )
    with pytest.raises(ModelError) as e:
        load_pipeline("broken", root=tmp_path, warehouse=tmp_path / "w.duckdb")
    assert (
        e.value.line == 5 and "MONEYS" in str(e.value) and "tables.orders.columns" in str(e.value)
    )


def test_semantic_live_namespace_serves_gold(tmp_path, warehouse):
    p = _pipeline(tmp_path, warehouse)
    p._open_warehouse()
    store = OperationalStore(tmp_path / "op.sqlite", p.spec.tables)
    store.write(OrderSimulator(seed=2).transactions(300))
    _drain(p, store)
    wb = p.connect_semantic(cache="none")
    df = wb.query("live", metrics=["revenue", "orders", "aov"], dimensions=["region"]).df
    con = p.cursor()
    want = con.execute(
        "SELECT sum(net_amount) FILTER (WHERE status <> 'cancelled') FROM silver_orders"
    ).fetchone()[0]
    assert abs(float(df["revenue"].sum()) - float(want)) < 0.01
    lines = wb.query("live", metrics=["line_revenue"], dimensions=["category"]).df
    assert abs(float(lines["line_revenue"].sum()) - float(want)) < 0.01

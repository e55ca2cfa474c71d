"""The schema gate of the silver stage: compatible changes are recorded for approval and the stage
goes on; a breaking change stops it with nothing written and the checkpoint unmoved, and after the
migration a restart applies the same events with nothing lost; one bad event is still a dead letter.

Oracles: the events written by the test (what silver must hold afterwards), direct SQL on bronze,
silver, the checkpoint and schema_change_proposals."""

from __future__ import annotations

import copy
import json

import pytest

from workbench.streaming import envelope, pipeline_from_dict
from workbench.streaming.apply import BatchApplier
from workbench.streaming.events import RawEvent, dumps
from workbench.streaming.schema_gate import StreamSchemaDriftError, declared_type
from workbench.streaming.store import read_checkpoint

from .conftest import spec_with_source

T = "2026-01-01 10:00:10"


def _order(oid, **kw):
    o = {
        "order_id": oid,
        "customer_id": 100 + oid,
        "store_id": 1,
        "channel_id": 1,
        "region_id": 1,
        "ordered_at": T,
        "status": "completed",
        "is_promo": False,
        "line_count": 1,
        "gross_amount": "20.00",
        "discount_amount": "0.00",
        "net_amount": "20.00",
    }
    o.update(kw)
    return {k: v for k, v in o.items() if v is not _DROP}


_DROP = object()

# Debezium JSON converter with schemas: the declared type of every column of `after`
_FIELDS = [
    ("order_id", "int64", None),
    ("customer_id", "int32", None),
    ("store_id", "int16", None),
    ("channel_id", "int16", None),
    ("region_id", "int16", None),
    ("ordered_at", "int64", "io.debezium.time.MicroTimestamp"),
    ("status", "string", None),
    ("is_promo", "boolean", None),
    ("line_count", "int16", None),
    ("gross_amount", "string", None),
    ("discount_amount", "string", None),
    ("net_amount", "string", None),
]


def _wrapped(after, overrides=None):
    fields = []
    for name, typ, logical in _FIELDS:
        typ = (overrides or {}).get(name, typ)
        fields.append(
            {
                "field": name,
                "type": typ,
                "optional": name != "order_id",
                **({"name": logical} if logical else {}),
            }
        )
    schema = {
        "type": "struct",
        "fields": [
            {"field": "before", "type": "struct", "fields": fields, "optional": True},
            {"field": "after", "type": "struct", "fields": fields, "optional": True},
        ],
    }
    return {"schema": schema, "payload": envelope("orders", "c", None, after)}


class Feed:
    def __init__(self, tmp_path, warehouse, spec=None, name="sg_test"):
        self.spec = spec or spec_with_source(
            {"kind": "embedded", "path": str(tmp_path / "op.sqlite")}
        )
        self.p = pipeline_from_dict(name, self.spec, warehouse)
        self.p._open_warehouse()
        self.applier = BatchApplier(self.p.con, self.p.spec, self.p.name, self.p.views)
        self.i = 0

    def events(self, payloads):
        evs = []
        for pl in payloads:
            self.i += 1
            evs.append(RawEvent(self.i, 0, str(self.i), pl if isinstance(pl, str) else dumps(pl)))
        return evs

    def apply(self, evs):
        ck = read_checkpoint(self.p.con, self.p.spec, self.p.name)
        return self.applier.apply(evs, (ck[0], ck[1]) if ck else None)

    def one(self, sql, params=None):
        return self.p.cursor().execute(sql, params or []).fetchall()


def _proposals(f):
    rows = f.one(
        "SELECT table_name, compatibility, changes_json, migration_json, status, proposed_by "
        "FROM schema_change_proposals ORDER BY id"
    )
    return [(t, c, json.loads(ch), json.loads(m), s, by) for t, c, ch, m, s, by in rows]


def test_added_column_is_proposed_and_the_batch_goes_on(tmp_path, warehouse):
    f = Feed(tmp_path, warehouse)
    evs = f.events([envelope("orders", "c", None, _order(i, coupon=f"C{i}")) for i in (1, 2, 3)])
    res = f.apply(evs)
    assert res.dead_letters == 0 and res.applied == 3
    assert sorted(r[0] for r in f.one("SELECT order_id FROM silver_orders")) == [1, 2, 3]
    # the new column's values are kept: bronze holds every payload byte for byte
    assert sorted(r[0] for r in f.one("SELECT payload FROM bronze_events")) == sorted(
        e.payload for e in evs
    )
    [(table, compat, changes, migration, status, by)] = _proposals(f)
    assert (table, compat, status, by) == (
        "silver_orders",
        "backward",
        "proposed",
        "pipeline sg_test",
    )
    assert [(c["kind"], c["column"], c["new_type"]) for c in changes] == [
        ("added", "coupon", "VARCHAR")
    ]
    assert migration == ['ALTER TABLE "silver_orders" ADD COLUMN "coupon" TEXT'] or migration == [
        'ALTER TABLE "silver_orders" ADD COLUMN "coupon" VARCHAR'
    ]
    # the same change in the next batch is not proposed twice
    f.apply(f.events([envelope("orders", "c", None, _order(4, coupon="C4"))]))
    assert len(_proposals(f)) == 1
    assert f.one("SELECT count(*) FROM silver_orders") == [(4,)]


def test_one_bad_event_is_still_a_dead_letter(tmp_path, warehouse):
    f = Feed(tmp_path, warehouse)
    evs = f.events(
        [
            envelope("orders", "c", None, _order(1)),
            envelope("orders", "c", None, _order(2)),
            envelope("orders", "c", None, _order(3, net_amount="lots")),  # wrong type, one event
            envelope("orders", "c", None, _order(4, order_id=_DROP)),  # key missing, one event
            envelope("orders", "c", None, _order(5)),
        ]
    )
    res = f.apply(evs)
    assert res.dead_letters == 2
    reasons = sorted(r[0] for r in f.one("SELECT reason FROM stream_dead_letters"))
    assert reasons[0].startswith("missing key column order_id") and reasons[1].startswith(
        "wrong type for net_amount"
    )
    assert sorted(r[0] for r in f.one("SELECT order_id FROM silver_orders")) == [1, 2, 5]
    assert (
        not f.one(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_change_proposals'"
        )
        or _proposals(f) == []
    )


def test_key_column_gone_from_the_whole_batch_stops_the_stage(tmp_path, warehouse):
    f = Feed(tmp_path, warehouse)
    f.apply(f.events([envelope("orders", "c", None, _order(1))]))
    # the source renamed order_id: every event of the batch lacks it
    evs = f.events(
        [envelope("orders", "c", None, {**_order(i, order_id=_DROP), "id": i}) for i in (2, 3, 4)]
    )
    with pytest.raises(StreamSchemaDriftError) as e:
        f.apply(evs)
    msg = str(e.value)
    assert (
        "silver_orders" in msg
        and "order_id" in msg
        and "stage 'silver'" in msg
        and "sg_test" in msg
    )
    assert "checkpoint not advanced" in msg and "positions 2 .. 4" in msg
    # nothing of the batch was written: bronze, dead letters, silver, checkpoint are as before
    assert f.one("SELECT count(*) FROM bronze_events") == [(1,)]
    assert f.one("SELECT count(*) FROM stream_dead_letters") == [(0,)]
    assert f.one("SELECT order_id FROM silver_orders") == [(1,)]
    assert f.one("SELECT position, events FROM stream_checkpoints") == [("1", 1)]
    [(table, compat, changes, _, status, _)] = _proposals(f)
    assert (table, compat, status) == ("silver_orders", "breaking", "proposed")
    assert {(c["kind"], c["column"], c["compatibility"]) for c in changes} == {
        ("removed", "order_id", "breaking"),
        ("added", "id", "backward"),
    }


def test_declared_breaking_retype_stops_then_resumes_after_migration_with_nothing_lost(
    tmp_path, warehouse
):
    f = Feed(tmp_path, warehouse)
    good = [_wrapped(_order(1)), _wrapped(_order(2))]
    assert f.apply(f.events(good)).applied == 2
    # the source now declares net_amount as a float (money that would round): one event is enough,
    # the schema says so
    after = _order(3, net_amount=20.25)
    evs = f.events([_wrapped(after, {"net_amount": "float64"})])
    with pytest.raises(StreamSchemaDriftError) as e:
        f.apply(evs)
    assert "net_amount" in str(e.value) and "DECIMAL(12,2) -> DOUBLE" in str(e.value)
    assert f.one("SELECT count(*) FROM bronze_events") == [(2,)]
    assert f.one("SELECT position FROM stream_checkpoints") == [("2",)]
    [(_, compat, changes, migration, _, _)] = _proposals(f)
    assert compat == "breaking" and [c["column"] for c in changes] == ["net_amount"]
    # a steward approves and applies it (as the quality app does); the pipeline spec follows; restart
    from workbench.quality.schema import proposals
    from workbench.quality.schema.registry import SchemaRegistry
    from workbench.security.principal import Principal

    con = f.p.con
    steward = Principal.of("sam", ["data_steward"])
    pid = con.execute("SELECT id FROM schema_change_proposals").fetchone()[0]
    proposals.approve(con, pid, steward)
    registry = SchemaRegistry(tmp_path / "schemas")
    v = proposals.apply(con, pid, registry, steward)
    assert v.version == 2 and v.column("net_amount").type == "DOUBLE"
    assert [c.column for c in v.changes] == ["net_amount"] and v.migration == migration
    f.p.close()
    spec = copy.deepcopy(f.spec)
    spec["tables"]["orders"]["columns"]["net_amount"] = "DOUBLE"
    g = Feed(tmp_path, warehouse, spec)
    res = g.apply(evs)  # the same events, re-read from the source after the checkpoint
    assert res.applied == 1 and res.dead_letters == 0
    assert sorted(g.one("SELECT order_id, net_amount FROM silver_orders")) == [
        (1, 20.0),
        (2, 20.0),
        (3, 20.25),
    ]
    assert g.one("SELECT position FROM stream_checkpoints") == [("3",)]


def test_compatible_declared_types_need_nothing_and_a_nullable_column_gone_is_proposed(
    tmp_path, warehouse
):
    f = Feed(tmp_path, warehouse)
    # int32 into INTEGER, int16 into SMALLINT, MicroTimestamp into TIMESTAMP, decimals as strings:
    # nothing to propose
    f.apply(f.events([_wrapped(_order(1)), _wrapped(_order(2))]))
    assert (
        not f.one(
            "SELECT 1 FROM information_schema.tables WHERE table_name = 'schema_change_proposals'"
        )
        or _proposals(f) == []
    )
    # status is gone from every event (3 >= min_events): nullable, so it loads as NULL and is proposed
    res = f.apply(
        f.events([envelope("orders", "c", None, _order(i, status=_DROP)) for i in (3, 4, 5)])
    )
    assert res.applied == 3
    assert f.one("SELECT count(*) FROM silver_orders WHERE status IS NULL") == [(3,)]
    [(_, compat, changes, _, _, _)] = _proposals(f)
    assert compat == "forward" and [(c["kind"], c["column"]) for c in changes] == [
        ("removed", "status")
    ]


def test_declared_types_map_to_duckdb():
    assert (
        declared_type({"type": "int64", "name": "io.debezium.time.MicroTimestamp"}) == "TIMESTAMP"
    )
    assert (
        declared_type(
            {
                "type": "bytes",
                "name": "org.apache.kafka.connect.data.Decimal",
                "parameters": {"scale": "2", "connect.decimal.precision": "12"},
            }
        )
        == "DECIMAL(12,2)"
    )
    assert declared_type({"type": "int32"}) == "INTEGER"
    assert declared_type({"type": "struct"}) is None

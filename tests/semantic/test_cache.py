"""The semantic result cache: hits, keys per principal, invalidation on model and data changes,
latency stats, and the Redis backend shared between workbench objects."""

from __future__ import annotations

import shutil
import socket
import time

import duckdb
import pytest

import workbench
from tests.support.prerequisites import require_service

from .conftest import MODELS, PRINCIPALS

REDIS_URL = "redis://127.0.0.1:6379/15"


def connect(db, models=MODELS, cache="memory", who="admin", read_only=True):
    return workbench.connect(
        warehouse=db,
        models_dir=models,
        principal=PRINCIPALS[who],
        read_only=read_only,
        principals_file=MODELS / "none.yml",
        cache=cache,
    )


@pytest.fixture
def wb(shop_db):
    w = connect(shop_db)
    yield w
    w.close()


@pytest.fixture
def warehouse_copy(shop_db, tmp_path):
    dst = tmp_path / "shop.duckdb"
    shutil.copy(shop_db, dst)
    return dst


def revenue(w, **kw):
    q = w.query("shop", metrics=["revenue"], **kw)
    return float(q.df["revenue"][0]), q


# ---------------------------------------------------------------------------------------------
def test_hit_on_repeat(wb):
    v1, q1 = revenue(wb)
    assert not q1.cached and v1 == 650.0
    v2, q2 = revenue(wb)
    assert q2.cached and v2 == v1
    stats = wb.cache_stats()
    assert stats["backend"] == "memory"
    assert stats["hits"] == 1 and stats["misses"] == 1
    assert stats["hit_ratio"] == 0.5
    assert stats["entries"] == 1


def test_hit_returns_a_copy(wb):
    wb.query("shop", metrics=["revenue"], dimensions=["region"]).df
    hit = wb.query("shop", metrics=["revenue"], dimensions=["region"])
    hit.df.loc[:, "revenue"] = -1
    assert hit.cached
    again = wb.query("shop", metrics=["revenue"], dimensions=["region"])
    again.df
    assert again.cached and (again.df["revenue"] > 0).all()


def test_miss_result_is_not_the_cached_object(wb):
    df = wb.query("shop", metrics=["revenue"], dimensions=["region"]).df
    df.loc[:, "revenue"] = -1
    again = wb.query("shop", metrics=["revenue"], dimensions=["region"])
    again.df
    assert again.cached and (again.df["revenue"] > 0).all()


def test_hit_latency_in_stats(wb):
    for _ in range(4):
        wb.query("shop", metrics=["revenue", "units"], dimensions=["region"]).df
    stats = wb.cache_stats()
    assert stats["hits"] == 3 and stats["misses"] == 1
    assert stats["hit_ratio"] == 0.75
    assert stats["hit_ms_p50"] is not None and stats["miss_ms_p50"] is not None
    assert 0 <= stats["hit_ms_p50"] < stats["miss_ms_p50"]


def test_equal_specs_share_one_entry(wb):
    wb.query("shop", metrics="revenue, order_count", dimensions=["region"]).df
    q = wb.query("shop", metrics=["revenue", "order_count"], dimensions="region")
    q.df
    assert q.cached


def test_key_includes_principal(wb):
    north = wb.as_principal(PRINCIPALS["north"])
    south = wb.as_principal(PRINCIPALS["south"])
    v_admin, _ = revenue(wb)
    v_north, qn = revenue(north)
    v_south, qs = revenue(south)
    assert not qn.cached and not qs.cached
    assert (v_admin, v_north) == (650.0, 300.0)
    assert v_south in (350.0, 270.0)  # 270 when order 7's hidden (North) customer hides it
    v_north2, qn2 = revenue(north)
    assert qn2.cached and v_north2 == v_north
    assert wb.cache_stats()["entries"] == 3


def test_key_includes_attributes_not_only_user_name(wb):
    from workbench.security.principal import Principal

    fake = Principal.of("north", roles=["regional_manager"], region="South")
    revenue(wb.as_principal(PRINCIPALS["north"]))
    v, q = revenue(wb.as_principal(fake))
    assert not q.cached and v != 300.0
    assert PRINCIPALS["north"].context_key != fake.context_key


def test_invalidated_when_model_file_changes(shop_db, models_copy):
    w = connect(shop_db, models=models_copy)
    try:
        v1, _ = revenue(w)
        assert v1 == 650.0
        assert revenue(w)[1].cached
        path = models_copy / "shop.yml"
        text = path.read_text()
        old = "{name: revenue, agg: sum, expr: amount,"
        assert old in text
        time.sleep(0.6)  # models are re-checked at most every 0.5 s
        path.write_text(text.replace(old, "{name: revenue, agg: sum, expr: amount * 2,"))
        time.sleep(0.6)
        v2, q2 = revenue(w)
        assert not q2.cached
        assert v2 == 1300.0
        v3, q3 = revenue(w)
        assert q3.cached and v3 == 1300.0
    finally:
        w.close()


def test_data_version_changes_when_file_changes(warehouse_copy):
    w = connect(warehouse_copy)
    try:
        v1, _ = revenue(w)
        assert v1 == 650.0 and revenue(w)[1].cached
        before = w.engine.data_version()
        w.close()  # release the file: DuckDB allows one writer process
        con = duckdb.connect(str(warehouse_copy))
        con.execute("update orders set amount = amount + 1000 where order_id = 1")
        con.execute("checkpoint")
        con.close()
        after = w.engine.data_version()
        assert after != before
        v2, q2 = revenue(w)
        assert not q2.cached
        assert v2 == 1650.0
    finally:
        w.close()


def test_explicit_invalidate(wb):
    revenue(wb)
    assert revenue(wb)[1].cached
    before = wb.engine.data_version()
    wb.invalidate()
    assert wb.engine.data_version() != before
    assert wb.cache_stats()["entries"] == 0
    v, q = revenue(wb)
    assert not q.cached and v == 650.0
    assert revenue(wb)[1].cached


def test_invalidate_picks_up_new_rows(warehouse_copy, tmp_path):
    """A refresh written in-process (same connection) is seen after invalidate()."""
    w = connect(warehouse_copy, read_only=False)
    try:
        assert revenue(w)[0] == 650.0
        w.engine.native_connection().execute(
            "insert into orders values (8, 100, 10, TIMESTAMP '2025-03-01 10:00:00', 5.0, 'completed')"
        )
        w.invalidate()
        v, q = revenue(w)
        assert not q.cached and v == 655.0
    finally:
        w.close()


def test_no_cache_backend(shop_db):
    w = connect(shop_db, cache="none")
    try:
        revenue(w)
        v, q = revenue(w)
        assert not q.cached and v == 650.0
        assert w.cache_stats() == {"backend": "none"}
    finally:
        w.close()


# ---------------------------------------------------------------------------------------------
@pytest.fixture
def redis_client():
    require_service("Redis", "127.0.0.1", 6379)
    import redis

    r = redis.Redis.from_url(REDIS_URL)
    for k in r.scan_iter("workbench:result:*"):
        r.delete(k)
    yield r
    for k in r.scan_iter("workbench:result:*"):
        r.delete(k)


@pytest.mark.services
def test_redis_shared_between_workbenches(shop_db, redis_client):
    a = connect(shop_db, cache=REDIS_URL)
    b = connect(shop_db, cache=REDIS_URL)  # another "process": nothing shared but Redis
    try:
        assert a._s is not b._s
        assert a.cache_stats()["backend"] == "redis"
        qa = a.query("shop", metrics=["revenue", "order_count"], dimensions=["region"])
        qa.df
        assert not qa.cached
        qb = b.query("shop", metrics=["revenue", "order_count"], dimensions=["region"])
        qb.df
        assert qb.cached
        assert (
            qb.df.sort_values("region")
            .reset_index(drop=True)
            .equals(qa.df.sort_values("region").reset_index(drop=True))
        )
        assert b.cache_stats()["hits"] == 1

        # keys hold the principal's security context
        keys = [k.decode() for k in redis_client.scan_iter("workbench:result:*")]
        assert len(keys) == 1 and PRINCIPALS["admin"].context_key in keys[0]
        north_b = b.as_principal(PRINCIPALS["north"])
        qn = north_b.query("shop", metrics=["revenue", "order_count"], dimensions=["region"])
        qn.df
        assert not qn.cached
        assert set(qn.df["region"].dropna()) == {"North"}
        qn_a = a.as_principal(PRINCIPALS["north"]).query(
            "shop", metrics=["revenue", "order_count"], dimensions=["region"]
        )
        qn_a.df
        assert qn_a.cached and set(qn_a.df["region"].dropna()) == {"North"}
        keys = [k.decode() for k in redis_client.scan_iter("workbench:result:*")]
        assert len(keys) == 2
        assert any(PRINCIPALS["north"].context_key in k for k in keys)

        # clear works, for every workbench sharing the Redis
        a.invalidate()
        assert not list(redis_client.scan_iter("workbench:result:*"))
        assert a.cache_stats()["entries"] == 0
        again = b.query("shop", metrics=["revenue", "order_count"], dimensions=["region"])
        again.df
        assert not again.cached
    finally:
        a.close()
        b.close()


@pytest.mark.services
def test_redis_roundtrip_keeps_types(shop_db, redis_client):
    a = connect(shop_db, cache=REDIS_URL)
    try:
        q1 = a.query("shop", metrics=["revenue", "order_count"], dimensions=["order_date__month"])
        q2 = a.query("shop", metrics=["revenue", "order_count"], dimensions=["order_date__month"])
        df1 = q1.df
        assert not q1.cached
        df2 = q2.df
        assert q2.cached
        assert list(df2.columns) == list(df1.columns)
        assert (
            df2.sort_values("order_date__month")
            .reset_index(drop=True)
            .equals(df1.sort_values("order_date__month").reset_index(drop=True))
        )
    finally:
        a.close()


def test_require_service_skips_or_fails(monkeypatch):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    free = port.getsockname()[1]
    port.close()
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not reachable"):
        require_service("Nothing", "127.0.0.1", free)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_service("Nothing", "127.0.0.1", free)

"""The retail demo warehouse: determinism, shape, seasonality, incidents and business rules."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from workbench.warehouse import seed

END = dt.date(2026, 3, 15)
SCALE = 0.05


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("seed") / "warehouse.duckdb"
    info = seed.build_demo_warehouse(path, scale=SCALE, seed=42, end=END, progress=False)
    return path, info


@pytest.fixture(scope="module")
def con(built):
    c = duckdb.connect(str(built[0]), read_only=True)
    yield c
    c.close()


def one(con, sql: str, *params):
    return con.execute(sql, list(params)).fetchone()[0]


def test_tables_and_summary(built, con):
    path, info = built
    tables = {
        r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()
    }
    assert set(seed.TABLES) <= tables
    assert info["rows"]["orders"] == one(con, "select count(*) from orders")
    assert 15_000 < info["rows"]["orders"] < 35_000  # ~450k at scale 1.0
    assert 1.8 < info["rows"]["order_lines"] / info["rows"]["orders"] < 2.8
    meta = dict(con.execute("select key, value from warehouse_meta").fetchall())
    assert meta["seed"] == "42" and float(meta["scale"]) == SCALE and meta["end"] == END.isoformat()
    assert {"built_at", "version", "start"} <= set(meta)


def test_keys_unique_and_not_null(con):
    for table, spec in seed.TABLES.items():
        keys = ", ".join(spec["pk"])
        nulls = " or ".join(f"{k} is null" for k in spec["pk"])
        assert one(con, f"select count(*) - count(distinct ({keys})) from {table}") == 0, table
        assert one(con, f"select count(*) from {table} where {nulls}") == 0, table
    for child, parent, key in [
        ("orders", "customers", "customer_id"),
        ("orders", "stores", "store_id"),
        ("orders", "channels", "channel_id"),
        ("order_lines", "orders", "order_id"),
        ("order_lines", "products", "product_id"),
        ("products", "categories", "category_id"),
        ("stores", "regions", "region_id"),
        ("returns", "orders", "order_id"),
        ("payments", "orders", "order_id"),
        ("incident_orders", "orders", "order_id"),
    ]:
        assert (
            one(con, f"select count(*) from {child} c anti join {parent} p using ({key})") == 0
        ), (child, key)


def test_deterministic(built, con, tmp_path):
    other = tmp_path / "again.duckdb"
    seed.build_demo_warehouse(other, scale=SCALE, seed=42, end=END, progress=False)
    con.execute(f"attach '{other}' as again (read_only)")
    try:
        for table in seed.TABLES:
            if table == "warehouse_meta":
                continue
            diff = one(
                con,
                f"""select count(*) from (
                (select * from main.{table} except all select * from again.{table})
                union all (select * from again.{table} except all select * from main.{table}))""",
            )
            assert diff == 0, table
        assert one(con, "select count(*) from again.orders") == one(
            con, "select count(*) from main.orders"
        )
    finally:
        con.execute("detach again")


def test_other_seed_differs_and_rows_scale(con):
    n_orders = one(con, "select count(*) from orders")
    n_customers = one(con, "select count(*) from customers")
    other = seed.generate(seed=7, scale=SCALE, end=END)
    ours = [
        r[0]
        for r in con.execute(
            "select (net_amount * 100)::bigint from orders order by order_id limit 100"
        ).fetchall()
    ]
    assert other["orders"].net_amount__cents.tolist()[:100] != ours
    double = seed.generate(seed=42, scale=2 * SCALE, end=END)
    assert 1.8 < len(double["orders"]) / n_orders < 2.2
    assert 1.8 < len(double["customers"]) / n_customers < 2.2


def test_history_spans_two_years(con):
    lo, hi = con.execute("select min(ordered_at), max(ordered_at) from orders").fetchone()
    assert lo.date() == dt.date(END.year - 2, END.month, 1)
    assert hi < dt.datetime.combine(END, dt.time()) and hi.date() == END - dt.timedelta(days=1)
    assert (hi - lo).days >= 730
    assert seed.history_bounds(None)[1] == dt.date.today()


def test_weekly_and_daily_seasonality(con):
    by_dow = dict(
        con.execute("""
        select dayofweek(ordered_at) dow, count(*) / count(distinct cast(ordered_at as date))
        from orders o join channels using (channel_id) where channel = 'store' group by 1""").fetchall()
    )
    assert by_dow[6] > 1.4 * by_dow[2]  # Saturday vs Tuesday in stores
    online = dict(
        con.execute("""
        select dayofweek(ordered_at) dow, count(*) from orders o join channels using (channel_id)
        where channel = 'online' group by 1""").fetchall()
    )
    assert online[0] > online[5]  # the web shop peaks on Sunday
    night = one(
        con,
        """select count(*) from orders o join channels using (channel_id)
                        where channel = 'store' and hour(ordered_at) < 8""",
    )
    assert night == 0


def test_december_lift_and_growth(con):
    daily = con.execute("""
        select year(ordered_at) y, month(ordered_at) m,
               sum(net_amount)::double / count(distinct cast(ordered_at as date))
        from orders where status != 'cancelled' group by 1, 2""").fetchall()
    rev = {(y, m): v for y, m, v in daily}
    y = min(y for y, m in rev if m == 12 and (y, 9) in rev and (y, 10) in rev)
    autumn = (rev[(y, 9)] + rev[(y, 10)]) / 2
    assert rev[(y, 12)] > 1.2 * autumn
    first, last = con.execute("""
        select sum(net_amount::double)
                 filter (where ordered_at < (select min(ordered_at) from orders) + interval 1 year),
               sum(net_amount::double)
                 filter (where ordered_at >= (select max(ordered_at) from orders) - interval 1 year)
        from orders where status != 'cancelled'""").fetchone()
    assert last > 1.1 * first


def test_promotions_lift_volume_and_cut_price(con):
    bf_code, bf_start = con.execute(
        "select promo_code, start_date from promotions where promo_code like 'BLACKFRIDAY%' order by 2 limit 1"
    ).fetchone()
    daily = "select count(*) / (? - ?) from orders where ordered_at >= ? and ordered_at < ?"
    bf_end, week_before = bf_start + dt.timedelta(days=4), bf_start - dt.timedelta(days=14)
    during = one(con, daily, bf_end, bf_start, bf_start, bf_end)
    before = one(
        con,
        daily,
        bf_start - dt.timedelta(days=7),
        week_before,
        week_before,
        bf_start - dt.timedelta(days=7),
    )
    assert during > 1.5 * before
    promo_disc, plain_disc = con.execute("""
        select avg(l.discount) filter (where o.is_promo), avg(l.discount) filter (where not o.is_promo)
        from order_lines l join orders o using (order_id)""").fetchone()
    assert promo_disc > 0.1 and plain_disc < 0.02
    assert one(con, "select count(*) from orders where is_promo and promo_code = ?", bf_code) > 0
    assert one(con, "select count(*) from orders where is_promo != (promo_code is not null)") == 0


def _incident(con, kind):
    return con.execute(
        "select * from incidents where kind = ? order by incident_id", [kind]
    ).fetchdf()


def _weekly_baseline(con, sql_count: str, start, end, weeks=4):
    """Mean of the same window 1..weeks weeks earlier."""
    vals = [
        one(con, sql_count, start - dt.timedelta(weeks=w), end - dt.timedelta(weeks=w))
        for w in range(1, weeks + 1)
    ]
    return sum(vals) / len(vals)


def test_incidents_recorded(con):
    inc = con.execute("select * from incidents").fetchdf()
    assert {"outage", "pricing_error", "fraud_burst", "returns_spike"} <= set(inc.kind)
    assert (inc.end_ts > inc.start_ts).all()
    lo, hi = con.execute("select min(ordered_at), max(ordered_at) from orders").fetchone()
    assert (inc.start_ts > lo).all() and (inc.end_ts < hi).all()
    assert (
        inc[["dimension", "dimension_value", "filter", "metric", "description"]].notna().all().all()
    )


def test_outages_visible(con):
    for _, inc in _incident(con, "outage").iterrows():
        col = "channel" if inc.dimension == "channel" else "region"
        extra = "" if col == "channel" else " and c.channel = 'store'"
        sql = f"""select count(*) from orders o join channels c using (channel_id) join stores s using (store_id)
                  where {"c.channel" if col == "channel" else "s.region"} = '{inc.dimension_value}'{extra}
                  and o.ordered_at >= ? and o.ordered_at < ?"""
        during = one(con, sql, inc.start_ts, inc.end_ts)
        baseline = _weekly_baseline(con, sql, inc.start_ts, inc.end_ts)
        assert baseline >= 1.5, inc.description
        assert during <= 0.2 * baseline, (inc.incident_id, during, baseline)


def test_pricing_error_visible(con):
    inc = _incident(con, "pricing_error").iloc[0]
    sql = """select coalesce(sum(quantity), 0) from order_lines l join orders o using (order_id)
             join products p using (product_id) where p.product_name = ? and o.ordered_at >= ? and o.ordered_at < ?"""
    during = one(con, sql, inc.dimension_value, inc.start_ts, inc.end_ts)
    baseline = (
        sum(
            one(
                con,
                sql,
                inc.dimension_value,
                inc.start_ts - dt.timedelta(weeks=w),
                inc.end_ts - dt.timedelta(weeks=w),
            )
            for w in range(1, 5)
        )
        / 4
    )
    assert during > 10 * max(baseline, 1)
    price, normal, margin = con.execute(
        """
        select max(l.unit_price) filter (where o.ordered_at >= ? and o.ordered_at < ?),
               max(l.unit_price) filter (where o.ordered_at < ?),
               sum(l.line_amount - l.cost_amount) filter (where o.ordered_at >= ? and o.ordered_at < ?)
        from order_lines l join orders o using (order_id) join products p using (product_id)
        where p.product_name = ? and year(o.ordered_at) = year(?::timestamp)""",
        [
            inc.start_ts,
            inc.end_ts,
            inc.start_ts,
            inc.start_ts,
            inc.end_ts,
            inc.dimension_value,
            inc.start_ts,
        ],
    ).fetchone()
    assert float(price) < 0.15 * float(normal) and margin < 0


def test_fraud_burst_visible(con):
    inc = _incident(con, "fraud_burst").iloc[0]
    sql = """select coalesce(sum(net_amount), 0) from orders o join channels c using (channel_id)
             join stores s using (store_id) where c.channel = 'online' and s.region = 'Central'
             and o.ordered_at >= ? and o.ordered_at < ?"""
    during = float(one(con, sql, inc.start_ts, inc.end_ts))
    baseline = float(_weekly_baseline(con, sql, inc.start_ts, inc.end_ts))
    assert during > 20 * max(baseline, 50)
    n_orders, n_customers, new_customers = con.execute(
        """
        select count(*), count(distinct o.customer_id),
               count(distinct o.customer_id) filter (where c.signup_at > ?::timestamp - interval 1 hour)
        from incident_orders i join orders o using (order_id) join customers c using (customer_id)
        where i.incident_id = ?""",
        [inc.start_ts, int(inc.incident_id)],
    ).fetchone()
    assert n_orders >= 25 and n_customers <= 6 and new_customers == n_customers


def test_returns_spike_visible(con):
    inc = _incident(con, "returns_spike").iloc[0]
    sql = """select avg((l.returned_quantity > 0)::int) from order_lines l join orders o using (order_id)
             join products p using (product_id) join channels c using (channel_id)
             where p.category = 'Footwear' and c.channel != 'store'
             and o.ordered_at >= ? and o.ordered_at < ?"""
    during = one(con, sql, inc.start_ts, inc.end_ts)
    before = one(
        con, sql, inc.start_ts - dt.timedelta(weeks=8), inc.start_ts - dt.timedelta(weeks=1)
    )
    assert during > max(0.35, 1.5 * before), (during, before)


def test_order_total_equals_sum_of_lines(con):
    assert (
        one(
            con,
            """select count(*) from orders o left join
                       (select order_id, sum(line_amount) s, count(*) n from order_lines group by 1) l using (order_id)
                       where l.s is null or o.net_amount != l.s or o.line_count != l.n""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from order_lines
                       where line_amount != round(quantity * unit_price * (1 - discount), 2)""",
        )
        == 0
    )
    assert (
        one(con, "select count(*) from orders where gross_amount - discount_amount != net_amount")
        == 0
    )


def test_dates_and_status_consistent(con):
    assert one(con, "select count(*) from orders where shipped_at < ordered_at") == 0
    assert (
        one(
            con, "select count(*) from orders where status = 'cancelled' and shipped_at is not null"
        )
        == 0
    )
    assert (
        one(
            con,
            "select count(*) from orders where status in ('completed', 'returned') and shipped_at is null",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from returns r join orders o using (order_id)
                       where r.returned_at <= o.shipped_at or o.status != 'returned'""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from orders o join stores s using (store_id)
                       where o.ordered_at < s.opened_at""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from orders o join customers c using (customer_id)
                       where o.ordered_at < c.signup_at""",
        )
        == 0
    )
    start = dt.datetime.combine(seed.history_bounds(END)[0], dt.time())
    assert one(con, """select count(*) from orders where is_first_order""") == one(
        con,
        """select count(distinct customer_id) from orders join customers using (customer_id)
                where status != 'cancelled' and signup_at >= ?""",
        start,
    )
    assert (
        one(
            con,
            """select count(*) from orders o join customers c using (customer_id)
                       where o.is_first_order and o.ordered_at != c.first_order_at""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from customers where first_order_at < signup_at
                       or (signup_at < ? and first_order_at >= ?)""",
            start,
            start,
        )
        == 0
    )
    statuses = {r[0] for r in con.execute("select distinct status from orders").fetchall()}
    assert statuses <= {"completed", "returned", "cancelled", "processing"}


def test_refunds_never_exceed_payment(con):
    assert (
        one(
            con,
            """select count(*) from orders o left join payments p using (order_id)
                       left join (select order_id, sum(refund_amount) r from returns group by 1) x using (order_id)
                       where coalesce(x.r, 0) > coalesce(p.amount, 0)
                          or coalesce(x.r, 0) != o.refund_amount""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from returns r join order_lines l using (order_id, line_no)
                       where r.refund_amount > l.line_amount or r.quantity > l.quantity
                          or r.quantity != l.returned_quantity""",
        )
        == 0
    )
    assert (
        one(
            con,
            """select count(*) from payments p join orders o using (order_id)
                       where p.amount != o.net_amount or o.status = 'cancelled'""",
        )
        == 0
    )


def test_retail_semantic_model_queries(built, con):
    """semantic/retail.yml binds to the seeded warehouse and agrees with plain SQL."""
    import pathlib

    import workbench
    from workbench.security.principal import Principal

    models = pathlib.Path(__file__).resolve().parents[2] / "semantic"
    admin = Principal.of("root", roles=["admin"])
    wb = workbench.connect(
        warehouse=built[0], models_dir=models, principal=admin, read_only=True, cache="none"
    )
    by_region = wb.query(
        "retail", metrics=["revenue", "aov"], dimensions=["region", "order_date"], grain="month"
    ).df
    assert set(by_region.region) == {"North", "Central", "West", "South", "East"}
    assert by_region.order_date.nunique() >= 24  # two years of months
    total = wb.query("retail", metrics=["revenue", "line_revenue", "orders"]).df.iloc[0]
    sql_rev, sql_orders = con.execute(
        "select sum(net_amount)::double, count(*) from orders where status != 'cancelled'"
    ).fetchone()
    assert abs(total.revenue - sql_rev) < 0.01 and abs(total.line_revenue - sql_rev) < 0.01
    assert total.orders == sql_orders
    manager = wb.as_principal(Principal.of("rm", roles=["regional_manager"], region="North"))
    seen = manager.query("retail", metrics=["revenue", "units"], dimensions=["region"]).df
    assert list(seen.region) == ["North"]
    emails = manager.query("retail", dimensions=["email"], limit=3).df
    assert set(emails.email) == {"****"}
    for _, inc in (
        con.execute("select filter, start_ts, end_ts from incidents").fetchdf().iterrows()
    ):
        rng = f"{inc.start_ts:%Y-%m-%d}..{inc.end_ts + dt.timedelta(days=1):%Y-%m-%d}"
        _ = wb.query("retail", metrics=["orders"], where=[inc["filter"]], time_range=rng).df

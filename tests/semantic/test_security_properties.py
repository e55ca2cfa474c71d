"""Property-based security tests: random queries, random principals, an independent oracle.

The oracle below is plain Python over the fixture rows of conftest.py. It applies the shop's
policies itself (orders visible iff their store's region is the principal's region, customers
iff their own region is, unless admin/analyst; no region attribute means no rows; email masked
unless admin; customer_name hidden from viewers) and then evaluates the query the way the docs
define it: each measure aggregated at its own model's grain over left joins to secured models,
de-duplicated by primary key, per-model aggregates outer-joined on the dimensions.

Every test that queries runs on each registered engine (the `engine` fixture); Spark draws
fewer random examples (`examples`), since each of its queries costs a second or so here.
"""

from __future__ import annotations

import datetime as dt
import math
import re

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from workbench.security.principal import Principal
from workbench.semantic.errors import AccessDeniedError, QueryError
from workbench.semantic.spec import Policies

from .conftest import CUSTOMERS, LINES, MODELS, ORDERS, PRINCIPALS, RETURNS, SHOP_TABLES, STORES

SETTINGS = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# random examples per property on an engine whose queries are slow (the rest take the full count)
SLOW_ENGINES = {"spark": 4}


def examples(engine, n: int) -> int:
    return min(n, SLOW_ENGINES.get(engine.name, n))


# ---------------------------------------------------------------------------------------------
# the oracle
# ---------------------------------------------------------------------------------------------
MASK = "****"
EXEMPT = {"admin", "analyst"}
STORE_REGION = {s[0]: s[2] for s in STORES}

TABLES = {
    "stores": [dict(zip(("store_id", "name", "region"), r, strict=True)) for r in STORES],
    "customers": [
        dict(zip(("customer_id", "name", "email", "region"), r, strict=True)) for r in CUSTOMERS
    ],
    "orders": [
        dict(
            zip(
                ("order_id", "customer_id", "store_id", "ordered_at", "amount", "status"),
                (*r[:3], dt.datetime.fromisoformat(r[3]), *r[4:]),
                strict=True,
            )
        )
        for r in ORDERS
    ],
    "order_lines": [
        dict(zip(("order_id", "line_no", "product", "qty", "line_amount"), r, strict=True))
        for r in LINES
    ],
    "returns": [
        dict(
            zip(
                ("return_id", "order_id", "returned_at", "refund"),
                (r[0], r[1], dt.datetime.fromisoformat(r[2]), r[3]),
                strict=True,
            )
        )
        for r in RETURNS
    ],
}
# the shop's join graph is a star around orders: (model, its column, orders' column)
SPOKES = {
    "customers": ("customer_id", "customer_id"),
    "stores": ("store_id", "store_id"),
    "order_lines": ("order_id", "order_id"),
    "returns": ("order_id", "order_id"),
}


def region_of(p: Principal):
    return p.attrs.get("region")


# `policies.inherit` (default on when the layer has it): a row whose many-to-one parent is
# hidden by the parent's row policies is hidden too (orders <- customers; lines, returns <- orders)
INHERIT = "inherit" in getattr(Policies, "model_fields", {})


def secured(model: str, p: Principal) -> list[dict]:
    rows = [dict(r) for r in TABLES[model]]
    exempt = p.has_any(EXEMPT)
    if model == "orders" and not exempt:
        rows = [
            r
            for r in rows
            if region_of(p) is not None and STORE_REGION[r["store_id"]] == region_of(p)
        ]
        if INHERIT:
            ok = {c["customer_id"] for c in secured("customers", p)}
            rows = [r for r in rows if r["customer_id"] in ok]
    if model in ("order_lines", "returns") and INHERIT and not exempt:
        ok = {o["order_id"] for o in secured("orders", p)}
        rows = [r for r in rows if r["order_id"] in ok]
    if model == "customers":
        if not exempt:
            rows = [r for r in rows if region_of(p) is not None and r["region"] == region_of(p)]
        if not p.has_any({"admin"}):
            for r in rows:
                r["email"] = MASK
    return rows


def wide(root: str, models: set[str], p: Principal) -> list[dict]:
    """Rows of `root` left-joined to the secured models (one dict per model, None = no match)."""
    out = [{root: r} for r in secured(root, p)]
    models = set(models) - {root}
    if root != "orders" and models:
        models.add("orders")
    order = (["orders"] if "orders" in models else []) + sorted(models - {"orders"})
    for m in order:
        target = secured(m, p)
        nxt = []
        for w in out:
            if m == "orders":
                spoke_col, orders_col = SPOKES[root]
                src, key = w[root], orders_col
                val = None if src is None else src[spoke_col]
            else:
                spoke_col, orders_col = SPOKES[m]
                src, key = w["orders"], spoke_col
                val = None if src is None else src[orders_col]
            hits = [t for t in target if val is not None and t[key] == val]
            nxt += [{**w, m: h} for h in hits] or [{**w, m: None}]
        out = nxt
    return out


def _col(model, col):
    return lambda w: None if w.get(model) is None else w[model][col]


def _trunc(grain):
    def f(w):
        o = w.get("orders")
        if o is None:
            return None
        t = o["ordered_at"]
        return dt.datetime(t.year, 1 if grain == "year" else t.month, 1)

    return f


def _band(w):
    o = w.get("orders")
    amount = None if o is None else o["amount"]
    return "large" if amount is not None and amount >= 100 else "small"  # SQL CASE: NULL -> else


DIMS = {  # name -> (model, value of a wide row)
    "order_id": ("orders", _col("orders", "order_id")),
    "status": ("orders", _col("orders", "status")),
    "amount_band": ("orders", _band),
    "order_date__month": ("orders", _trunc("month")),
    "order_date__year": ("orders", _trunc("year")),
    "product": ("order_lines", _col("order_lines", "product")),
    "customer_id": ("customers", _col("customers", "customer_id")),
    "customer_name": ("customers", _col("customers", "name")),
    "email": ("customers", _col("customers", "email")),
    "customer_region": ("customers", _col("customers", "region")),
    "store": ("stores", _col("stores", "name")),
    "region": ("stores", _col("stores", "region")),
}


def _sum(xs):
    """Sums over a group with nothing to add are 0, like counts (docs: "Empty groups")."""
    xs = [x for x in xs if x is not None]
    return float(sum(xs))


MEASURES = {  # name -> (model, aggregate over the model's (secured) rows)
    "revenue": ("orders", lambda rs: _sum(r["amount"] for r in rs)),
    "completed_revenue": (
        "orders",
        lambda rs: _sum(r["amount"] for r in rs if r["status"] == "completed"),
    ),
    "order_count": ("orders", len),
    "buyers": ("orders", lambda rs: len({r["customer_id"] for r in rs})),
    "north_revenue": (
        "orders",
        lambda rs: _sum(r["amount"] for r in rs if STORE_REGION[r["store_id"]] == "North"),
    ),
    "units": ("order_lines", lambda rs: _sum(r["qty"] for r in rs)),
    "line_revenue": ("order_lines", lambda rs: _sum(r["line_amount"] for r in rs)),
    "customer_count": ("customers", len),
    "refunds": ("returns", lambda rs: _sum(r["refund"] for r in rs)),
}


def _div(a, b):
    return None if a is None or b is None or b == 0 else a / b


METRICS = {  # name -> (measures it needs, value from the measure values)
    **{m: ([m], (lambda m: lambda v: v[m])(m)) for m in MEASURES},  # noqa: B023 (bound by the outer lambda)
    "aov": (["revenue", "order_count"], lambda v: _div(v["revenue"], v["order_count"])),
    "revenue_per_buyer": (["revenue", "buyers"], lambda v: _div(v["revenue"], v["buyers"])),
}
PK = {
    "orders": ("order_id",),
    "order_lines": ("order_id", "line_no"),
    "customers": ("customer_id",),
    "stores": ("store_id",),
    "returns": ("return_id",),
}


def holds(flt, w) -> bool:
    """A filter (dim, op, value) with SQL NULL semantics."""
    dim, op, val = flt
    v = DIMS[dim][1](w)
    if op == "is null":
        return v is None
    if op == "is not null":
        return v is not None
    if v is None:
        return False
    if op == "in":
        return v in val
    return {
        "=": lambda: v == val,
        "!=": lambda: v != val,
        "<": lambda: v < val,
        ">=": lambda: v >= val,
    }[op]()


def oracle_aggregate(p, metrics, dims, filters):
    needed = {m for met in metrics for m in METRICS[met][0]}
    by_model: dict[str, list[str]] = {}
    for m in sorted(needed):
        by_model.setdefault(MEASURES[m][0], []).append(m)
    touched = {DIMS[d][0] for d in dims} | {DIMS[f[0]][0] for f in filters}
    per_model = []
    for model, meas in by_model.items():
        rows = [w for w in wide(model, touched, p) if all(holds(f, w) for f in filters)]
        groups: dict[tuple, dict] = {}
        for w in rows:
            key = tuple(DIMS[d][1](w) for d in dims)
            groups.setdefault(key, {})[tuple(w[model][k] for k in PK[model])] = w[model]
        if not dims:
            groups.setdefault((), {})
        per_model.append(
            {k: {m: MEASURES[m][1](list(g.values())) for m in meas} for k, g in groups.items()}
        )
    keys = set().union(*per_model)
    out = []
    for k in keys:
        vals = {m: 0 for m in needed}  # every shop measure is a sum or a count
        for part in per_model:
            vals.update(part.get(k, {}))
        out.append((*k, *(METRICS[met][1](vals) for met in metrics)))
    return out


def oracle_detail(p, dims, filters, distinct):
    touched = {DIMS[d][0] for d in dims} | {DIMS[f[0]][0] for f in filters}
    rows = [
        tuple(DIMS[d][1](w) for d in dims)
        for w in wide("orders", touched, p)
        if all(holds(f, w) for f in filters)
    ]
    return list(set(rows)) if distinct else rows


# ---------------------------------------------------------------------------------------------
# comparing results
# ---------------------------------------------------------------------------------------------
def norm(v):
    if v is None or v is pd.NaT or v is pd.NA:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        return pd.Timestamp(v).to_pydatetime().replace(tzinfo=None)
    if hasattr(v, "item") and not isinstance(v, str):
        v = v.item()
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, int) and v > 10**15:  # datetime64 in ns
            return pd.Timestamp(v).to_pydatetime()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(float(v), 6)
    return v


def rows_of(df: pd.DataFrame, cols) -> list[tuple]:
    return sorted(
        (tuple(norm(v) for v in r) for r in df[list(cols)].itertuples(index=False)), key=repr
    )


def normed(rows) -> list[tuple]:
    return sorted((tuple(norm(v) for v in r) for r in rows), key=repr)


# ---------------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------------
VALUES = {  # values drawn from the fixture data (plus one that is never there)
    "order_id": [o[0] for o in ORDERS],
    "status": sorted({o[5] for o in ORDERS}) + ["unknown"],
    "amount_band": ["large", "small"],
    "product": sorted({r[2] for r in LINES}),
    "customer_id": [c[0] for c in CUSTOMERS],
    "customer_name": [c[1] for c in CUSTOMERS],
    "email": [c[2] for c in CUSTOMERS] + [MASK],
    "customer_region": ["North", "South"],
    "store": [s[1] for s in STORES],
    "region": ["North", "South", "East"],
}
NUMERIC = {"order_id", "customer_id"}


def lit(v) -> str:
    return str(v) if isinstance(v, (int, float)) else "'" + str(v).replace("'", "''") + "'"


@st.composite
def filters(draw, dims_pool):
    dim = draw(st.sampled_from(sorted(d for d in dims_pool if d in VALUES)))
    ops = ["=", "!=", "in", "is null", "is not null"] + (["<", ">="] if dim in NUMERIC else [])
    op = draw(st.sampled_from(ops))
    if op in ("is null", "is not null"):
        return (dim, op, None), f"{dim} {op}"
    if op == "in":
        vals = tuple(
            draw(st.lists(st.sampled_from(VALUES[dim]), min_size=1, max_size=3, unique=True))
        )
        return (dim, op, vals), f"{dim} in ({', '.join(lit(v) for v in vals)})"
    val = draw(st.sampled_from(VALUES[dim]))
    return (dim, op, val), f"{dim} {op} {lit(val)}"


def random_principals():
    made = st.builds(
        lambda user, roles, region: Principal.of(
            user, roles=roles, **({} if region is None else {"region": region})
        ),
        st.sampled_from(["north", "south", "zed"]),
        st.lists(
            st.sampled_from(["admin", "analyst", "regional_manager", "viewer"]),
            max_size=2,
            unique=True,
        ),
        st.sampled_from([None, "North", "South", "East"]),
    )
    return st.one_of(st.sampled_from(list(PRINCIPALS.values())), made)


AGG_DIMS = [
    "status",
    "amount_band",
    "order_date__year",
    "order_date__month",
    "product",
    "customer_region",
    "email",
    "customer_name",
    "store",
    "region",
]
FILTER_DIMS = [
    "order_id",
    "status",
    "amount_band",
    "product",
    "customer_id",
    "customer_name",
    "email",
    "customer_region",
    "store",
    "region",
]
MODELS_OF = {m: MEASURES[m][0] for m in MEASURES}


@st.composite
def aggregate_queries(draw):
    mets = draw(st.lists(st.sampled_from(sorted(METRICS)), min_size=1, max_size=3, unique=True))
    dims = draw(st.lists(st.sampled_from(AGG_DIMS), max_size=2, unique=True))
    assume(not ("order_date__year" in dims and "order_date__month" in dims))
    fl = draw(st.lists(filters(FILTER_DIMS), max_size=2))
    return mets, dims, fl


DETAIL_DIMS = [
    "order_id",
    "status",
    "amount_band",
    "order_date__month",
    "customer_id",
    "customer_name",
    "email",
    "customer_region",
    "store",
    "region",
]


@st.composite
def detail_queries(draw):
    first = draw(st.sampled_from(["order_id", "status", "amount_band", "order_date__month"]))
    more = draw(st.lists(st.sampled_from(DETAIL_DIMS), max_size=3, unique=True))
    dims = [first] + [d for d in more if d != first]
    fl = draw(st.lists(filters([d for d in FILTER_DIMS if d != "product"]), max_size=2))
    return dims, fl, draw(st.booleans())


def hides_name(p: Principal) -> bool:
    return p.has_any({"viewer"})


def touches_name(dims, fl) -> bool:
    return "customer_name" in dims or any(f[0][0] == "customer_name" for f in fl)


# ---------------------------------------------------------------------------------------------
# fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def nocache(engine_shop):
    """The shop on the engine under test, no cache."""
    return engine_shop


@pytest.fixture
def shop(engine_shop):
    """`shop` here is the shop on the engine under test too (conftest.engine_shop)."""
    return engine_shop


@pytest.fixture(scope="module")
def shared(engine):
    """One workbench with the in-memory cache, shared by every principal's view."""
    wb = engine.connect(
        SHOP_TABLES, MODELS, PRINCIPALS["admin"], MODELS / "none.yml", cache="memory"
    )
    yield wb
    wb.close()


# ---------------------------------------------------------------------------------------------
# 0. the oracle itself is right on hand-checked figures
# ---------------------------------------------------------------------------------------------
def test_oracle_hand_checked():
    north, south, noattr = PRINCIPALS["north"], PRINCIPALS["south"], PRINCIPALS["noattr"]
    assert {r[0] for r in oracle_detail(north, ["order_id"], [], False)} == {1, 2, 4, 6}
    assert sorted(oracle_aggregate(PRINCIPALS["admin"], ["revenue", "units"], ["region"], [])) == [
        ("North", 300.0, 8.0),
        ("South", 350.0, 8.0),
    ]
    assert oracle_aggregate(north, ["revenue"], [], []) == [(300.0,)]
    assert oracle_aggregate(noattr, ["revenue", "order_count"], [], []) == [(0.0, 0)]
    # order 7 (South store) was bought by a North customer: without inheritance south sees it
    # without the customer; with inheritance the hidden customer hides the order too
    rows = oracle_detail(south, ["order_id", "customer_region"], [], False)
    assert ((7, None) in rows) != INHERIT and all(r[0] != 7 for r in rows) == INHERIT


# ---------------------------------------------------------------------------------------------
# 1. row policies: never a row outside the policy, aggregates equal the oracle
# ---------------------------------------------------------------------------------------------
def test_aggregates_match_policy_oracle(nocache, engine):
    @settings(max_examples=examples(engine, 25), **SETTINGS)
    @given(q=aggregate_queries(), p=random_principals())
    def check(q, p):
        aggregates_match_policy_oracle(nocache, q, p)

    check()


def aggregates_match_policy_oracle(nocache, q, p):
    mets, dims, fl = q
    wb = nocache.as_principal(p)
    query = wb.query("shop", metrics=mets, dimensions=dims, where=[f[1] for f in fl])
    if hides_name(p) and touches_name(dims, fl):
        with pytest.raises(AccessDeniedError):
            query.df
        return
    df = query.df
    got = rows_of(df, dims + mets)
    want = normed(oracle_aggregate(p, mets, dims, [f[0] for f in fl]))
    assert got == want, (p, mets, dims, [f[1] for f in fl], query.sql())


def test_detail_rows_within_policy(nocache, engine):
    @settings(max_examples=examples(engine, 20), **SETTINGS)
    @given(q=detail_queries(), p=random_principals())
    def check(q, p):
        detail_rows_within_policy(nocache, q, p)

    check()


def detail_rows_within_policy(nocache, q, p):
    dims, fl, distinct = q
    wb = nocache.as_principal(p)
    query = wb.query("shop", dimensions=dims, where=[f[1] for f in fl], distinct=distinct)
    if hides_name(p) and touches_name(dims, fl):
        with pytest.raises(AccessDeniedError):
            query.df
        return
    df = query.df
    visible_orders = {o["order_id"] for o in secured("orders", p)}
    visible_customers = {c["customer_id"] for c in secured("customers", p)}
    if "order_id" in dims:
        assert set(df["order_id"]) <= visible_orders
        if region_of(p) == "North" and not p.has_any(EXEMPT):
            assert set(df["order_id"]) <= {o[0] for o in ORDERS if STORE_REGION[o[2]] == "North"}
    if "customer_id" in dims:
        assert {c for c in df["customer_id"].dropna()} <= visible_customers
    if not visible_orders:
        assert df.empty
    assert rows_of(df, dims) == normed(oracle_detail(p, dims, [f[0] for f in fl], distinct))


@pytest.mark.parametrize(
    "who,expected",
    [
        ("north", {1, 2, 4, 6}),
        ("south", {3, 5} if INHERIT else {3, 5, 7}),
        ("viewer", {1, 2, 4, 6}),
        ("noattr", set()),
        ("admin", set(range(1, 8))),
        ("analyst", set(range(1, 8))),
    ],
)
def test_order_ids_per_principal(nocache, who, expected):
    df = (
        nocache.as_principal(PRINCIPALS[who])
        .query("shop", dimensions=["order_id", "store", "region"])
        .df
    )
    assert set(df["order_id"]) == expected


def test_noattr_sees_nothing_of_orders_or_customers(nocache):
    wb = nocache.as_principal(PRINCIPALS["noattr"])
    df = wb.query("shop", metrics=["revenue", "order_count", "customer_count"]).df
    assert norm(df["revenue"][0]) == 0 and df["order_count"][0] == 0
    assert df["customer_count"][0] == 0
    assert wb.query("shop", dimensions=["customer_id", "email"]).df.empty
    assert wb.query("shop", metrics=["revenue"], dimensions=["region"]).df.empty


def test_three_measure_models_by_dimension(nocache):
    df = nocache.query(
        "shop", metrics=["revenue", "units", "customer_count"], dimensions=["region"]
    ).df
    assert rows_of(df, ["region", "revenue", "units", "customer_count"]) == normed(
        oracle_aggregate(
            PRINCIPALS["admin"], ["revenue", "units", "customer_count"], ["region"], []
        )
    )


# ---------------------------------------------------------------------------------------------
# 2. hidden and masked members
# ---------------------------------------------------------------------------------------------
EXTRA = {
    "orders": [
        "      - {name: ann_revenue, type: simple, measure: revenue, "
        "filter: \"customers.customer_name = 'Ann'\"}\n"
    ],
    "orders_measures": [
        "      - {name: ann_orders_revenue, agg: sum, expr: amount, "
        "filter: \"customers.customer_name = 'Ann'\"}\n"
    ],
    "customers_dims": [
        '      - {name: initial, type: categorical, expr: "substr(name, 1, 1)"}\n',
        '      - {name: email_domain, type: categorical, expr: "substr(email, 5, 20)"}\n',
    ],
    "customers_measures": [
        "      - {name: named_customers, agg: count_distinct, expr: name}\n",
        "      - {name: anns, agg: count, filter: \"name = 'Ann'\"}\n",
        "      - {name: max_email, agg: max, expr: email}\n",
    ],
    "customers_rest": [
        "    metrics:\n",
        "      - {name: named_share, type: ratio, numerator: named_customers, "
        "denominator: customer_count}\n",
        '      - {name: named_x2, type: derived, expr: "named_customers * 2"}\n',
        "    segments:\n",
        "      - {name: ann_only, filter: \"customer_name = 'Ann'\"}\n",
    ],
}


@pytest.fixture
def extended(models_copy, engine):
    """The shop plus members built on customer_name and email, on a private workbench."""
    path = models_copy / "shop.yml"
    text = path.read_text()
    anchor = "      - {name: revenue_share, type: percent_of_total, metric: revenue}\n"
    text = text.replace(anchor, anchor + "".join(EXTRA["orders"]))
    anchor = "      - {name: median_amount, agg: median, expr: amount}\n"
    text = text.replace(anchor, anchor + "".join(EXTRA["orders_measures"]))
    anchor = "      - {name: customer_region, type: categorical, column: region}\n"
    text = text.replace(anchor, anchor + "".join(EXTRA["customers_dims"]))
    anchor = "      - {name: customer_count, agg: count}\n"
    text = text.replace(
        anchor, anchor + "".join(EXTRA["customers_measures"] + EXTRA["customers_rest"])
    )
    path.write_text(text)
    wb = engine.connect(
        SHOP_TABLES, models_copy, PRINCIPALS["admin"], models_copy / "none.yml", cache="memory"
    )
    yield wb
    wb.close()


HIDDEN_QUERIES = {
    "select": dict(dimensions=["customer_name"]),
    "select qualified": dict(dimensions=["customers.customer_name"]),
    "group": dict(metrics=["revenue"], dimensions=["customer_name"]),
    "filter": dict(metrics=["revenue"], where=["customer_name = 'Ann'"]),
    "filter function": dict(metrics=["revenue"], where=["lower(customer_name) like 'a%'"]),
    "filter null test": dict(dimensions=["order_id"], where=["customer_name is not null"]),
    "filter detail": dict(dimensions=["order_id"], where=["customers.customer_name = 'Ann'"]),
    "order selected": dict(
        metrics=["revenue"], dimensions=["customer_name"], order=["customer_name"]
    ),
    "dimension on hidden column": dict(dimensions=["initial"]),
    "filter on derived dimension": dict(metrics=["revenue"], where=["initial = 'A'"]),
    "measure on hidden column": dict(metrics=["named_customers"]),
    "measure filter on hidden column": dict(metrics=["anns"]),
    "measure filter across models": dict(metrics=["ann_orders_revenue"]),
    "ratio metric": dict(metrics=["named_share"]),
    "derived metric": dict(metrics=["named_x2"]),
    "post filter on hidden metric": dict(metrics=["customer_count"], where=["named_customers > 0"]),
    "segment": dict(metrics=["customer_count"], segments=["ann_only"]),
}


@pytest.mark.parametrize("case", sorted(HIDDEN_QUERIES))
def test_hidden_member_unreachable(extended, case):
    wb = extended.as_principal(PRINCIPALS["viewer"])
    with pytest.raises(AccessDeniedError):
        wb.query("shop", **HIDDEN_QUERIES[case]).df
    # the same query is fine for someone who may see the member
    wb_ok = extended.as_principal(PRINCIPALS["north"])
    assert wb_ok.query("shop", **HIDDEN_QUERIES[case]).df is not None


def test_order_by_hidden_member_not_selected_is_access_denied(shop):
    wb = shop.as_principal(PRINCIPALS["viewer"])
    with pytest.raises(AccessDeniedError):
        wb.query("shop", metrics=["revenue"], order=["customer_name"]).df


def test_order_by_hidden_member_not_selected_is_refused(shop):
    wb = shop.as_principal(PRINCIPALS["viewer"])
    with pytest.raises(QueryError):
        wb.query("shop", metrics=["revenue"], order=["customer_name"]).df


def test_simple_metric_filter_on_hidden_member_is_hidden(extended):
    wb = extended.as_principal(PRINCIPALS["viewer"])
    names = {e["name"] for e in wb.catalog("shop")}
    assert "ann_revenue" not in names
    with pytest.raises(AccessDeniedError):
        wb.query("shop", metrics=["ann_revenue"]).df


def test_hidden_members_not_in_catalog(extended):
    viewer = {e["qualified_name"] for e in extended.as_principal(PRINCIPALS["viewer"]).catalog()}
    north = {e["qualified_name"] for e in extended.as_principal(PRINCIPALS["north"]).catalog()}
    for name in (
        "customer_name",
        "initial",
        "named_customers",
        "anns",
        "named_share",
        "named_x2",
        "ann_orders_revenue",
    ):
        assert not any(q.endswith("." + name) for q in viewer), name
        assert any(q.endswith("." + name) for q in north), name
    assert "shop.customers.email" in viewer  # masked, not hidden
    assert not [
        h
        for h in extended.as_principal(PRINCIPALS["viewer"]).search("customer_name")
        if h.get("name") == "customer_name"
    ]


def test_hidden_value_not_in_lookup(shop):
    assert shop.as_principal(PRINCIPALS["north"]).lookup("Ann")
    assert not [
        h for h in shop.as_principal(PRINCIPALS["viewer"]).lookup("Ann") if h["value"] == "Ann"
    ]


REAL = [c[2] for c in CUSTOMERS]
LEAK = re.compile("|".join(re.escape(x) for x in REAL + [e.split("@")[1] for e in REAL] + ["@"]))


def leaks(df: pd.DataFrame) -> list:
    return [v for v in df.to_numpy().ravel() if LEAK.search(str(v))]


MASK_DIMS = ["email", "email_domain", "status", "region", "customer_region", "order_id"]
MASK_METS = ["revenue", "customer_count", "max_email", "order_count"]


@st.composite
def mask_queries(draw):
    dims = draw(st.lists(st.sampled_from(MASK_DIMS), max_size=2, unique=True))
    mets = draw(st.lists(st.sampled_from(MASK_METS), max_size=2, unique=True))
    if "order_id" in dims:
        mets = []
    if not dims and not mets:
        dims = ["email"]
    fl = []
    if draw(st.booleans()):
        v = draw(st.sampled_from(REAL + [MASK]))
        fl.append(
            draw(
                st.sampled_from(
                    [
                        f"email = {lit(v)}",
                        f"email != {lit(v)}",
                        "email like '%@%'",
                        f"email in ({lit(v)})",
                        "email_domain = 'x.com'",
                    ]
                )
            )
        )
    return dims, mets, fl


def test_masked_email_never_leaks(extended, engine):
    @settings(max_examples=examples(engine, 10), **SETTINGS)
    @given(q=mask_queries(), who=st.sampled_from(["analyst", "north", "south", "viewer", "noattr"]))
    def check(q, who):
        masked_email_never_leaks(extended, q, who)

    check()


def masked_email_never_leaks(extended, q, who):
    dims, mets, fl = q
    df = (
        extended.as_principal(PRINCIPALS[who])
        .query("shop", metrics=mets, dimensions=dims, where=fl)
        .df
    )
    assert not leaks(df), (who, q, df)
    if fl and (("@" in fl[0] or "x.com" in fl[0]) and "!=" not in fl[0]) and (dims or mets):
        # filtering on a real email (or its parts) matches no row
        if dims and not mets:
            assert df.empty
        for m in set(mets) & {"customer_count", "order_count"}:
            assert df[m].fillna(0).sum() == 0


def test_admin_sees_real_email_and_filter_works(extended):
    df = extended.query(
        "shop", dimensions=["customer_id", "email"], where=["email = 'ann@x.com'"]
    ).df
    assert list(df["email"]) == ["ann@x.com"]
    df = (
        extended.as_principal(PRINCIPALS["analyst"])
        .query("shop", dimensions=["customer_id", "email"], where=["email = 'ann@x.com'"])
        .df
    )
    assert df.empty


# ---------------------------------------------------------------------------------------------
# 3. the shared cache never serves one principal's result to another
# ---------------------------------------------------------------------------------------------
CACHE_QUERIES = [
    dict(metrics=["revenue"], dimensions=["region"]),
    dict(metrics=["revenue", "order_count"]),
    dict(dimensions=["order_id", "customer_region", "email"]),
    dict(metrics=["customer_count"], dimensions=["customer_region"]),
    dict(metrics=["aov"], dimensions=["status"], where=["region = 'North'"]),
]
CACHE_PRINCIPALS = [PRINCIPALS[n] for n in ("admin", "analyst", "north", "south", "noattr")] + [
    # same user name as 'north', another security context
    Principal.of("north", roles=["regional_manager"], region="South"),
    Principal.of("north", roles=["regional_manager", "admin"], region="North"),
]


def test_shared_cache_never_crosses_principals(shared, nocache, engine):
    @settings(max_examples=examples(engine, 10), **SETTINGS)
    @given(
        steps=st.lists(
            st.tuples(
                st.integers(0, len(CACHE_QUERIES) - 1), st.integers(0, len(CACHE_PRINCIPALS) - 1)
            ),
            min_size=3,
            max_size=8,
        )
    )
    def check(steps):
        shared_cache_never_crosses_principals(shared, nocache, steps)

    check()


def shared_cache_never_crosses_principals(shared, nocache, steps):
    for qi, pi in steps:
        p, kw = CACHE_PRINCIPALS[pi], CACHE_QUERIES[qi]
        got = shared.as_principal(p).query("shop", **kw)
        want = nocache.as_principal(p).query("shop", **kw)
        cols = list(want.df.columns)
        assert list(got.df.columns) == cols
        assert rows_of(got.df, cols) == rows_of(want.df, cols), (p, kw, got.cached)
    stats = shared.cache_stats()
    assert stats["hits"] + stats["misses"] >= len(steps)


def test_shared_cache_was_hit_across_interleaving(shared):
    """Sanity: the interleaving above really exercised cache hits, not only misses."""
    for p in CACHE_PRINCIPALS[:3]:
        for _ in range(2):
            q = shared.as_principal(p).query("shop", **CACHE_QUERIES[0])
            q.df
    assert q.cached
    assert shared.cache_stats()["hits"] > 0

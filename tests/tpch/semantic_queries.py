"""The TPC-H oracle queries asked through the semantic layer (namespace ``tpch``).

``QUERIES[name]`` is the keyword arguments of ``wb.query("tpch", **QUERIES[name])`` that should
return what ``queries/<name>.sql`` (the official text, run directly on DuckDB) returns.
``COLUMNS[name]`` maps each oracle column to the semantic member that produces it, and
:func:`to_oracle` renames and orders a result frame's columns the oracle's way.

Filters are the official predicates in the expression language (same literals, same interval
arithmetic). Joins are not written anywhere: they come from the model. Q5's
``c_nationkey = s_nationkey`` is a filter comparing a customer dimension with a supplier one;
its nation and region are the supplier's role-playing copies (``supplier_nation``,
``supplier_region``), Q10's nation is the customer's.
"""

from __future__ import annotations

import pandas as pd

QUERIES: dict[str, dict] = {
    # Pricing Summary Report
    "q01": dict(
        metrics=[
            "quantity",
            "gross_revenue",
            "revenue",
            "charge",
            "avg_qty",
            "avg_price",
            "avg_disc",
            "count_order",
        ],
        dimensions=["l_returnflag", "l_linestatus"],
        where=["l_shipdate <= date '1998-12-01' - interval '90' day"],
        order=["l_returnflag", "l_linestatus"],
    ),
    # Shipping Priority
    "q03": dict(
        metrics=["revenue"],
        dimensions=["l_orderkey", "o_orderdate", "o_shippriority"],
        where=[
            "c_mktsegment = 'BUILDING'",
            "o_orderdate < date '1995-03-15'",
            "l_shipdate > date '1995-03-15'",
        ],
        order=["-revenue", "o_orderdate"],
        limit=10,
    ),
    # Local Supplier Volume
    "q05": dict(
        metrics=["revenue"],
        dimensions=["supplier_nation.n_name"],
        where=[
            "c_nationkey = s_nationkey",
            "supplier_region.r_name = 'ASIA'",
            "o_orderdate >= date '1994-01-01'",
            "o_orderdate < date '1994-01-01' + interval '1' year",
        ],
        order=["-revenue"],
    ),
    # Forecasting Revenue Change
    "q06": dict(
        metrics=["discount_amount"],
        dimensions=[],
        where=[
            "l_shipdate >= date '1994-01-01'",
            "l_shipdate < date '1994-01-01' + interval '1' year",
            "l_discount between 0.06 - 0.01 and 0.06 + 0.01",
            "l_quantity < 24",
        ],
    ),
    # Returned Item Reporting
    "q10": dict(
        metrics=["revenue"],
        dimensions=[
            "c_custkey",
            "c_name",
            "c_acctbal",
            "c_phone",
            "customer_nation.n_name",
            "c_address",
            "c_comment",
        ],
        where=[
            "o_orderdate >= date '1993-10-01'",
            "o_orderdate < date '1993-10-01' + interval '3' month",
            "l_returnflag = 'R'",
        ],
        order=["-revenue"],
        limit=20,
    ),
    # Shipping Modes and Order Priority
    "q12": dict(
        metrics=["high_line_count", "low_line_count"],
        dimensions=["l_shipmode"],
        where=[
            "l_shipmode in ('MAIL', 'SHIP')",
            "l_commitdate < l_receiptdate",
            "l_shipdate < l_commitdate",
            "l_receiptdate >= date '1994-01-01'",
            "l_receiptdate < date '1994-01-01' + interval '1' year",
        ],
        order=["l_shipmode"],
    ),
    # Promotion Effect
    "q14": dict(
        metrics=["promo_revenue_pct"],
        dimensions=[],
        where=[
            "l_shipdate >= date '1995-09-01'",
            "l_shipdate < date '1995-09-01' + interval '1' month",
        ],
    ),
    # Discounted Revenue
    "q19": dict(
        metrics=["revenue"],
        dimensions=[],
        where=[
            "(p_brand = 'Brand#12'"
            " and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG')"
            " and l_quantity >= 1 and l_quantity <= 1 + 10"
            " and p_size between 1 and 5"
            " and l_shipmode in ('AIR', 'AIR REG')"
            " and l_shipinstruct = 'DELIVER IN PERSON')"
            " or (p_brand = 'Brand#23'"
            " and p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK')"
            " and l_quantity >= 10 and l_quantity <= 10 + 10"
            " and p_size between 1 and 10"
            " and l_shipmode in ('AIR', 'AIR REG')"
            " and l_shipinstruct = 'DELIVER IN PERSON')"
            " or (p_brand = 'Brand#34'"
            " and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG')"
            " and l_quantity >= 20 and l_quantity <= 20 + 10"
            " and p_size between 1 and 15"
            " and l_shipmode in ('AIR', 'AIR REG')"
            " and l_shipinstruct = 'DELIVER IN PERSON')"
        ],
    ),
    # Order Priority Checking: orders with at least one line received after its commit date (an
    # existence condition on the lines; counted once per order)
    "q04": dict(
        metrics=["order_count"],
        dimensions=["o_orderpriority"],
        where=[
            "o_orderdate >= date '1993-07-01'",
            "o_orderdate < date '1993-07-01' + interval '3' month",
            "l_commitdate < l_receiptdate",
        ],
        order=["o_orderpriority"],
    ),
    # Large Volume Customer: orders whose total quantity is above 300 (a metric per order as
    # a dimension, compared in a filter)
    "q18": dict(
        metrics=["quantity"],
        dimensions=["c_name", "c_custkey", "o_orderkey", "o_orderdate", "o_totalprice"],
        define={"orders.order_quantity": {"metric": "quantity"}},
        where=["order_quantity > 300"],
        order=["-o_totalprice", "o_orderdate"],
        limit=100,
    ),
    # Customer Distribution: customers grouped by a metric per customer (their number of orders
    # without 'special requests', 0 included), defined at query time
    "q13": dict(
        metrics=["customer_count"],
        dimensions=["c_count"],
        define={
            "customer.c_count": {
                "metric": "order_count",
                "filter": "o_comment not like '%special%requests%'",
            }
        },
        order=["-customer_count", "-c_count"],
    ),
    # Top Supplier: revenue per supplier in the quarter, compared with its maximum over all
    # suppliers (a measure over a per-supplier metric, at the grand-total grain); ties kept
    "q15": dict(
        dimensions=["s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"],
        define={
            "supplier.total_revenue": {
                "metric": "revenue",
                "filter": "l_shipdate >= date '1996-01-01'"
                " and l_shipdate < date '1996-01-01' + interval '3' month",
            },
            "supplier.max_total_revenue": {"agg": "max", "expr": "total_revenue"},
            "supplier.top_revenue": {"metric": "max_total_revenue", "at": []},
        },
        where=["total_revenue = top_revenue"],
        order=["s_suppkey"],
    ),
    # Small-Quantity-Order Revenue: lines below 20% of their part's average quantity (a metric
    # per part from the model) and a derived metric written in the query
    "q17": dict(
        metrics=[{"name": "avg_yearly", "expr": "gross_revenue / 7.0"}],
        where=[
            "p_brand = 'Brand#23'",
            "p_container = 'MED BOX'",
            "l_quantity < 0.2 * avg_line_quantity",
        ],
    ),
    # Global Sales Opportunity: customers without orders (orders_placed = 0) whose balance is
    # above the average positive balance in the same country codes (a grand-total metric)
    "q22": dict(
        metrics=["customer_count", "customer_balance"],
        dimensions=["country_code"],
        define={
            "customer.avg_positive_balance": {
                "metric": "avg_acctbal",
                "at": [],
                "filter": "c_acctbal > 0.00 and country_code in "
                "('13', '31', '23', '29', '30', '18', '17')",
            }
        },
        where=[
            "country_code in ('13', '31', '23', '29', '30', '18', '17')",
            "c_acctbal > avg_positive_balance",
            "orders_placed = 0",
        ],
        order=["country_code"],
    ),
}

# oracle column -> semantic member, in the oracle's column order
COLUMNS: dict[str, dict[str, str]] = {
    "q01": {
        "l_returnflag": "l_returnflag",
        "l_linestatus": "l_linestatus",
        "sum_qty": "quantity",
        "sum_base_price": "gross_revenue",
        "sum_disc_price": "revenue",
        "sum_charge": "charge",
        "avg_qty": "avg_qty",
        "avg_price": "avg_price",
        "avg_disc": "avg_disc",
        "count_order": "count_order",
    },
    "q03": {
        "l_orderkey": "l_orderkey",
        "revenue": "revenue",
        "o_orderdate": "o_orderdate",
        "o_shippriority": "o_shippriority",
    },
    "q05": {"n_name": "supplier_nation.n_name", "revenue": "revenue"},
    "q06": {"revenue": "discount_amount"},
    "q10": {
        "c_custkey": "c_custkey",
        "c_name": "c_name",
        "revenue": "revenue",
        "c_acctbal": "c_acctbal",
        "n_name": "customer_nation.n_name",
        "c_address": "c_address",
        "c_phone": "c_phone",
        "c_comment": "c_comment",
    },
    "q12": {
        "l_shipmode": "l_shipmode",
        "high_line_count": "high_line_count",
        "low_line_count": "low_line_count",
    },
    "q14": {"promo_revenue": "promo_revenue_pct"},
    "q19": {"revenue": "revenue"},
    "q04": {"o_orderpriority": "o_orderpriority", "order_count": "order_count"},
    "q18": {
        "c_name": "c_name",
        "c_custkey": "c_custkey",
        "o_orderkey": "o_orderkey",
        "o_orderdate": "o_orderdate",
        "o_totalprice": "o_totalprice",
        "sum(l_quantity)": "quantity",
    },
    "q13": {"c_count": "c_count", "custdist": "customer_count"},
    "q15": {
        "s_suppkey": "s_suppkey",
        "s_name": "s_name",
        "s_address": "s_address",
        "s_phone": "s_phone",
        "total_revenue": "total_revenue",
    },
    "q17": {"avg_yearly": "avg_yearly"},
    "q22": {
        "cntrycode": "country_code",
        "numcust": "customer_count",
        "totacctbal": "customer_balance",
    },
}

# Oracle columns whose order the official query fixes (its ORDER BY), compared row by row;
# the queries without ORDER BY return a single row.
ORDER_KEYS: dict[str, tuple[str, ...]] = {
    "q01": ("l_returnflag", "l_linestatus"),
    "q03": ("revenue", "o_orderdate"),
    "q05": ("revenue",),
    "q06": (),
    "q10": ("revenue",),
    "q12": ("l_shipmode",),
    "q14": (),
    "q19": (),
    "q04": ("o_orderpriority",),
    "q18": ("o_totalprice", "o_orderdate"),
    "q13": ("custdist", "c_count"),
    "q15": ("s_suppkey",),
    "q17": (),
    "q22": ("cntrycode",),
}

NAMES: tuple[str, ...] = tuple(QUERIES)


def result_column(df: pd.DataFrame, member: str) -> str:
    """The column of a semantic result holding ``member``.

    A qualified member (``supplier_nation.n_name``) may come back under its qualified name, as
    ``supplier_nation__n_name``, or under its short name when that is unambiguous in the result.
    """
    short = member.rpartition(".")[2]
    candidates = [member, member.replace(".", "__"), member.replace(".", "_"), short]
    for name in candidates:
        if name in df.columns:
            return name
    raise KeyError(f"no column for member {member!r} in result columns {list(df.columns)}")


def to_oracle(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The semantic result ``df`` of query ``name`` with the oracle's column names and order."""
    mapping = COLUMNS[name]
    picked = {oracle: df[result_column(df, member)] for oracle, member in mapping.items()}
    return pd.DataFrame(picked).reset_index(drop=True)

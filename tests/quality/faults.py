"""Fault injection on a copy of the demo warehouse, with the expected verdicts worked out by hand.

Every fault hits its own orders (chosen deterministically among completed, shipped, paid orders
without refunds), so each expected count below follows from the fault list alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

# check name -> orders hit; each list is disjoint from the others
FAULTS = {
    "customer_present": 3,  # customer_id set to NULL
    "net_amount_in_range": 2,  # net_amount = -5.00 (also breaks total_equals_lines)
    "line_count_in_range": 1,  # line_count = 0
    "status_known": 2,  # status = 'shipped??'
    "order_id_unique": 2,  # the order inserted a second time
    "total_equals_lines": 2,  # net_amount + 10.00
    "shipped_after_ordered": 3,  # shipped_at = ordered_at - 1 day
    "refund_within_payment": 2,  # refund_amount = payment + 50.00
}


def inject(src: Path, dst: Path, schema_drift: bool = True) -> dict:
    """Copy ``src`` to ``dst`` and break it. Returns the hit order ids per fault and the expected
    unexpected counts and quarantine per check, computed from the fault list by hand."""
    shutil.copy(src, dst)
    con = duckdb.connect(str(dst))
    try:
        ids = [
            r[0]
            for r in con.execute("""
            select o.order_id from orders o join payments p using (order_id)
            where o.status = 'completed' and o.shipped_at is not null and o.refund_amount = 0
              and o.customer_id is not null
            order by o.order_id limit 17""").fetchall()
        ]
        hit, i = {}, 0
        for name, n in FAULTS.items():
            hit[name] = ids[i : i + n]
            i += n
        rows_before = con.execute("select count(*) from orders").fetchone()[0]

        def where(name):
            return f"order_id in ({', '.join(map(str, hit[name]))})"

        con.execute(f"update orders set customer_id = null where {where('customer_present')}")
        con.execute(f"update orders set net_amount = -5.00 where {where('net_amount_in_range')}")
        con.execute(f"update orders set line_count = 0 where {where('line_count_in_range')}")
        con.execute(f"update orders set status = 'shipped??' where {where('status_known')}")
        con.execute(f"insert into orders select * from orders where {where('order_id_unique')}")
        con.execute(
            f"update orders set net_amount = net_amount + 10.00 where {where('total_equals_lines')}"
        )
        con.execute(
            f"update orders set shipped_at = ordered_at - interval 1 day "
            f"where {where('shipped_after_ordered')}"
        )
        con.execute(f"""update orders set refund_amount = (select amount + 50.00 from payments p
                        where p.order_id = orders.order_id) where {where("refund_within_payment")}""")
        if schema_drift:
            con.execute("alter table orders add column coupon_code varchar")
        con.execute("checkpoint")
    finally:
        con.close()
    # expected unexpected_count per row check (by hand):
    expected = {
        "order_id_present": 0,
        "ordered_at_present": 0,
        "customer_present": 3,
        "net_amount_in_range": 2,
        "line_count_in_range": 1,
        "status_known": 2,
        "order_id_unique": 4,  # GE counts every copy of a duplicated key: 2 x 2
        "total_equals_lines": 2 + 2,  # the +10 orders and the -5 orders
        "shipped_after_ordered": 3,
        "refund_within_payment": 2,
    }
    failed = {}
    for name, keys in hit.items():
        for k in keys:
            failed.setdefault(k, set()).add(name)
    for k in hit["net_amount_in_range"]:
        failed[k].add("total_equals_lines")
    return {
        "hit": hit,
        "expected": expected,
        "quarantine": failed,
        "rows": rows_before + len(hit["order_id_unique"]),
        "schema_drift": schema_drift,
    }

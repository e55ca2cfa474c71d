"""The demo order simulator: a deterministic stream of retail transactions.

It produces transactions (lists of (table, op, row)) over `orders` and `order_lines` shaped like
the demo warehouse (docs/demo-data.md). Writers put them into the embedded SQLite store, into
PostgreSQL, or (as Debezium JSON) onto a broker. `state` always holds what the source tables
should contain, so tests can compare silver with it.

Mix: ~70% new orders (1-4 lines, status 'processing'), ~25% status changes (completed or
cancelled, with amounts unchanged), ~5% deletions of an order with its lines.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

ORDERS_COLUMNS = {
    "order_id": "BIGINT",
    "customer_id": "INTEGER",
    "store_id": "SMALLINT",
    "channel_id": "SMALLINT",
    "region_id": "SMALLINT",
    "ordered_at": "TIMESTAMP",
    "status": "VARCHAR",
    "is_promo": "BOOLEAN",
    "line_count": "SMALLINT",
    "gross_amount": "DECIMAL(12,2)",
    "discount_amount": "DECIMAL(12,2)",
    "net_amount": "DECIMAL(12,2)",
}
LINES_COLUMNS = {
    "order_id": "BIGINT",
    "line_no": "SMALLINT",
    "product_id": "INTEGER",
    "quantity": "INTEGER",
    "unit_price": "DECIMAL(12,2)",
    "discount": "DECIMAL(4,2)",
    "line_amount": "DECIMAL(12,2)",
}
PK = {"orders": ["order_id"], "order_lines": ["order_id", "line_no"]}
CENT = Decimal("0.01")


class OrderSimulator:
    def __init__(
        self,
        seed: int = 7,
        first_order_id: int = 1,
        products: int = 602,
        stores: int = 44,
        customers: int = 80_000,
        now=None,
    ):
        self.rng = random.Random(seed)  # noqa: S311  seeded demo data, reproducible by design; nothing secret
        self.next_id = first_order_id
        self.products = products
        self.stores = stores
        self.customers = customers
        self.now = now or dt.datetime.now
        self.open: list[int] = []  # orders still 'processing'
        self.state: dict[str, dict[tuple, dict]] = {"orders": {}, "order_lines": {}}
        self.prices = {
            p: Decimal(self.rng.randint(199, 29999)) / 100 for p in range(1, products + 1)
        }

    def _new_order(self) -> list[tuple]:
        r = self.rng
        oid = self.next_id
        self.next_id += 1
        n = r.choice((1, 1, 2, 2, 3, 4))
        promo = r.random() < 0.15
        lines, gross, net = [], Decimal(0), Decimal(0)
        used = r.sample(range(1, self.products + 1), n)
        for i, pid in enumerate(used, start=1):
            qty = r.choice((1, 1, 1, 2, 3))
            price = self.prices[pid]
            disc = Decimal("0.10") if promo else Decimal("0.00")
            amount = (qty * price * (1 - disc)).quantize(CENT)
            gross += (qty * price).quantize(CENT)
            net += amount
            lines.append(
                {
                    "order_id": oid,
                    "line_no": i,
                    "product_id": pid,
                    "quantity": qty,
                    "unit_price": price,
                    "discount": disc,
                    "line_amount": amount,
                }
            )
        region = r.randint(1, 5)
        order = {
            "order_id": oid,
            "customer_id": r.randint(1, self.customers),
            "store_id": r.randint(1, self.stores),
            "channel_id": r.randint(1, 4),
            "region_id": region,
            "ordered_at": self.now().replace(microsecond=0),
            "status": "processing",
            "is_promo": promo,
            "line_count": n,
            "gross_amount": gross,
            "discount_amount": gross - net,
            "net_amount": net,
        }
        self.open.append(oid)
        ops = [("orders", "c", None, order)] + [("order_lines", "c", None, ln) for ln in lines]
        self._track(ops)
        return ops

    def _track(self, ops):
        for table, op, before, after in ops:
            row = after if op != "d" else before
            key = tuple(row[k] for k in PK[table])
            if op == "d":
                self.state[table].pop(key, None)
            else:
                self.state[table][key] = dict(after)

    def transaction(self) -> list[tuple]:
        """One source transaction: [(table, op, before, after), ...]."""
        r = self.rng.random()
        if r < 0.70 or len(self.open) < 20:
            return self._new_order()
        oid = self.open.pop(self.rng.randrange(len(self.open)))
        before = self.state["orders"][(oid,)]
        ops: list[tuple[str, str, dict | None, dict | None]]
        if r < 0.95:
            after = dict(before, status="cancelled" if self.rng.random() < 0.1 else "completed")
            ops = [("orders", "u", before, after)]
        else:
            lines = [v for k, v in self.state["order_lines"].items() if k[0] == oid]
            ops = [("order_lines", "d", ln, None) for ln in lines] + [("orders", "d", before, None)]
        self._track(ops)
        return ops

    def transactions(self, n: int) -> list[list[tuple]]:
        return [self.transaction() for _ in range(n)]

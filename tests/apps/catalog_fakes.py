"""A stand-in for ``workbench.connect()`` with the same catalog/search/query shapes, so the UI
components are tested without a warehouse."""

from __future__ import annotations

import pandas as pd


class FakeSemanticError(Exception):
    """Raised like workbench.semantic.errors.SemanticError (a subclass is used when present)."""


def _semantic_error(message: str) -> Exception:
    try:
        from workbench.semantic.errors import SemanticError
    except Exception:
        return FakeSemanticError(message)
    try:
        return SemanticError(message)
    except TypeError:
        return FakeSemanticError(message)


def _entry(kind, name, model="orders", namespace="retail", **kw):
    qualified = f"{namespace}.{model}.{name}" if kind != "model" else f"{namespace}.{model}"
    base = dict(
        namespace=namespace,
        model=model,
        kind=kind,
        name=name,
        qualified_name=qualified,
        label=name.replace("_", " ").capitalize(),
        description="",
        synonyms=[],
        format=None,
        unit=None,
        examples=[],
        type=None,
        lineage={"table": None, "sql": None, "columns": [], "depends_on": []},
    )
    lineage = kw.pop("lineage", {})
    base.update(kw)
    base["lineage"] = {**base["lineage"], **lineage}
    return base


ENTRIES = [
    _entry(
        "model",
        "orders",
        description="One row per customer order.",
        lineage={"table": "orders", "columns": []},
    ),
    _entry(
        "measure",
        "revenue",
        description="Net sales after discounts.",
        format="currency",
        unit="EUR",
        synonyms=["sales", "turnover"],
        lineage={"table": "orders", "columns": ["orders.net_amount", "orders.status"]},
    ),
    _entry(
        "measure",
        "orders",
        description="Number of orders.",
        format="integer",
        lineage={"table": "orders", "columns": ["orders.*"]},
    ),
    _entry(
        "metric",
        "aov",
        label="Average order value",
        format="currency",
        description="Revenue per order.",
        synonyms=["basket size"],
        lineage={"table": "orders", "depends_on": ["orders.orders", "orders.revenue"]},
    ),
    _entry(
        "dimension",
        "order_date",
        type="time",
        description="When the order was placed.",
        lineage={"table": "orders", "columns": ["orders.ordered_at"]},
    ),
    _entry(
        "dimension",
        "region",
        model="stores",
        type="categorical",
        examples=["North", "South"],
        lineage={"table": "stores", "columns": ["stores.region"]},
    ),
    _entry("segment", "online", description="Orders placed online."),
    _entry(
        "measure",
        "revenue",
        model="orders",
        namespace="tpch",
        format="currency",
        lineage={"table": "lineitem", "columns": ["lineitem.l_extendedprice"]},
    ),
]


class FakeQuery:
    def __init__(self, df: pd.DataFrame, sql: str):
        self.df = df
        self._sql = sql

    def sql(self) -> str:
        return self._sql


class FakeWorkbench:
    def __init__(self, entries=None):
        self.entries = list(entries or ENTRIES)
        self.queries: list[dict] = []
        self.tpch_available = False

    def catalog(self, namespace=None):
        return [e for e in self.entries if namespace is None or e["namespace"] == namespace]

    def search(self, text, limit=20):
        text = text.lower()

        def score(e):
            if text in e["name"].lower():
                return 3
            if any(text in s.lower() for s in e["synonyms"]):
                return 2
            if text in (e["description"] or "").lower():
                return 1
            return 0

        hits = sorted((e for e in self.entries if score(e)), key=lambda e: -score(e))
        return hits[:limit]

    def query(
        self,
        namespace,
        metrics=(),
        dimensions=(),
        grain=None,
        where=(),
        time_range=None,
        order=(),
        limit=None,
    ):
        self.queries.append(
            dict(
                namespace=namespace,
                metrics=list(metrics),
                dimensions=list(dimensions),
                grain=grain,
                where=list(where),
                time_range=time_range,
                limit=limit,
            )
        )
        if namespace == "tpch" and not self.tpch_available:
            raise _semantic_error(
                "Namespace 'tpch' is not in this warehouse (missing tables: lineitem)."
            )
        if "nope" in metrics:
            raise _semantic_error(
                "Unknown metric 'nope' in namespace 'retail'. Did you mean 'orders'?"
            )
        if "boom" in metrics:
            raise RuntimeError("disk on fire\nTraceback (most recent call last): ...")
        data = {}
        if "region" in dimensions:
            data["region"] = ["North", "South", "East"]
        if "order_date" in dimensions:
            data["order_date"] = pd.date_range("2024-01-01", periods=3, freq="MS")
        n = 3 if data else 1
        for m in metrics:
            data[m] = [100.0 * (i + 1) for i in range(n)]
        sql = f"SELECT {', '.join([*dimensions, *metrics])} FROM orders GROUP BY ALL"
        return FakeQuery(pd.DataFrame(data), sql)

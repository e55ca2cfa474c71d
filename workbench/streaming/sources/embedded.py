"""The embedded default: an operational SQLite store whose triggers capture every change into an
outbox table as Debezium JSON. `make up` needs no service: the demo order simulator writes into
the store, and the outbox is read like any other source.

SQLite has one writer at a time, so outbox ids are assigned in commit order and a transaction's
rows are contiguous; `poll` never cuts a transaction (`tx_id` column).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

from pydantic import Field

from .base import Source, SourceOptions

_TS_MS = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"


def _sql_type(duck: str) -> str:
    d = duck.upper()
    if d.startswith(("DECIMAL", "NUMERIC")):
        return "TEXT"  # keep cents exact: decimals travel as strings
    if d in ("BOOLEAN",):
        return "INTEGER"
    if "INT" in d:
        return "INTEGER"
    if d in ("DOUBLE", "REAL", "FLOAT"):
        return "REAL"
    return "TEXT"


def _json_obj(alias: str, columns: dict[str, str]) -> str:
    parts = []
    for c, t in columns.items():
        v = f'{alias}."{c}"'
        if t.upper() == "BOOLEAN":
            v = f"CASE WHEN {v} IS NULL THEN NULL WHEN {v} THEN json('true') ELSE json('false') END"
        parts.append(f"'{c}', {v}")
    return "json_object(" + ", ".join(parts) + ")"


class OperationalStore:
    """The SQLite store with change capture. Used by the simulator (writer) and the source (reader)."""

    def __init__(self, path: str | Path, tables: dict):
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.tables = tables  # name -> TableSpec
        self.con = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self.con.execute("PRAGMA journal_mode=WAL")
        self.con.execute("PRAGMA synchronous=NORMAL")
        self._setup()

    def _setup(self) -> None:
        c = self.con
        c.execute("BEGIN IMMEDIATE")
        c.execute(
            "CREATE TABLE IF NOT EXISTS _cdc_tx (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER)"
        )
        c.execute(
            "CREATE TABLE IF NOT EXISTS _cdc_outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
            "tx_id INTEGER, payload TEXT NOT NULL)"
        )
        for name, t in self.tables.items():
            cols = ", ".join(f'"{col}" {_sql_type(typ)}' for col, typ in t.columns.items())
            keys = ", ".join(f'"{k}"' for k in t.primary_key)
            c.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({cols}, PRIMARY KEY ({keys}))')
            tx = "(SELECT max(id) FROM _cdc_tx)"
            for op, when, before, after in (
                ("c", "INSERT", "NULL", _json_obj("NEW", t.columns)),
                ("u", "UPDATE", _json_obj("OLD", t.columns), _json_obj("NEW", t.columns)),
                ("d", "DELETE", _json_obj("OLD", t.columns), "NULL"),
            ):
                payload = (
                    f"json_object('before', {before}, 'after', {after}, 'op', '{op}', 'ts_ms', {_TS_MS}, "
                    f"'source', json_object('connector', 'sqlite', 'db', 'operational', 'table', '{name}', "
                    f"'txId', {tx}, 'ts_ms', {_TS_MS}))"
                )
                c.execute(
                    f'CREATE TRIGGER IF NOT EXISTS "_cdc_{name}_{op}" AFTER {when} ON "{name}" BEGIN '
                    f"INSERT INTO _cdc_outbox (tx_id, payload) VALUES ({tx}, {payload}); END"
                )
        c.execute("COMMIT")

    def write(self, transactions: list[list[tuple]]) -> None:
        """Apply simulator transactions, one SQLite transaction each."""
        c = self.con
        for ops in transactions:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute(f"INSERT INTO _cdc_tx (ts) VALUES ({_TS_MS})")
                for table, op, before, after in ops:
                    keys = self.tables[table].primary_key
                    if op == "c":
                        cols = list(after)
                        c.execute(
                            f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})',
                            [_val(after[k]) for k in cols],
                        )
                    elif op == "u":
                        sets = [k for k in after if after[k] != before.get(k)] or list(after)[:1]
                        c.execute(
                            f'UPDATE "{table}" SET {", ".join(f"{k} = ?" for k in sets)} WHERE '
                            + " AND ".join(f"{k} = ?" for k in keys),
                            [_val(after[k]) for k in sets] + [_val(before[k]) for k in keys],
                        )
                    else:
                        c.execute(
                            f'DELETE FROM "{table}" WHERE '
                            + " AND ".join(f"{k} = ?" for k in keys),
                            [_val(before[k]) for k in keys],
                        )
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.con.close()


def _val(v):
    if isinstance(v, Decimal):
        return str(v)
    if hasattr(v, "isoformat"):
        return v.isoformat(sep=" ") if hasattr(v, "hour") else v.isoformat()
    return v


class EmbeddedOptions(SourceOptions):
    path: str = Field(
        ".workbench/operational.sqlite", description="SQLite file of the operational store."
    )
    simulate: dict | None = Field(
        None, description="Run the demo order simulator: {orders_per_s: 20, seed: 7}."
    )
    prune: bool = Field(
        True, description="Delete outbox rows once the warehouse has committed them."
    )


class EmbeddedSource(Source):
    """The outbox of the embedded SQLite operational store (see the module docstring)."""

    kind = "embedded"
    Options = EmbeddedOptions
    options: EmbeddedOptions

    def open(self, after):
        path = Path(self.options.path)
        if not path.is_absolute() and self.root:
            path = Path(self.root) / path
        self.store = OperationalStore(path, self.tables)
        self.con = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.last = after[0] if after else 0
        self._sim_stop = threading.Event()
        self._sim = None
        if self.options.simulate is not None:
            self._sim = threading.Thread(
                target=self._simulate, name=f"simulator-{self.pipeline}", daemon=True
            )
            self._sim.start()

    def _simulate(self) -> None:
        from ..simulator import OrderSimulator

        opts = dict(self.options.simulate or {})
        rate = float(opts.get("orders_per_s", 20))
        first = (
            self.store.con.execute("SELECT coalesce(max(order_id), 0) + 1 FROM orders").fetchone()[
                0
            ]
            if "orders" in self.tables
            else 1
        )
        sim = OrderSimulator(seed=int(opts.get("seed", 7)) + first, first_order_id=first)
        # resume: orders still processing in the store can be updated later
        sim.open = [
            r[0]
            for r in self.store.con.execute(
                "SELECT order_id FROM orders WHERE status = 'processing'"
            )
        ]
        for (oid,) in [(o,) for o in sim.open]:
            row = self.store.con.execute(
                "SELECT * FROM orders WHERE order_id = ?", [oid]
            ).fetchone()
            cols = [
                d[0] for d in self.store.con.execute("SELECT * FROM orders LIMIT 0").description
            ]
            sim.state["orders"][(oid,)] = dict(zip(cols, row, strict=True))
        while not self._sim_stop.is_set():
            t0 = time.monotonic()
            n = max(1, int(rate / 10))
            self.store.write(sim.transactions(n))
            self._sim_stop.wait(max(0.0, n / rate - (time.monotonic() - t0)))

    def poll(self, max_events, timeout):
        deadline = time.monotonic() + timeout
        # rows come out of SQLite already shaped as (hi, lo, position, payload) tuples: no per-event
        # Python work on this path
        sql = "SELECT id, 0, CAST(id AS TEXT), payload FROM _cdc_outbox WHERE id > ? {} ORDER BY id {}"
        while True:
            rows = self.con.execute(sql.format("", "LIMIT ?"), [self.last, max_events]).fetchall()
            if rows:
                if len(rows) == max_events:  # complete the last transaction
                    rows += self.con.execute(
                        sql.format("AND tx_id = (SELECT tx_id FROM _cdc_outbox WHERE id = ?)", ""),
                        [rows[-1][0], rows[-1][0]],
                    ).fetchall()
                self.last = rows[-1][0]
                return rows
            if time.monotonic() >= deadline:
                return []
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    def commit(self, position):
        if self.options.prune:
            self.con.execute("DELETE FROM _cdc_outbox WHERE id <= ?", [position[0]])

    def lag(self):
        row = self.con.execute(
            "SELECT count(*) FROM _cdc_outbox WHERE id > ?", [self.last]
        ).fetchone()
        return int(row[0])

    def close(self):
        self._sim_stop.set()
        if self._sim:
            self._sim.join(timeout=5)
        self.con.close()
        self.store.close()

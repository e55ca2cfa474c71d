"""Small fixtures shared by the alerting tests: a tiny semantic namespace on a temp DuckDB file
(``shop``: orders per minute/hour by region) and local HTTP / SMTP receivers on 127.0.0.1.

Named test_jobs_helpers.py (a file of ours) rather than conftest.py; it holds no tests."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

SHOP_YML = """
label: Shop
description: tiny test namespace
version: 1
models:
  - name: sales
    label: Sales
    description: orders per minute and region
    table: sales
    default_time_dimension: minute
    dimensions:
      - name: minute
        type: time
        column: ts
        label: Minute
      - name: region
        type: categorical
        column: region
        label: Region
    measures:
      - name: orders
        label: Orders
        agg: sum
        expr: n
      - name: revenue
        label: Revenue
        agg: sum
        expr: amount
    metrics:
      - name: aov
        type: ratio
        numerator: revenue
        denominator: orders
        label: AOV
"""


def make_shop(tmp: Path, hours: int = 24 * 21, start: str = "2026-01-01", seed: int = 0,
              drop: tuple[str, str, str] | None = None) -> tuple[Path, Path]:
    """A warehouse with hourly rows per region (North, South) following a daily cycle.

    ``drop=(region, from, to)`` removes that region's rows in [from, to): an outage that shows
    only as *missing rows*, as in real query results."""
    rng = np.random.default_rng(seed)
    idx = pd.date_range(start, periods=hours, freq="h")
    rows = []
    for region, base in (("North", 40.0), ("South", 25.0)):
        level = base * (1 + 0.5 * np.sin(2 * np.pi * (idx.hour - 6) / 24))
        n = rng.poisson(level)
        for t, k in zip(idx, n):
            rows.append((t, region, int(k), float(k) * 20.0))
    df = pd.DataFrame(rows, columns=["ts", "region", "n", "amount"])
    if drop:
        r, a, b = drop
        df = df[~((df.region == r) & (df.ts >= a) & (df.ts < b))]
    wh = tmp / "shop.duckdb"
    models = tmp / "models"
    models.mkdir(exist_ok=True)
    (models / "shop.yml").write_text(SHOP_YML)
    con = duckdb.connect(str(wh))
    con.register("df", df)
    con.execute("create or replace table sales as select * from df")
    con.close()
    return wh, models


def shop_from_rows(tmp: Path, rows: list[tuple], model_yml: str = SHOP_YML):
    """A connected workbench over a hand-written ``sales`` table: rows of (ts, region, n, amount)
    with the given model (the insight tests' hand-computed cases)."""
    import workbench

    (tmp / "models").mkdir()
    (tmp / "models" / "shop.yml").write_text(model_yml)
    con = duckdb.connect(str(tmp / "w.duckdb"))
    con.execute("create table sales(ts timestamp, region varchar, n integer, amount double)")
    con.executemany("insert into sales values (?,?,?,?)",
                    [(pd.Timestamp(t).to_pydatetime(), r, n, a) for t, r, n, a in rows])
    con.close()
    return workbench.connect(warehouse=tmp / "w.duckdb", models_dir=tmp / "models", cache="none")


def append_rows(wh: Path, rows: list[tuple]) -> None:
    con = duckdb.connect(str(wh))
    con.executemany("insert into sales values (?, ?, ?, ?)", rows)
    con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HookReceiver:
    """A real HTTP server on 127.0.0.1 (ephemeral port) that records JSON POSTs."""

    def __init__(self):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append({"path": self.path, "headers": dict(self.headers), "json": json.loads(body)})
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "data": envelope.content.decode("utf-8", "replace")})
                return "250 Message accepted for delivery"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

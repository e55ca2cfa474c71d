"""Audit trail cost: record() per call on each store, and what recording every semantic query
adds to benchmarks/semantic.py's ratio (semantic layer / hand-written SQL on TPC-H).

    python benchmarks/audit.py            # SF1, 2000 timed record() calls per store
    python benchmarks/audit.py --quick    # SF0.1, fewer calls and repeats (< 60 s on 2 cores)

record(): a fresh store of each kind (embedded SQLite in WAL mode with synchronous NORMAL and
FULL, and PostgreSQL on 127.0.0.1 when it is reachable), warmed up, then every call timed on
its own; checkpoints are signed every 100 entries, as configured by default, so their cost is
included. The details are those of a real semantic query (namespace, members, filters, rows, ms).
The `_buffered` stores use audit.buffer_ms = 50: record() only queues, a thread appends.

Ratio: for each TPC-H query of semantic.py, on one DuckDB connection, runs alternate
(semantic, semantic + record(), SQL, ...); figure = median over queries of
median(side) / median(SQL), as semantic.py computes it. The gap between the two ratios is
below run-to-run noise on a shared machine, so `audit_share_pct` (mean record() time, tails
included, over each query's median semantic time; median over queries) is reported beside it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import emit_final, write_results  # noqa: E402

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
GOALS = {"audit_overhead_pct": 5.0}


def _pg_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return True
    except OSError:
        return False


def _details(i: int) -> dict:
    return {
        "namespace": "tpch",
        "members": ["revenue", "order_count", "nation"],
        "filters": ["order_date >= '1994-01-01'"],
        "rows": 25 + i % 7,
        "ms": 12.5,
    }


def time_record(log, calls: int) -> dict:
    from workbench.security.principal import Principal

    p = Principal.of("ann", ["analyst"], region="EU")
    for i in range(200):
        log.record("semantic.query", actor=p, resource="tpch", source="127.0.0.1", **_details(i))
    times = []
    for i in range(calls):
        s = time.perf_counter()
        log.record("semantic.query", actor=p, resource="tpch", source="127.0.0.1", **_details(i))
        times.append(time.perf_counter() - s)
    log.flush()  # a buffered log's calls only queue: its cost shows in the ratio below
    times.sort()
    return {
        "p50_us": round(statistics.median(times) * 1e6, 1),
        "p95_us": round(times[int(len(times) * 0.95)] * 1e6, 1),
        "p99_us": round(times[int(len(times) * 0.99)] * 1e6, 1),
        "mean_us": round(statistics.fmean(times) * 1e6, 1),
    }


def open_logs(tmp: Path):
    from workbench.config import AuditSettings
    from workbench.security.audit import AuditLog

    key = str(tmp / "keys" / "audit.pem")
    logs = {
        "sqlite": AuditLog.open(AuditSettings(path=str(tmp / "normal.sqlite"), key_path=key)),
        "sqlite_full": AuditLog.open(
            AuditSettings(path=str(tmp / "full.sqlite"), key_path=key, synchronous="full")
        ),
        "sqlite_buffered": AuditLog.open(
            AuditSettings(path=str(tmp / "buffered.sqlite"), key_path=key, buffer_ms=50)
        ),
    }
    schema = None
    if _pg_up():
        schema = f"wb_audit_bench_{uuid.uuid4().hex[:8]}"
        logs["postgres"] = AuditLog.open(AuditSettings(url=PG_URL, pg_schema=schema, key_path=key))
        logs["postgres_buffered"] = AuditLog.open(
            AuditSettings(url=PG_URL, pg_schema=schema + "_b", key_path=key, buffer_ms=50)
        )
    return logs, schema


def drop_schema(schema: str | None) -> None:
    if schema:
        import psycopg2

        conn = psycopg2.connect(PG_URL)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            cur.execute(f"DROP SCHEMA IF EXISTS {schema}_b CASCADE")
        conn.close()


def semantic_ratios(sf: str, repeats: int, logs: dict, console) -> dict:
    import shutil

    import workbench
    from tests.tpch.oracle import official_sql
    from tests.tpch.semantic_queries import QUERIES
    from workbench.security.principal import Principal
    from workbench.warehouse.tpch import build_duckdb, sf_label

    db = build_duckdb(sf_label(sf), progress=False)
    models = Path(tempfile.mkdtemp(prefix="wb_bench_models_"))
    shutil.copy(REPO / "semantic" / "tpch.yml", models / "tpch.yml")
    p = Principal.of("ann", ["analyst"])
    wb = workbench.connect(warehouse=db, models_dir=models, cache="none")
    raw = wb.engine.native_connection()
    out = {}
    try:
        for name, kw in QUERIES.items():
            sql = official_sql(name)

            def run_semantic(kw=kw):
                return wb.query("tpch", **kw).execute()

            def audited(log, kw=kw):
                def run():
                    s = time.perf_counter()
                    df = wb.query("tpch", **kw).execute()
                    log.record(
                        "semantic.query",
                        actor=p,
                        resource="tpch",
                        source="127.0.0.1",
                        namespace="tpch",
                        members=list(kw.get("metrics", [])) + list(kw.get("dimensions", [])),
                        filters=list(kw.get("where") or []),
                        rows=len(df),
                        ms=round((time.perf_counter() - s) * 1000, 3),
                    )

                return run

            def run_sql(sql=sql):
                cur = raw.cursor()
                try:
                    return cur.execute(sql).df()
                finally:
                    cur.close()

            sides = {
                "plain": run_semantic,
                **{k: audited(v) for k, v in logs.items()},
                "sql": run_sql,
            }
            for fn in sides.values():
                fn()
            t = {k: [] for k in sides}
            for _ in range(repeats):
                for k, fn in sides.items():
                    s = time.perf_counter()
                    fn()
                    t[k].append(time.perf_counter() - s)
            med = {k: statistics.median(v) for k, v in t.items()}
            out[name] = {k: round(med[k] / med["sql"], 4) for k in sides if k != "sql"}
            out[name]["semantic_ms"] = round(med["plain"] * 1000, 3)
            console.print(
                f"{name}: semantic {med['plain'] * 1000:.1f} ms, ratios "
                + ", ".join(f"{k} {v:.3f}" for k, v in out[name].items() if k != "semantic_ms")
            )
    finally:
        wb.close() if hasattr(wb, "close") else None
        shutil.rmtree(models, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="SF0.1, fewer calls and repeats")
    ap.add_argument("--sf", default=None, help="TPC-H scale factor (default 1, 0.1 with --quick)")
    ap.add_argument("--no-write", action="store_true", help="do not write results/audit.json")
    args = ap.parse_args(argv)

    from rich.console import Console

    console = Console(highlight=False)
    sf = args.sf or ("0.1" if args.quick else "1")
    calls, repeats = (500, 7) if args.quick else (2000, 9)
    load_start = os.getloadavg()
    t0 = time.perf_counter()
    tmp = Path(
        tempfile.mkdtemp(
            prefix="wb_audit_bench_",
            dir=REPO / ".workbench" if (REPO / ".workbench").is_dir() else None,
        )
    )
    logs, schema = open_logs(tmp)
    try:
        record = {}
        for k, log in logs.items():
            record[k] = time_record(log, calls)
            console.print(
                f"record() on {k}: p50 {record[k]['p50_us']} us, p95 {record[k]['p95_us']} us, "
                f"p99 {record[k]['p99_us']} us"
            )
        audited = {k: v for k, v in logs.items() if k != "sqlite_full"}
        per_query = semantic_ratios(sf, repeats, audited, console)
    finally:
        for log in logs.values():
            log.close()
        drop_schema(schema)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)

    def med(key):
        return round(statistics.median(q[key] for q in per_query.values()), 4)

    figures = {
        "sf": sf,
        "quick": args.quick,
        "record_calls": calls,
        "repeats": repeats,
        "record_us": record,
        "ratio_median": med("plain"),
    }
    for store in ("sqlite", "sqlite_buffered", "postgres", "postgres_buffered"):
        if store not in record:
            continue
        figures[f"ratio_with_audit_{store}"] = med(store)
        figures[f"audit_overhead_pct_{store}"] = round((med(store) / med("plain") - 1) * 100, 2)
        figures[f"audit_share_pct_{store}"] = round(
            statistics.median(
                record[store]["mean_us"] / 1000 / q["semantic_ms"] * 100 for q in per_query.values()
            ),
            3,
        )
    figures["audit_overhead_pct"] = figures["audit_overhead_pct_sqlite"]
    figures["goals"] = {
        "audit_overhead_pct": {
            "target": 5.0,
            "value": figures["audit_overhead_pct"],
            "met": figures["audit_overhead_pct"] <= 5.0,
        }
    }
    figures["queries"] = per_query
    figures["total_s"] = round(time.perf_counter() - t0, 1)
    figures["loadavg_1m"] = {"start": round(load_start[0], 2), "end": round(os.getloadavg()[0], 2)}
    if not args.no_write:
        write_results("audit" + ("_quick" if args.quick else ""), figures)
    emit_final({k: v for k, v in figures.items() if k != "queries"})
    return 0


if __name__ == "__main__":
    sys.exit(main())

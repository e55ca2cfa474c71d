"""Gateway overhead: the same queries in-process and through the Workbench server's client.

The server is started the way `make up` starts it (jupyter_config/, the workbench extension)
over a demo warehouse; this process is a client, as a notebook kernel or an app is.

- **Cached latency**: one aggregate query, warmed, then repeated; the server answers from its
  result cache.  Baseline: the same query on a copy of the warehouse opened in this process
  (its own cache warm).  Reported as p50 / p95 and the overhead ratio.
- **Detail throughput**: a 1M-row detail result (``revenue`` by order line: the scale-1.03 demo,
  since scale 1 has ~979k lines; 98k rows with ``--quick``) as Arrow IPC against JSON rows, both
  through the server, rows per second (the median of 3 runs, 2 with ``--quick``; the first is
  the result cache's miss).

Goals (issue 11): cached p50 <= 5 ms and p95 <= 25 ms over loopback.  Final line: JSON with
``cached_p50_ms``, ``cached_p95_ms``, ``arrow_rows_per_s``, ``json_rows_per_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import emit_final, write_results  # noqa: E402

from tests.support.workbench_server import start_server  # noqa: E402

AGG = {"target": "retail", "metrics": ["revenue", "orders"], "dimensions": ["region", "channel"]}
DETAIL = {"target": "retail", "metrics": ["revenue"], "dimensions": ["order_id", "line_no"]}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def timed(fn, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def build(path: Path, scale: float) -> None:
    from workbench.warehouse.seed import build_demo_warehouse

    build_demo_warehouse(path, scale=scale, seed=42, end="2026-11-26", progress=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--quick", action="store_true", help="scale 0.1 demo (100k-row detail), fewer repeats"
    )
    ap.add_argument(
        "--scale",
        type=float,
        default=None,
        help="demo scale (default 1.03: a 1M-row detail result; 0.1 with --quick)",
    )
    ap.add_argument(
        "--repeats", type=int, default=None, help="cached queries timed (default 400, 150 quick)"
    )
    ap.add_argument("--no-write", action="store_true", help="do not write results/gateway.json")
    args = ap.parse_args(argv)
    scale = args.scale or (0.1 if args.quick else 1.03)
    repeats = args.repeats or (150 if args.quick else 400)

    import workbench
    from workbench.client import RemoteWorkbench, RuntimeInfo

    work = Path(tempfile.mkdtemp(prefix="wb-gateway-bench-"))
    served, local = work / "warehouse.duckdb", work / "local.duckdb"
    t0 = time.perf_counter()
    build(served, scale)
    shutil.copy(served, local)
    print(f"demo warehouse at scale {scale} built in {time.perf_counter() - t0:.1f} s", flush=True)

    server = start_server(
        served, work / "home", lab=False, extra_args=["--WorkbenchApp.max_rows=3000000"]
    )
    try:
        remote = RemoteWorkbench(
            RuntimeInfo(
                url=server.url + "/",
                token=server.token,
                pid=server.process.pid,
                warehouse=str(served),
            )
        )
        wb = workbench.connect(warehouse=local, gateway=False, read_only=True)

        # cached aggregate: warm both caches, then time
        def local_q():
            return wb.query(AGG["target"], AGG["metrics"], AGG["dimensions"]).df

        def remote_q():
            return remote.query(AGG["target"], AGG["metrics"], AGG["dimensions"]).df

        expected = local_q().sort_values(["region", "channel"]).reset_index(drop=True)
        got = remote_q().sort_values(["region", "channel"]).reset_index(drop=True)
        if not expected.astype(str).equals(got.astype(str)):
            raise SystemExit(f"remote and local results differ:\n{expected}\n{got}")
        for _ in range(20):
            local_q()
            remote_q()
        loc, rem = timed(local_q, repeats), timed(remote_q, repeats)
        p50, p95 = statistics.median(rem), percentile(rem, 0.95)
        lp50, lp95 = statistics.median(loc), percentile(loc, 0.95)
        print(
            f"cached aggregate, {repeats} calls: in-process p50 {lp50:.2f} ms p95 {lp95:.2f} ms; "
            f"through the server p50 {p50:.2f} ms p95 {p95:.2f} ms",
            flush=True,
        )

        # detail throughput: Arrow against JSON rows, both through the server
        body = {
            "namespace": DETAIL["target"],
            "metrics": DETAIL["metrics"],
            "dimensions": DETAIL["dimensions"],
            "limit": 3_000_000,
        }
        arrow_s, rows = [], 0
        for _ in range(2 if args.quick else 3):
            t0 = time.perf_counter()
            df, facts = remote.run(dict(body))
            arrow_s.append(time.perf_counter() - t0)
            rows = len(df)
        json_s = []
        for _ in range(2 if args.quick else 3):
            t0 = time.perf_counter()
            r = remote.request(
                "POST",
                "query",
                json.dumps(body).encode(),
                {"Accept": "application/json", "Content-Type": "application/json"},
            )
            import pandas as pd

            payload = r.json()
            jdf = pd.DataFrame(payload["records"], columns=payload["columns"])
            json_s.append(time.perf_counter() - t0)
            if len(jdf) != rows:
                raise SystemExit(f"JSON gave {len(jdf)} rows, Arrow {rows}")
        arrow_rps, json_rps = rows / statistics.median(arrow_s), rows / statistics.median(json_s)
        print(
            f"detail result, {rows:,} rows: Arrow {arrow_rps:,.0f} rows/s, JSON {json_rps:,.0f} rows/s "
            f"({arrow_rps / json_rps:.1f}x)",
            flush=True,
        )
        wb.close()
        remote.close()
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    figures = {
        "cached_p50_ms": round(p50, 3),
        "cached_p95_ms": round(p95, 3),
        "in_process_p50_ms": round(lp50, 3),
        "in_process_p95_ms": round(lp95, 3),
        "overhead_p50_ratio": round(p50 / lp50, 2) if lp50 else None,
        "arrow_rows_per_s": round(arrow_rps),
        "json_rows_per_s": round(json_rps),
        "arrow_over_json": round(arrow_rps / json_rps, 2),
        "detail_rows": rows,
        "goal_p50_ms": 5,
        "goal_p95_ms": 25,
        "met": bool(p50 <= 5 and p95 <= 25),
        "scale": scale,
        "repeats": repeats,
        "load_avg": os.getloadavg(),
    }
    if not args.no_write:
        write_results("gateway" + ("_quick" if args.quick else ""), figures)
    emit_final(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

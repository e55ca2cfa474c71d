"""Data quality benchmark: TPC-H lineitem validated with a 20-expectation GE suite.

    python benchmarks/quality.py --quick     # SF1 (6M rows), no Spark, pandas on 250k rows: < 60 s
    python benchmarks/quality.py             # SF10 (60M rows), with Spark

Great Expectations 1.x runs the suite (pipelines/quality/tpch_lineitem.yml) on the same rows, in
the same process:
* DuckDB, through GE's SQL data source (duckdb-engine) on the native DuckDB table, with the
  DuckDB-tuned execution engine (workbench.quality.ge_duckdb: failing-row counts run as filtered
  counts DuckDB pushes into its scan): the measured figure, median of ``--repeats`` runs;
* DuckDB with GE's plain SQL engine, one run: the counts must be the same (``plain_ge_*``);
* pandas, through GE's pandas data source on a DataFrame of lineitem rows: the baseline. The
  ratio compares rows/s; 60M rows do not fit in memory as a DataFrame, so pandas runs on the
  first ``--pandas-rows`` rows (default: 250k with --quick, 1M in the full run; GE on pandas
  runs at a steady rows/s whatever the size) and that is reported;
* Spark, through GE's Spark data source on the lineitem parquet: one run, reported as is, with
  GE's DataFrame cache off (``persist=False``): the SF10 frame is larger than Spark's memory, so
  GE's cache spilled to disk and every metric read it back, and the plain parquet scan lets Spark
  push each check's filter into the parquet reader. ``--quick`` skips Spark (``--spark`` forces
  it) and reports the last full run's figure as ``spark_seconds_cached``, labelled with its
  scale factor and date, never as measured.

What a timed run counts: one ``run_suite`` call -- building GE's ephemeral context, data source,
suite and validation definition, running the validation (every SQL query or Spark job) and
reading the results. Not counted: generating the TPC-H data and loading DuckDB (done once and
cached under .workbench/), importing GE (reported as ``ge_import_seconds``), opening the
DuckDB connection, building the pandas frame, starting Spark. Result format SUMMARY: verdicts,
failing-row counts and GE's partial list of up to 20 failing values per check.

A quick run keeps the previous full run's figures in the results file (``last_full_run``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO_ROOT, RESULTS_DIR, emit_final, write_results  # noqa: E402

QUICK_PANDAS_ROWS = 250_000
FULL_PANDAS_ROWS = 1_000_000


def _previous_full_run() -> dict | None:
    """The last full run's figures, from the results file (a quick run keeps them there)."""
    try:
        prev = json.loads((RESULTS_DIR / "quality.json").read_text())
    except (OSError, ValueError):
        return None
    if "--quick" not in str(prev.get("command", "")) and prev.get("scale_factor") == "10":
        return {k: v for k, v in prev.items() if k != "last_full_run"}
    return prev.get("last_full_run")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description="TPC-H lineitem x 20 GE expectations on DuckDB, pandas (baseline) and Spark."
    )
    ap.add_argument(
        "--quick", action="store_true", help="SF1, no Spark, pandas on 250k rows (< 60 s)"
    )
    ap.add_argument("--sf", default=None, help="TPC-H scale factor (default 10, or 1 with --quick)")
    ap.add_argument(
        "--repeats", type=int, default=None, help="timed DuckDB runs (default 3, 2 quick)"
    )
    ap.add_argument(
        "--pandas-rows",
        type=int,
        default=None,
        help="rows for the pandas baseline (default 1M, 250k with --quick)",
    )
    ap.add_argument(
        "--no-plain", action="store_true", help="skip the run with GE's plain SQL engine"
    )
    ap.add_argument("--no-spark", action="store_true", help="skip Spark")
    ap.add_argument("--spark", action="store_true", help="run Spark with --quick too")
    ap.add_argument(
        "--no-write",
        action="store_true",
        help="print the figures but leave benchmarks/results/quality.json alone",
    )
    args = ap.parse_args(argv)
    run_spark = not args.no_spark and (args.spark or not args.quick)
    t_start = time.perf_counter()
    load_start = [round(x, 2) for x in os.getloadavg()]
    print(f"load average at start: {load_start}")
    sf = args.sf or ("1" if args.quick else "10")
    repeats = args.repeats or (2 if args.quick else 3)

    t_import = time.perf_counter()
    from workbench.quality.ge_runtime import open_duckdb, run_suite
    from workbench.quality.suite_spec import load_suite
    from workbench.warehouse.tpch import build_duckdb, parquet_paths

    spec = load_suite(REPO_ROOT / "pipelines" / "quality" / "tpch_lineitem.yml")
    import_seconds = time.perf_counter() - t_import
    print(f"great_expectations imported in {import_seconds:.1f} s")
    assert len(spec.checks) == 20
    db = build_duckdb(sf, progress=False)
    con = open_duckdb(db, read_only=True)
    rows = con.execute("select count(*) from lineitem").fetchone()[0]
    threads = con.execute("select current_setting('threads')").fetchone()[0]
    kind = con.execute(
        "select table_type from information_schema.tables where table_name = 'lineitem'"
    ).fetchone()[0]
    print(
        f"TPC-H SF{sf}: lineitem {rows:,} rows ({kind}, native DuckDB file {db}), "
        f"{len(spec.checks)} expectations, DuckDB threads {threads}"
    )

    def duck():
        outs, _ = run_suite(spec, "duckdb", duckdb_connection=con, result_format="SUMMARY")
        return outs

    times, outs = [], None
    for i in range(repeats):
        t0 = time.perf_counter()
        outs = duck()
        times.append(time.perf_counter() - t0)
        print(f"  duckdb run {i + 1}: {times[-1]:.2f} s")
    seconds = statistics.median(times)
    errors = [o.name for o in outs if o.error]
    failed = [o.name for o in outs if not o.success]
    print(
        f"duckdb (GE SQL, tuned engine): median {seconds:.2f} s = {rows / seconds:,.0f} rows/s; "
        f"failed checks: {failed or 'none'}; errors: {errors or 'none'}"
    )
    d_counts = {o.name: (o.success, o.unexpected_count) for o in outs}
    plain_seconds, plain_same = None, None
    if not args.no_plain:
        t0 = time.perf_counter()
        plain, _ = run_suite(
            spec, "duckdb", duckdb_connection=con, result_format="SUMMARY", pushdown=False
        )
        plain_seconds = time.perf_counter() - t0
        plain_same = d_counts == {o.name: (o.success, o.unexpected_count) for o in plain}
        print(
            f"duckdb (GE SQL, GE's plain engine): {plain_seconds:.2f} s (one run); "
            f"same verdicts and counts: {plain_same}"
        )

    prow = min(rows, args.pandas_rows or (QUICK_PANDAS_ROWS if args.quick else FULL_PANDAS_ROWS))
    t0 = time.perf_counter()
    pdf = con.execute(f"select * from lineitem limit {prow}").df()
    print(
        f"pandas frame of {len(pdf):,} rows loaded in {time.perf_counter() - t0:.1f} s (not timed)"
    )
    t0 = time.perf_counter()
    pouts, _ = run_suite(spec, "pandas", dataframe=pdf, result_format="SUMMARY")
    p_seconds = time.perf_counter() - t0
    del pdf
    p_rate = prow / p_seconds
    agree = None
    if prow == rows:
        dc = {o.name: o.unexpected_count for o in outs}
        p_counts = {o.name: o.unexpected_count for o in pouts}
        agree = dc == p_counts
        if not agree:
            print(
                "  differing counts (check: duckdb, pandas):",
                {k: (dc[k], p_counts.get(k)) for k in dc if dc[k] != p_counts.get(k)},
                [o.error for o in pouts if o.error][:2],
            )
    print(
        f"pandas (GE pandas): {p_seconds:.2f} s for {prow:,} rows = {p_rate:,.0f} rows/s"
        + (f"; same counts as duckdb: {agree}" if agree is not None else "")
    )
    ratio = (rows / seconds) / p_rate
    print(f"ratio duckdb/pandas (rows/s): {ratio:.1f}x")
    con.close()

    spark_seconds, spark_cached, spark_same = None, None, None
    if not run_spark:
        full = _previous_full_run()
        if full and full.get("spark_seconds"):
            spark_cached = {
                "spark_seconds": full["spark_seconds"],
                "scale_factor": full.get("scale_factor"),
                "rows": full.get("rows"),
                "measured_at": full.get("timestamp"),
            }
            why = "--quick" if args.quick else "--no-spark"
            print(
                f"spark: not run ({why}); last full run: {full['spark_seconds']} s for "
                f"{full.get('rows'):,} rows at SF{full.get('scale_factor')} on {full.get('timestamp')} "
                "(cached figure, not measured now)"
            )
        else:
            print("spark: not run (--quick or --no-spark)")
    else:
        from workbench.engines.spark_engine import spark_session

        t0 = time.perf_counter()
        spark = spark_session()
        print(f"spark session started in {time.perf_counter() - t0:.1f} s (not timed)")
        path = parquet_paths(sf, progress=False)["lineitem"]
        sdf = spark.read.parquet(str(path))
        t0 = time.perf_counter()
        souts, _ = run_suite(
            spec, "spark", dataframe=sdf, result_format="SUMMARY", spark_persist=False
        )
        spark_seconds = time.perf_counter() - t0
        spark_same = {o.name: o.unexpected_count for o in outs} == {
            o.name: o.unexpected_count for o in souts
        }
        print(
            f"spark (GE Spark): {spark_seconds:.2f} s = {rows / spark_seconds:,.0f} rows/s; "
            f"same counts as duckdb: {spark_same}"
        )

    figures = {
        "rows": rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(rows / seconds),
        "ratio_vs_pandas": round(ratio, 2),
        "spark_seconds": None if spark_seconds is None else round(spark_seconds, 2),
    }
    if spark_cached:
        figures["spark_seconds_cached"] = spark_cached
    wall = time.perf_counter() - t_start
    print(f"wall time {wall:.1f} s (of which importing GE {import_seconds:.1f} s)")
    extra = {
        "scale_factor": sf,
        "expectations": len(spec.checks),
        "duckdb_runs": [round(t, 3) for t in times],
        "pandas_rows": prow,
        "pandas_seconds": round(p_seconds, 3),
        "goal_seconds": 10.0,
        "duckdb_engine": "GE SQL data source, workbench DuckDBExecutionEngine (filtered counts)",
        "duckdb_threads": int(threads),
        "plain_ge_seconds": None if plain_seconds is None else round(plain_seconds, 3),
        "plain_ge_same_counts": plain_same,
        "spark_same_counts": spark_same,
        "spark_config": "local[*] (2 cores), driver 3g, parquet read per metric (GE persist=False)",
        "counted": "one run_suite call: GE context, data source, suite, validation, results; "
        "not data generation, DuckDB load, GE import, Spark start",
        "ge_import_seconds": round(import_seconds, 1),
        "wall_seconds": round(wall, 1),
        "load_average_start": load_start,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    full = _previous_full_run() if args.quick else None
    if full:
        extra["last_full_run"] = full
    if not args.no_write:
        write_results("quality", {**figures, **extra})
    emit_final(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Data quality benchmark: TPC-H lineitem validated with a 20-expectation GE suite.

    python benchmarks/quality.py --quick     # SF1 (6M rows), no Spark, pandas on 250k rows: < 60 s
    python benchmarks/quality.py             # SF10 (60M rows), with Spark

Great Expectations 1.x runs the suite (pipelines/quality/tpch_lineitem.yml) three ways, in the
same process:
* DuckDB, through GE's SQL data source (duckdb-engine): the measured figure (median of runs);
* pandas, through GE's pandas data source on a DataFrame of lineitem rows: the baseline. The
  ratio compares rows/s; at SF10 the 60M-row frame does not fit in memory, so pandas runs on
  the first `--pandas-rows` rows (default: all rows at SF1, 6M at SF10) and that is reported;
* Spark, through GE's Spark data source on the lineitem parquet: one run, reported as is.
  Starting Spark and running GE on it takes about a minute even at SF1, so ``--quick`` skips it
  (``--spark`` forces it) and reports the last full run's Spark figure as
  ``spark_seconds_cached``, clearly labelled with its scale factor and date, never as measured.
Result format SUMMARY: verdicts and failing-row counts, no per-row lists.

A quick run keeps the previous full run's figures in the results file (``last_full_run``).
"""
from __future__ import annotations

import argparse
import os
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO_ROOT, RESULTS_DIR, emit_final, write_results  # noqa: E402

QUICK_PANDAS_ROWS = 250_000


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
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="SF1 instead of SF10")
    ap.add_argument("--sf", default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--pandas-rows", type=int, default=None)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--spark", action="store_true", help="run Spark with --quick too")
    args = ap.parse_args(argv)
    run_spark = not args.no_spark and (args.spark or not args.quick)
    t_start = time.perf_counter()
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
    print(f"TPC-H SF{sf}: lineitem {rows:,} rows, {len(spec.checks)} expectations")

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
    print(f"duckdb (GE SQL): median {seconds:.2f} s = {rows / seconds:,.0f} rows/s; "
          f"failed checks: {failed or 'none'}; errors: {errors or 'none'}")

    prow = args.pandas_rows or min(rows, QUICK_PANDAS_ROWS if args.quick else 6_001_215)
    t0 = time.perf_counter()
    pdf = con.execute(f"select * from lineitem limit {prow}").df()
    print(f"pandas frame of {len(pdf):,} rows loaded in {time.perf_counter() - t0:.1f} s (not timed)")
    t0 = time.perf_counter()
    pouts, _ = run_suite(spec, "pandas", dataframe=pdf, result_format="SUMMARY")
    p_seconds = time.perf_counter() - t0
    del pdf
    p_rate = prow / p_seconds
    agree = None
    if prow == rows:
        d_counts = {o.name: o.unexpected_count for o in outs}
        p_counts = {o.name: o.unexpected_count for o in pouts}
        agree = d_counts == p_counts
        if not agree:
            print("  differing counts (check: duckdb, pandas):",
                  {k: (d_counts[k], p_counts.get(k)) for k in d_counts if d_counts[k] != p_counts.get(k)},
                  [o.error for o in pouts if o.error][:2])
    print(f"pandas (GE pandas): {p_seconds:.2f} s for {prow:,} rows = {p_rate:,.0f} rows/s"
          + (f"; same counts as duckdb: {agree}" if agree is not None else ""))
    ratio = (rows / seconds) / p_rate
    print(f"ratio duckdb/pandas (rows/s): {ratio:.1f}x")
    con.close()

    spark_seconds, spark_cached = None, None
    if not run_spark:
        full = _previous_full_run()
        if full and full.get("spark_seconds"):
            spark_cached = {"spark_seconds": full["spark_seconds"], "scale_factor": full.get("scale_factor"),
                            "rows": full.get("rows"), "measured_at": full.get("timestamp")}
            print(f"spark: not run (--quick); last full run: {full['spark_seconds']} s for "
                  f"{full.get('rows'):,} rows at SF{full.get('scale_factor')} on {full.get('timestamp')} "
                  "(cached figure, not measured now)")
        else:
            print("spark: not run (--quick or --no-spark)")
    else:
        from workbench.engines.spark_engine import spark_session
        spark = spark_session()
        path = parquet_paths(sf, progress=False)["lineitem"]
        sdf = spark.read.parquet(str(path))
        t0 = time.perf_counter()
        souts, _ = run_suite(spec, "spark", dataframe=sdf, result_format="SUMMARY")
        spark_seconds = time.perf_counter() - t0
        same = {o.name: o.unexpected_count for o in outs} == {o.name: o.unexpected_count for o in souts}
        print(f"spark (GE Spark): {spark_seconds:.2f} s = {rows / spark_seconds:,.0f} rows/s; "
              f"same counts as duckdb: {same}")

    figures = {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds),
               "ratio_vs_pandas": round(ratio, 2),
               "spark_seconds": None if spark_seconds is None else round(spark_seconds, 2)}
    if spark_cached:
        figures["spark_seconds_cached"] = spark_cached
    wall = time.perf_counter() - t_start
    print(f"wall time {wall:.1f} s (of which importing GE {import_seconds:.1f} s)")
    extra = {"scale_factor": sf, "expectations": len(spec.checks),
             "duckdb_runs": [round(t, 3) for t in times], "pandas_rows": prow,
             "pandas_seconds": round(p_seconds, 3), "goal_seconds": 10.0,
             "ge_import_seconds": round(import_seconds, 1), "wall_seconds": round(wall, 1),
             "load_average": [round(x, 2) for x in os.getloadavg()]}
    full = _previous_full_run() if args.quick else None
    if full:
        extra["last_full_run"] = full
    write_results("quality", {**figures, **extra})
    emit_final(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

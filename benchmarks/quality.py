"""Data quality benchmark: TPC-H lineitem validated with a 20-expectation GE suite.

    python benchmarks/quality.py --quick     # SF1 (6M rows)
    python benchmarks/quality.py             # SF10 (60M rows)

Great Expectations 1.x runs the suite (pipelines/quality/tpch_lineitem.yml) three ways, in the
same process:
* DuckDB, through GE's SQL data source (duckdb-engine): the measured figure (median of runs);
* pandas, through GE's pandas data source on a DataFrame of lineitem rows: the baseline. The
  ratio compares rows/s; at SF10 the 60M-row frame does not fit in memory, so pandas runs on
  the first `--pandas-rows` rows (default: all rows at SF1, 6M at SF10) and that is reported;
* Spark, through GE's Spark data source on the lineitem parquet: one run, reported as is.
Result format SUMMARY: verdicts and failing-row counts, no per-row lists.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO_ROOT, emit_final, write_results  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="SF1 instead of SF10")
    ap.add_argument("--sf", default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--pandas-rows", type=int, default=None)
    ap.add_argument("--no-spark", action="store_true")
    args = ap.parse_args(argv)
    sf = args.sf or ("1" if args.quick else "10")
    repeats = args.repeats or (2 if args.quick else 3)

    t_import = time.perf_counter()
    from workbench.quality.ge_runtime import open_duckdb, run_suite
    from workbench.quality.suite_spec import load_suite
    from workbench.warehouse.tpch import build_duckdb, parquet_paths
    spec = load_suite(REPO_ROOT / "pipelines" / "quality" / "tpch_lineitem.yml")
    print(f"great_expectations imported in {time.perf_counter() - t_import:.1f} s")
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

    prow = args.pandas_rows or min(rows, 1_000_000 if args.quick else 6_001_215)
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

    spark_seconds = None
    if not args.no_spark:
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
    write_results("quality", {**figures, "scale_factor": sf, "expectations": len(spec.checks),
                              "duckdb_runs": [round(t, 3) for t in times], "pandas_rows": prow,
                              "pandas_seconds": round(p_seconds, 3), "goal_seconds": 10.0})
    emit_final(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The warehouse packages run from the shell as documented (docs/demo-data.md, semantic/tpch.yml):
``python -m workbench.warehouse.seed`` and ``python -m workbench.warehouse.tpch``."""

from __future__ import annotations

import re
import subprocess
import sys

import duckdb


def run_module(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout
    )


def test_seed_module_builds_the_warehouse_it_reports(tmp_path):
    path = tmp_path / "wh.duckdb"
    run = run_module(
        "workbench.warehouse.seed",
        "--path",
        str(path),
        "--scale",
        "0.01",
        "--end",
        "2026-01-01",
        "--quiet",
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith(f"{path}: ")
    reported = int(re.search(r"\borders=([\d,]+)", run.stdout).group(1).replace(",", ""))
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("select count(*) from orders").fetchone()[0] == reported > 0
        assert con.execute(
            "select max(ordered_at) < timestamp '2026-01-01' from orders"
        ).fetchone()[0]
    finally:
        con.close()


def test_tpch_module_answers_and_refuses_a_bad_scale_factor(tmp_path):
    usage = run_module("workbench.warehouse.tpch", "--help", timeout=60)
    assert usage.returncode == 0 and "usage: python -m workbench.warehouse.tpch" in usage.stdout
    bad = run_module(
        "workbench.warehouse.tpch", "--sf", "-3", "--root", str(tmp_path), "--quiet", timeout=60
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: ")

"""The server as the one owner of the warehouse, tested as `make up` runs it.

A real JupyterLab with the Workbench configuration and the demo pipeline writing the live
tables; this test process is another process, like a notebook kernel or a shell:

- ``workbench.connect()`` finds the server through its runtime file and queries through it,
  Arrow over loopback, with the same numbers as the same query on a copy of the warehouse
  opened here before the server started (the oracle: the in-process engine);
- ``workbench query`` from a shell works while the server holds the file;
- a ``live`` query grows while the pipeline writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import workbench
from tests.support.workbench_server import start_server
from workbench.client import RemoteWorkbench, ServerError, find_server

pytestmark = [pytest.mark.slow, pytest.mark.ui]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from workbench.warehouse.seed import build_demo_warehouse

    work = tmp_path_factory.mktemp("gateway")
    wh = work / "warehouse.duckdb"
    build_demo_warehouse(wh, scale=0.02, seed=42, end="2025-01-01", progress=False)
    pristine = work / "pristine.duckdb"
    shutil.copy(wh, pristine)
    server = start_server(wh, work / "home", env={"WORKBENCH_AUTOSTART": "demo_orders"})
    try:
        deadline = time.monotonic() + 60
        while find_server(wh) is None and time.monotonic() < deadline:
            time.sleep(0.5)
        yield wh, pristine, server
    finally:
        server.stop()


def test_the_server_writes_a_private_runtime_file_and_removes_it(served):
    wh, _, server = served
    info = find_server(wh)
    assert info is not None, server.log_tail()
    assert info.url.startswith(server.url) and info.pid == server.process.pid
    assert (Path(str(wh) + ".server.json").stat().st_mode & 0o777) == 0o600


def test_connect_queries_through_the_server_with_the_same_numbers(served):
    wh, pristine, _ = served
    wb = workbench.connect(warehouse=wh)
    assert isinstance(wb, RemoteWorkbench)
    remote = wb.query("retail", ["revenue", "orders"], ["region"], order=["region"]).df
    assert wb.last_format == "arrow"
    local_wb = workbench.connect(warehouse=pristine, gateway=False, read_only=True, cache="none")
    local = local_wb.query("retail", ["revenue", "orders"], ["region"], order=["region"]).df
    local_wb.close()
    assert remote["region"].tolist() == local["region"].tolist()
    assert [round(float(x), 2) for x in remote["revenue"]] == [
        round(float(x), 2) for x in local["revenue"]
    ]
    assert remote["orders"].tolist() == local["orders"].tolist()
    q = wb.query("retail", ["revenue"], ["region"])
    assert "revenue" in q.df.columns and q.sql().lower().startswith(("select", "with"))
    assert q.facts.get("principal")
    assert any(e["name"] == "revenue" for e in wb.search("revenue"))
    # query-time members and top-N travel too
    top = wb.query("retail", ["revenue"], ["region"], top={"n": 2, "by": "revenue"}).df
    assert len(top) == 2 and set(top["region"]) <= set(local["region"])
    assert top["revenue"].min() >= sorted(local["revenue"])[-2] - 1e-6
    # a bad query is the semantic layer's message, said by the server
    with pytest.raises(ServerError, match="revenu.*did you mean|Unknown|not"):
        wb.query("retail", ["revenu"]).df
    wb.close()


def test_the_cli_works_while_the_server_holds_the_file(served):
    wh, _, _ = served
    out = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "query", "retail", "-m", "revenue", "-d", "region"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200", "WORKBENCH_WAREHOUSE": str(wh)},
    )
    assert out.returncode == 0, out.stderr
    assert "North" in out.stdout and "lock" not in (out.stdout + out.stderr).lower()


def test_live_numbers_grow_while_the_pipeline_writes(served):
    wh, _, _ = served
    wb = workbench.connect(warehouse=wh)

    def orders() -> float:
        df = wb.query("live", ["orders"], []).df
        return float(df["orders"].iloc[0]) if len(df) else 0.0

    first, deadline = orders(), time.monotonic() + 90
    while orders() <= first and time.monotonic() < deadline:
        time.sleep(2)
    assert orders() > first, "the live orders did not grow in 90 s"
    wb.close()

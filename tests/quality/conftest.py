"""A small demo warehouse (scale 0.05, ~22k orders), a copy with injected faults (faults.py)
and one DuckDB validation run of the faulty copy, shared by the tests of this folder."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from workbench.warehouse.seed import build_demo_warehouse

from .faults import inject

END = "2026-01-01"
NOW = dt.datetime(2026, 1, 1)  # the demo history ends here: freshness is judged from it


@pytest.fixture(scope="session")
def demo_wh(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "demo.duckdb"
    build_demo_warehouse(path, scale=0.05, seed=7, end=END, progress=False)
    return path


@pytest.fixture(scope="session")
def faulty(demo_wh, tmp_path_factory):
    d = tmp_path_factory.mktemp("faulty")
    info = inject(demo_wh, d / "faulty.duckdb")
    info["path"] = d / "faulty.duckdb"
    info["pristine"] = d / "pristine.duckdb"  # the faulty data before any run wrote to it
    shutil.copy(info["path"], info["pristine"])
    info["docs"] = d / "data_docs"
    return info


@pytest.fixture(scope="session")
def duckdb_run(faulty):
    import workbench.quality as quality

    return quality.validate(faulty["path"], "orders", "duckdb", now=NOW, docs_dir=faulty["docs"])

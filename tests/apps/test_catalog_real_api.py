"""The catalog components on the real semantic layer over a small demo warehouse, in-process:
catches drift between the UI and `workbench.connect()`."""

import pytest

from workbench.ui.catalog.query_builder import QueryBuilder
from workbench.ui.catalog.search import CatalogSearch
from workbench.ui.connection import open_workbench


@pytest.fixture(scope="module")
def small_warehouse(tmp_path_factory):
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    return path


@pytest.fixture
def wb(small_warehouse, monkeypatch):
    monkeypatch.setenv("WORKBENCH_WAREHOUSE", str(small_warehouse))
    opened = open_workbench()
    assert opened.ok, opened.message
    return opened.wb


def test_open_is_shared_per_process(wb):
    assert open_workbench().wb is wb
    assert open_workbench(shared=False).wb is not wb


def test_search_add_and_run_on_the_real_api(wb):
    builder = QueryBuilder(wb)
    search = CatalogSearch(wb, on_add=builder.add)
    search.query.value_input = "revenue"
    assert search.selected["kind"] in ("measure", "metric")
    assert "from table" in search.detail.object
    search.add_button.clicks += 1
    search.query.value_input = "region"
    assert search.selected["kind"] == "dimension"
    search.add_button.clicks += 1
    builder.run_button.clicks += 1
    assert not builder.error.visible, builder.error.object
    df = builder.table.value
    assert len(df) >= 1 and builder.metrics.value[0] in df.columns
    assert "SELECT" in builder.sql.object.upper()
    assert builder.chart.visible


def test_time_grain_gives_a_line_chart(wb):
    builder = QueryBuilder(wb)
    names = {e["name"]: e for e in wb.catalog("retail")}
    builder.add(names["revenue"])
    builder.add(names["order_date"])
    builder.grain.value = "month"
    assert builder.run() is not None, builder.error.object
    assert type(builder.chart.object).__name__ == "Curve"


def test_unknown_filter_is_a_message(wb):
    builder = QueryBuilder(wb)
    names = {e["name"]: e for e in wb.catalog("retail")}
    builder.add(names["revenue"])
    builder.where.value = "no_such_column = 1"
    assert builder.run() is None
    assert "no_such_column" in builder.error.object and "Traceback" not in builder.error.object

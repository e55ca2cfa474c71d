"""In-process tests of the catalog explorer components (no browser, no warehouse)."""

import pandas as pd
import pytest

from workbench.ui import charts, messages
from workbench.ui.catalog.query_builder import QueryBuilder, query_names
from workbench.ui.catalog.search import CatalogSearch, filter_entries, lineage_markdown
from workbench.ui.table import formatters_for


def test_search_finds_metric_by_synonym(fake_wb):
    search = CatalogSearch(fake_wb)
    search.query.value_input = "turnover"
    assert (
        list(search.results.options.values())
        == ["retail.orders.revenue", "tpch.orders.revenue"][:1]
        or "retail.orders.revenue" in search.results.options.values()
    )
    assert search.selected["qualified_name"] == "retail.orders.revenue"
    assert "orders.net_amount" in search.detail.object
    assert "result" in search.status.object


def test_search_filters_by_namespace_and_kind(fake_wb):
    search = CatalogSearch(fake_wb)
    search.namespace.value = "retail"
    search.kind.value = "dimension"
    assert set(search.results.options.values()) == {
        "retail.orders.order_date",
        "retail.stores.region",
    }
    search.query.value_input = "zzz-nothing"
    assert search.results.options == {}
    assert "Nothing matches" in search.status.object
    assert search.add_button.disabled


def test_lineage_goes_back_to_tables(fake_wb):
    index = {e["qualified_name"]: e for e in fake_wb.catalog()}
    text = lineage_markdown(index["retail.orders.aov"], index)
    assert "measure `retail.orders.revenue`" in text and "from table `orders`" in text
    assert "`orders.net_amount`" in text and "`orders.*`" in text


def test_lineage_survives_cycles():
    a = {
        "qualified_name": "n.m.a",
        "namespace": "n",
        "kind": "metric",
        "lineage": {"depends_on": ["m.b"]},
    }
    b = {
        "qualified_name": "n.m.b",
        "namespace": "n",
        "kind": "metric",
        "lineage": {"depends_on": ["m.a"]},
    }
    assert "(cycle)" in lineage_markdown(a, {"n.m.a": a, "n.m.b": b})


def test_filter_entries():
    entries = [{"namespace": "a", "kind": "metric"}, {"namespace": "b", "kind": "dimension"}]
    assert filter_entries(entries, "a", None) == entries[:1]
    assert filter_entries(entries, None, ("dimension",)) == entries[1:]


def test_query_names_qualify_only_ambiguous_members():
    entries = [
        {
            "namespace": "r",
            "model": "orders",
            "kind": "dimension",
            "name": "id",
            "qualified_name": "r.orders.id",
        },
        {
            "namespace": "r",
            "model": "stores",
            "kind": "dimension",
            "name": "id",
            "qualified_name": "r.stores.id",
        },
        {
            "namespace": "r",
            "model": "stores",
            "kind": "dimension",
            "name": "region",
            "qualified_name": "r.stores.region",
        },
    ]
    assert query_names(entries) == {
        "r.orders.id": "orders.id",
        "r.stores.id": "stores.id",
        "r.stores.region": "region",
    }


def test_add_then_run_shows_table_chart_and_sql(fake_wb):
    builder = QueryBuilder(fake_wb)
    search = CatalogSearch(fake_wb, on_add=builder.add)
    search.select("retail.orders.revenue")
    search.add_button.clicks += 1
    search.select("retail.stores.region")
    search.add_button.clicks += 1
    assert builder.metrics.value == ["revenue"] and builder.dimensions.value == ["region"]
    builder.run_button.clicks += 1
    assert fake_wb.queries[-1]["metrics"] == ["revenue"]
    assert fake_wb.queries[-1]["limit"] == builder.limit.value
    assert fake_wb.queries[-1]["grain"] is None
    assert builder.table.visible and list(builder.table.value.columns) == ["region", "revenue"]
    assert "SELECT" in builder.sql.object
    assert builder.chart.visible and builder.chart.object is not None
    assert not builder.error.visible
    assert "3 rows" in builder.status.object


def test_namespace_switch_changes_choices(fake_wb):
    builder = QueryBuilder(fake_wb)
    builder.namespace.value = "tpch"
    assert list(builder.metrics.options.values()) == ["revenue"]
    assert builder.dimensions.options == {}


def test_semantic_error_is_shown_as_its_message(fake_wb):
    builder = QueryBuilder(fake_wb)
    builder.metrics.options = {**builder.metrics.options, "nope": "nope"}
    builder.metrics.value = ["nope"]
    assert builder.run() is None
    assert builder.error.visible
    assert "Unknown metric" in builder.error.object
    assert "Traceback" not in builder.error.object


def test_unexpected_error_shows_no_traceback(fake_wb):
    builder = QueryBuilder(fake_wb)
    builder.metrics.options = {**builder.metrics.options, "boom": "boom"}
    builder.metrics.value = ["boom"]
    builder.run()
    assert builder.error.visible
    assert "disk on fire" in builder.error.object
    assert "Traceback" not in builder.error.object


def test_run_without_members_asks_for_one(fake_wb):
    builder = QueryBuilder(fake_wb)
    probes = len(fake_wb.queries)
    builder.run()
    assert "Choose at least one" in builder.error.object
    assert len(fake_wb.queries) == probes


def test_namespaces_missing_from_the_warehouse_are_marked(fake_wb):
    builder = QueryBuilder(fake_wb)
    search = CatalogSearch(fake_wb, on_add=builder.add)
    assert builder.namespace.value == "retail"
    assert "tpch (not in this warehouse)" in builder.namespace.options
    search.query.value_input = "revenue"
    ranked = list(search.results.options.values())
    assert ranked.index("retail.orders.revenue") < ranked.index("tpch.orders.revenue")
    search.select("tpch.orders.revenue")
    assert search.add_button.disabled
    assert "Not queryable with this warehouse" in search.detail.object
    assert "missing tables: lineitem" in search.detail.object


def test_available_namespaces_are_not_marked(fake_wb):
    fake_wb.tpch_available = True
    builder = QueryBuilder(fake_wb)
    assert set(builder.namespace.options) == {"retail", "tpch"}


def test_search_error_is_shown(fake_wb):
    def broken(*a, **k):
        raise RuntimeError("index missing")

    fake_wb.search = broken
    search = CatalogSearch(fake_wb)
    search.query.value_input = "rev"
    assert search.error.visible and "index missing" in search.error.object


def test_components_render(fake_wb):
    builder = QueryBuilder(fake_wb)
    search = CatalogSearch(fake_wb, on_add=builder.add)
    from workbench.ui.theme import page

    root = page("Metric catalog", search, builder).get_root()
    assert root is not None


@pytest.mark.parametrize(
    "df,dims,expected",
    [
        (
            pd.DataFrame({"d": pd.date_range("2024-01-01", periods=4), "m": [1.0, 2, 3, 4]}),
            ["d"],
            "Curve",
        ),
        (pd.DataFrame({"c": list("abc"), "m": [1.0, 2, 3]}), ["c"], "Bars"),
        (pd.DataFrame({"m": [1.0]}), [], None),
        (pd.DataFrame({"c": []}), ["c"], None),
    ],
)
def test_auto_chart_picks_a_type(df, dims, expected):
    chart = charts.auto_chart(df, ["m"], dims)
    assert (type(chart).__name__ if chart is not None else None) == expected


def test_chart_type_registry_accepts_new_types(clean_registries):
    @charts.register
    class Never(charts.ChartType):
        name = "never-test"
        priority = 0

        def accepts(self, df, x, ys, by):
            return False

    assert "never-test" in charts.chart_types()
    df = pd.DataFrame({"c": list("ab"), "m": [1.0, 2]})
    assert type(charts.auto_chart(df, ["m"], ["c"])).__name__ == "Bars"


def test_a_broken_chart_plugin_is_left_out_not_fatal(monkeypatch, clean_registries):
    import workbench.registry as plugin_registry

    class Broken:
        name, value = "broken-test", "nowhere:Chart"

        def load(self):
            raise ImportError("no module named nowhere")

    real = plugin_registry.entry_points

    def fake(group):
        return [*real(group=group), Broken()] if group == "workbench.charts" else real(group=group)

    monkeypatch.setattr(plugin_registry, "entry_points", fake)
    charts.CHARTS.reload()
    names = list(charts.chart_types())
    assert "broken-test" not in names and names[:2] == ["line", "bar"]
    df = pd.DataFrame({"c": list("ab"), "m": [1.0, 2]})
    assert type(charts.auto_chart(df, ["m"], ["c"])).__name__ == "Bars"


def test_palette_is_okabe_ito():
    from workbench.ui.theme import OKABE_ITO, PALETTE

    assert set(PALETTE) == set(OKABE_ITO.values())
    assert PALETTE[-1] == OKABE_ITO["yellow"]


def test_formatters_follow_semantic_formats():
    df = pd.DataFrame({"r": [1.5], "n": [2], "s": ["x"]})
    f = formatters_for(df, {"r": "currency"})
    assert f["r"].format == "0,0.00" and f["n"].format == "0,0" and "s" not in f


def test_dates_at_midnight_show_without_time():
    df = pd.DataFrame(
        {
            "d": pd.date_range("2024-01-01", periods=2, freq="MS"),
            "t": pd.to_datetime(["2024-01-01 10:30:00", "2024-01-02 00:00:00"]),
        }
    )
    f = formatters_for(df)
    assert f["d"].format == "%Y-%m-%d" and f["t"].format == "%Y-%m-%d %H:%M:%S"


def test_describe_error_hides_tracebacks():
    text = messages.describe_error(ValueError("bad thing\n  File x.py, line 3"))
    assert "bad thing" in text and "line 3" not in text


def test_catalog_app_without_warehouse_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_WAREHOUSE", str(tmp_path / "missing.duckdb"))
    from workbench.ui.connection import open_workbench

    opened = open_workbench()
    assert not opened.ok
    assert "make seed" in opened.message

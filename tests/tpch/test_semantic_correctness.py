"""Plausible-looking wrong answers the semantic layer used to give without a warning, each checked
against SQL written by hand and run directly on DuckDB (the oracle is never our compiler):

- NOT LIKE ran as LIKE;
- an ambiguous join path (supplier -> part through lineitem or through partsupp) was chosen by
  declaration order;
- a share within a dimension missing from the query became a share of the grand total;
- a filtered sum over a group with no matching row was NULL while a filtered count was 0;
- messages that pointed the wrong way (group by a measure; a metric filter mixing a row
  condition).
"""

from __future__ import annotations

import pytest

from workbench.semantic.errors import QueryError
from workbench.semantic.namespace import AmbiguousPathError


def scalar(tpch_sql, sql):
    return tpch_sql(sql)[1][0][0]


def test_not_like_is_not_like(tpch_wb, tpch_sql):
    df = tpch_wb.query("tpch", metrics=["count_order"], where=["l_shipmode not like 'A%'"]).df
    assert df["count_order"][0] == scalar(
        tpch_sql, "select count(*) from lineitem where l_shipmode not like 'A%'"
    )
    df = tpch_wb.query("tpch", metrics=["count_order"], where=["l_shipmode not ilike 'a%'"]).df
    assert df["count_order"][0] == scalar(
        tpch_sql, "select count(*) from lineitem where l_shipmode not ilike 'a%'"
    )


def test_an_ambiguous_join_path_is_an_error_naming_the_paths(tpch_wb):
    with pytest.raises(AmbiguousPathError) as e:
        _ = tpch_wb.query("tpch", metrics=["supplier_count"], dimensions=["p_brand"]).df
    msg = str(e.value)
    assert "supplier → lineitem → part" in msg and "supplier → partsupp → part" in msg
    assert "via" in msg


@pytest.mark.parametrize(
    "via,sql",
    [
        (
            "partsupp",
            "select p_brand, count(distinct ps_suppkey) from partsupp "
            "join part on ps_partkey = p_partkey group by 1",
        ),
        (
            "lineitem",
            "select p_brand, count(distinct l_suppkey) from lineitem "
            "join part on l_partkey = p_partkey group by 1",
        ),
    ],
)
def test_via_chooses_the_path(tpch_wb, tpch_sql, via, sql):
    df = tpch_wb.query("tpch", metrics=["supplier_count"], dimensions=["p_brand"], via=[via]).df
    expected = dict(tpch_sql(sql)[1])
    assert dict(zip(df["p_brand"], df["supplier_count"], strict=True)) == expected


def test_an_unknown_via_suggests_names(tpch_wb):
    with pytest.raises(QueryError, match="partsupp"):
        _ = tpch_wb.query(
            "tpch", metrics=["supplier_count"], dimensions=["p_brand"], via=["partsup"]
        ).df


def test_a_composite_key_join(tpch_wb, tpch_sql):
    """lineitem -> partsupp on (l_partkey, l_suppkey): stock of the supply offers lines used."""
    df = tpch_wb.query(
        "tpch",
        metrics=["count_order", "revenue"],
        dimensions=["ps_availqty"],
        where=["ps_availqty < 100"],
        order=["ps_availqty"],
    ).df
    rows = tpch_sql(
        "select ps_availqty, count(*), sum(l_extendedprice * (1 - l_discount)) "
        "from lineitem join partsupp on l_partkey = ps_partkey "
        "and l_suppkey = ps_suppkey where ps_availqty < 100 group by 1 order by 1"
    )[1]
    assert [(int(a), int(b)) for a, b, _ in rows] == list(
        zip(df["ps_availqty"], df["count_order"], strict=True)
    )
    assert [float(c) for *_, c in rows] == pytest.approx([float(x) for x in df["revenue"]])


def test_a_share_within_a_dimension_not_in_the_query_is_an_error(tpch_wb, models_with):
    wb = models_with("""
      - name: revenue_share_in_segment
        type: percent_of_total
        metric: revenue
        within: [c_mktsegment]
""")
    with pytest.raises(QueryError, match="c_mktsegment.*not among this query's dimensions"):
        _ = wb.query("tpch", metrics=["revenue_share_in_segment"], dimensions=["l_shipmode"]).df
    df = wb.query(
        "tpch", metrics=["revenue_share_in_segment"], dimensions=["c_mktsegment", "l_shipmode"]
    ).df
    sums = df.groupby("c_mktsegment")["revenue_share_in_segment"].sum()
    assert sums.round(9).eq(1.0).all()


def test_filtered_sum_over_an_empty_group_is_zero_like_a_count(tpch_wb, tpch_sql):
    """Ship modes whose lines never have a 0.11 discount: the filtered sum is 0, the filtered
    count 0, and the ratio of the two is defined (NULL, not NaN from NULL/0 arithmetic)."""
    df = tpch_wb.query(
        "tpch",
        dimensions=["l_shipmode"],
        define={
            "lineitem.rev_11": {
                "agg": "sum",
                "expr": "l_extendedprice",
                "filter": "l_discount = 0.11",
            },
            "lineitem.n_11": {"agg": "count", "filter": "l_discount = 0.11"},
        },
        metrics=["rev_11", "n_11", "revenue"],
    ).df
    modes = {r[0] for r in tpch_sql("select distinct l_shipmode from lineitem")[1]}
    assert set(df["l_shipmode"]) == modes
    assert (df["rev_11"] == 0).all() and (df["n_11"] == 0).all()
    assert df["rev_11"].notna().all()


def test_group_by_a_measure_says_how(tpch_wb):
    with pytest.raises(QueryError) as e:
        _ = tpch_wb.query("tpch", metrics=["customer_count"], dimensions=["order_count"]).df
    msg = str(e.value)
    assert "is a measure" in msg and "'customer.order_count'" in msg
    assert "Unknown dimension" not in msg


def test_a_metric_filter_with_a_row_condition_is_split(tpch_wb, tpch_sql):
    """'revenue > X and l_returnflag = 'R'': the row condition filters rows, the metric
    condition groups; the flag need not be a dimension of the query."""
    df = tpch_wb.query(
        "tpch",
        metrics=["revenue"],
        dimensions=["l_shipmode"],
        where=["revenue > 1000 and l_returnflag = 'R'"],
    ).df
    rows = tpch_sql(
        "select l_shipmode, sum(l_extendedprice * (1 - l_discount)) from lineitem "
        "where l_returnflag = 'R' group by 1 having sum(l_extendedprice * "
        "(1 - l_discount)) > 1000"
    )[1]
    assert {k: float(v) for k, v in rows} == pytest.approx(
        {k: float(v) for k, v in zip(df["l_shipmode"], df["revenue"], strict=True)}
    )


def test_a_row_condition_inside_or_with_a_metric_names_the_fix(tpch_wb):
    with pytest.raises(QueryError, match="Add 'l_returnflag' to the dimensions"):
        _ = tpch_wb.query(
            "tpch",
            metrics=["revenue"],
            dimensions=["l_shipmode"],
            where=["revenue > 1000 or l_returnflag = 'R'"],
        ).df


def test_query_time_members_match_sql(tpch_wb, tpch_sql):
    df = tpch_wb.query(
        "tpch",
        metrics=["count_distinct(l_suppkey)", "sum(l_quantity) / count(*)"],
        dimensions=["year(o_orderdate)"],
        order=["year(o_orderdate)"],
    ).df
    rows = tpch_sql(
        "select year(o_orderdate), count(distinct l_suppkey), "
        "sum(l_quantity) / count(*) from lineitem join orders on l_orderkey = "
        "o_orderkey group by 1 order by 1"
    )[1]
    assert [int(r[0]) for r in rows] == [int(v) for v in df["year(o_orderdate)"]]
    assert [int(r[1]) for r in rows] == list(df["count_distinct(l_suppkey)"])
    assert [float(r[2]) for r in rows] == pytest.approx(list(df["sum(l_quantity) / count(*)"]))


def test_sum_of_a_case_expression(tpch_wb, tpch_sql):
    text = "sum(case when l_returnflag = 'R' then l_quantity else 0 end)"
    df = tpch_wb.query("tpch", metrics=[text]).df
    assert float(df[text][0]) == float(
        scalar(
            tpch_sql,
            "select sum(case when l_returnflag = 'R' then l_quantity else 0 end) from lineitem",
        )
    )


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(metrics=["sum(nope)"]), "Unknown dimension 'nope'"),
        (dict(metrics=["count(*)"]), "count\\(\\*\\).*needs a model"),
        (
            dict(
                dimensions=["x"], define={"customer.x": {"metric": "order_count", "at": ["nope"]}}
            ),
            "nope",
        ),
        (
            dict(metrics=[{"name": "m", "agg": "sum", "expr": "l_quantity", "colour": 1}]),
            "unknown field",
        ),
        (dict(metrics=["revenue"], top={"n": 0, "by": "revenue"}), "top 'n'"),
    ],
)
def test_bad_query_time_members_get_a_clear_error(tpch_wb, kw, match):
    with pytest.raises(QueryError, match=match):
        _ = tpch_wb.query("tpch", **kw).df


@pytest.fixture
def models_with(tpch_duckdb, tmp_path, tpch_models_dir):
    """A workbench whose tpch model has extra lineitem metrics (YAML appended to its list)."""
    import workbench

    def make(metrics_yaml: str):
        text = (tpch_models_dir / "tpch.yml").read_text()
        anchor = "    metrics:\n"
        i = text.index(anchor) + len(anchor)
        (tmp_path / "tpch.yml").write_text(text[:i] + metrics_yaml.lstrip("\n") + text[i:])
        return workbench.connect(
            warehouse=tpch_duckdb, models_dir=tmp_path, cache="none", read_only=True
        )

    return make


def test_cli_top_via_and_define(tpch_duckdb, tpch_models_dir, tmp_path, tpch_sql):
    """`workbench query` takes the same options as the API; a failing one is one line, no
    traceback, with the list in the message intact."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).with_name("workbench")
    (tmp_path / "semantic").mkdir()
    (tmp_path / "semantic" / "tpch.yml").write_text((tpch_models_dir / "tpch.yml").read_text())
    env = {
        "WORKBENCH_HOME": str(tmp_path),
        "WORKBENCH_WAREHOUSE": str(tpch_duckdb),
        "PATH": "/usr/bin:/bin",
    }

    def run(*args):
        return subprocess.run(
            [str(exe), "query", "tpch", *args, "-f", "csv"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    r = run("-m", "supplier_count", "-d", "p_brand")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "via=['lineitem']" in " ".join(r.stderr.split())
    r = run("-m", "supplier_count", "-d", "p_brand", "--via", "partsupp", "-o", "p_brand")
    assert r.returncode == 0, r.stderr
    want = tpch_sql(
        "select p_brand, count(distinct ps_suppkey) from partsupp join part on "
        "ps_partkey = p_partkey group by 1 order by 1"
    )[1]
    assert r.stdout.splitlines()[1:] == [f"{b},{n}" for b, n in want]
    r = run(
        "-m",
        "revenue",
        "-d",
        "customer_region.r_name,l_shipmode",
        "--top",
        "1 revenue per customer_region.r_name",
    )
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.splitlines()) - 1 == 5  # one ship mode per region (no ties)
    r = run(
        "-m", "customer_count", "-d", "n", "--define", '{"customer.n": {"metric": "order_count"}}'
    )
    assert r.returncode == 0, r.stderr
    total = sum(int(line.split(",")[1]) for line in r.stdout.splitlines()[1:])
    assert total == scalar(tpch_sql, "select count(*) from customer")
    r = run("-m", "revenue", "--top", "three revenue")
    assert r.returncode == 2 and "--top" in r.stderr and "Traceback" not in r.stderr


def test_a_measure_over_a_constant_is_a_clear_error(tpch_wb):
    with pytest.raises(QueryError, match="reads no column"):
        _ = tpch_wb.query(
            "tpch",
            metrics=[{"name": "m", "agg": "count_distinct", "expr": "3", "model": "lineitem"}],
        ).df

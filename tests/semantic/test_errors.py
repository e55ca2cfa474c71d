"""Every bad model or query gets a message naming what and where, with suggestions."""

from pathlib import Path

import pytest

import workbench
from workbench.semantic.errors import ModelError, QueryError
from workbench.semantic.loader import load_file

from .conftest import PRINCIPALS


def _break(models_copy: Path, old: str, new: str) -> Path:
    f = models_copy / "shop.yml"
    text = f.read_text()
    assert old in text
    f.write_text(text.replace(old, new, 1))
    return f


def _line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_unknown_column_names_file_line_and_suggests(models_copy, shop_db):
    f = _break(models_copy, "expr: amount, synonyms", "expr: amont, synonyms")
    wb = workbench.connect(
        warehouse=shop_db, models_dir=models_copy, principal=PRINCIPALS["admin"], read_only=True
    )
    with pytest.raises(ModelError) as e:
        wb.query("shop", ["revenue"]).df
    msg = str(e.value)
    assert f"shop.yml:{_line_of(f, 'expr: amont')}" in msg
    assert "unknown column 'amont'" in msg and "amount" in msg


def test_cycle_in_derived_metrics(models_copy):
    f = _break(models_copy, 'expr: "revenue / buyers"', 'expr: "revenue_per_buyer / buyers"')
    with pytest.raises(ModelError) as e:
        load_file(f)
    assert "cycle" in str(e.value) and "revenue_per_buyer" in str(e.value)
    assert f"shop.yml:{_line_of(f, 'name: revenue_per_buyer')}" in str(e.value)


def test_unknown_join_key(models_copy, shop_db):
    f = _break(models_copy, "on: {store_id: store_id}", "on: {store_id: shop_id}")
    wb = workbench.connect(
        warehouse=shop_db, models_dir=models_copy, principal=PRINCIPALS["admin"], read_only=True
    )
    with pytest.raises(ModelError) as e:
        wb.query("shop", ["revenue"]).df
    assert "unknown join key 'shop_id'" in str(e.value)
    assert f"shop.yml:{_line_of(f, 'on: {store_id: shop_id}')}" in str(e.value)


def test_join_to_unknown_model(models_copy):
    f = _break(models_copy, "{to: stores,", "{to: shops,")
    with pytest.raises(ModelError, match=r"join to unknown model 'shops' \(did you mean stores"):
        load_file(f)


def test_duplicate_name(models_copy):
    f = _break(models_copy, "{name: order_count, agg: count}", "{name: revenue, agg: count}")
    with pytest.raises(ModelError) as e:
        load_file(f)
    assert "duplicate name 'revenue'" in str(e.value)
    assert f"shop.yml:{_line_of(f, '{name: revenue, agg: count}')}" in str(e.value)


def test_typo_in_field_and_bad_type(models_copy):
    f = _break(models_copy, "{name: order_count, agg: count}", "{name: order_count, agg: cnt}")
    with pytest.raises(ModelError) as e:
        load_file(f)
    assert "shop.yml:" in str(e.value) and "agg" in str(e.value)
    _break(models_copy, "agg: cnt}", "agg: count}")
    f = _break(models_copy, "default_time_dimension: order_date", "default_time_dim: order_date")
    with pytest.raises(ModelError, match="unknown field 'default_time_dim'"):
        load_file(f)


def test_bad_expression_in_model(models_copy):
    f = _break(models_copy, "filter: \"status = 'completed'\"}", "filter: \"status = = 'x'\"}")
    with pytest.raises(ModelError, match="cannot parse expression"):
        load_file(f)


def test_invalid_yaml(models_copy):
    f = models_copy / "shop.yml"
    f.write_text(f.read_text() + "\n  - bad: [unclosed\n")
    with pytest.raises(ModelError, match=r"invalid YAML"):
        load_file(f)


def test_unknown_member_suggests_closest(shop):
    with pytest.raises(QueryError) as e:
        shop.query("shop", ["revenu"], ["region"]).df
    assert "Unknown measure or metric 'revenu'" in str(e.value) and "revenue" in str(e.value)
    with pytest.raises(QueryError, match="Did you mean: region"):
        shop.query("shop", ["revenue"], ["regon"]).df


def test_filters_are_never_sql(shop):
    for bad in [
        "1=1; drop table orders",
        "(select 1) = 1",
        "status = 'x' union select 1",
        "pg_sleep(1) = 1",
        "region in (select region from stores)",
    ]:
        with pytest.raises(QueryError):
            shop.query("shop", ["revenue"], [], where=[bad]).df
    # quotes in values stay values
    df = shop.query("shop", ["revenue"], [], where=["status = 'x'' or ''1''=''1'"]).df
    assert df["revenue"].isna().all() or df["revenue"].iloc[0] in (None, 0)


def test_other_query_errors(shop):
    with pytest.raises(QueryError, match="not a time dimension"):
        shop.query("shop", ["revenue"], ["region__month"]).df
    with pytest.raises(QueryError, match="needs a time dimension"):
        shop.query("shop", ["revenue_running"], ["region"]).df
    with pytest.raises(QueryError, match="Cannot understand time range"):
        shop.query("shop", ["revenue"], [], time_range="sometime soon").df
    with pytest.raises(QueryError, match="Cannot order by"):
        shop.query("shop", ["revenue"], ["region"], order=["store"]).df
    with pytest.raises(QueryError, match="at least one metric or dimension"):
        shop.query("shop", [], []).df


def test_cli_never_shows_a_traceback(shop_db, tmp_path):
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("workbench")
    env = {
        "WORKBENCH_HOME": str(tmp_path),
        "WORKBENCH_WAREHOUSE": str(shop_db),
        "PATH": "/usr/bin:/bin",
    }
    (tmp_path / "semantic").mkdir()
    (tmp_path / "semantic" / "shop.yml").write_text(
        (Path(__file__).parent / "models" / "shop.yml").read_text()
    )
    r = subprocess.run(
        [str(exe), "query", "shop", "-m", "revenu"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout and "revenue" in r.stderr
    r = subprocess.run(
        [str(exe), "query", "shop", "-m", "revenue", "-d", "region", "-f", "csv"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "region,revenue"

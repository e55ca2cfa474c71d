"""Engines are chosen by registry name and configured by their own `from_settings`: a bad name
in workbench.yml is an error naming the file and field, and connect() works for any registered
engine (a plugin's too) with no branch on names."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import workbench
from workbench.config import load_settings
from workbench.engines import (
    ENGINES,
    ExportsParquet,
    SupportsCursor,
    get_engine_class,
    register_engine,
)
from workbench.engines.duckdb_engine import DuckDBEngine
from workbench.semantic.errors import ModelError


def project(tmp_path: Path, yml: str) -> Path:
    (tmp_path / "workbench.yml").write_text(yml)
    (tmp_path / "semantic").mkdir()
    return tmp_path


def test_an_unknown_engine_in_workbench_yml_names_the_file_field_and_choices(tmp_path):
    root = project(tmp_path, "engine: duckbd\n")
    with pytest.raises(ModelError) as e:
        load_settings(root)
    text = str(e.value)
    assert "workbench.yml" in text and "engine" in text
    for name in ENGINES.names():
        assert name in text
    assert "Did you mean 'duckdb'?" in text


def test_each_engine_reads_its_own_section_and_overrides_win(tmp_path):
    root = project(
        tmp_path,
        "engine: duckdb\nwarehouse: wh.duckdb\n"
        "spark: {master: 'local[2]', parquet_dir: pq}\n"
        "postgres: {url: 'postgresql://u@127.0.0.1:5999/x'}\n",
    )
    s = load_settings(root)
    duck = get_engine_class("duckdb").from_settings(s, read_only=True)
    assert Path(duck.path) == root / "wh.duckdb" and duck.read_only
    spark = get_engine_class("spark").from_settings(
        s, warehouse=root / "other.duckdb", master="local[1]"
    )
    assert spark.master == "local[1]" and str(spark.parquet_dir) == "pq"
    assert spark.warehouse == str(root / "other.duckdb")
    pg = get_engine_class("postgres").from_settings(s, warehouse=root / "ignored", read_only=True)
    assert pg.url == "postgresql://u@127.0.0.1:5999/x"
    assert isinstance(duck, SupportsCursor) and isinstance(spark, ExportsParquet)
    assert not isinstance(pg, SupportsCursor)


def test_connect_opens_a_plugin_engine_without_knowing_its_name(tmp_path, clean_registries):
    class CopyEngine(DuckDBEngine):
        """DuckDB under another name, as a plugin would register it."""

        name = "duckdb_copy_test"

    register_engine(CopyEngine)
    root = project(tmp_path, "engine: duckdb_copy_test\nwarehouse: wh.duckdb\n")
    duckdb.connect(str(root / "wh.duckdb")).execute("create table t as select 41 + 1 as x").close()
    wb = workbench.connect(root=root, read_only=True)
    try:
        assert type(wb.engine) is CopyEngine and wb.engine.read_only
        cur = wb.engine.cursor()
        try:
            assert cur.execute("select x from t").fetchone() == (42,)
        finally:
            cur.close()
    finally:
        wb.close()

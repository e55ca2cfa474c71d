"""workbench.warehouse.tpch: generation, caching and loading of TPC-H data (through its public
API; the generator is replaced where it lives, in tpch.generate)."""

from __future__ import annotations

import os
import shutil
from decimal import Decimal

import duckdb
import pytest

from workbench.warehouse import tpch
from workbench.warehouse.tpch import generate as tpch_generate


@pytest.mark.parametrize(
    ("sf", "label"),
    [
        (0.01, "0.01"),
        ("0.010", "0.01"),
        (1, "1"),
        (1.0, "1"),
        ("10", "10"),
        (100, "100"),
        (0.5, "0.5"),
        (Decimal("1E+3"), "1000"),
    ],
)
def test_sf_label_is_canonical(sf, label):
    assert tpch.sf_label(sf) == label


@pytest.mark.parametrize("bad", [0, -1, "abc", float("nan"), float("inf")])
def test_sf_label_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        tpch.sf_label(bad)


def test_default_paths(tmp_path):
    assert tpch.parquet_dir(0.01) == tpch.DEFAULT_ROOT / "tpch" / "sf0.01"
    assert tpch.duckdb_path(1) == tpch.DEFAULT_ROOT / "tpch_sf1.duckdb"
    assert tpch.duckdb_path("0.1", tmp_path) == tmp_path / "tpch_sf0.1.duckdb"


def _spec_rows(sf: float) -> dict[str, int]:
    # TPC-H spec, clause 4.2.5: cardinalities per scale factor (lineitem varies per order)
    return {
        "region": 5,
        "nation": 25,
        "supplier": round(10_000 * sf),
        "customer": round(150_000 * sf),
        "part": round(200_000 * sf),
        "partsupp": round(800_000 * sf),
        "orders": round(1_500_000 * sf),
    }


@pytest.fixture(scope="module")
def loaded(tpch_sf, tpch_parquet, tmp_path_factory):
    path = tmp_path_factory.mktemp("tpch_data") / "tpch.duckdb"
    tpch.build_duckdb(tpch_sf, path, parquet=tpch_parquet, progress=False)
    return path


def test_tables_have_spec_cardinalities(loaded, tpch_sf):
    con = duckdb.connect(str(loaded), read_only=True)
    try:
        counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tpch.TABLES}
        per_order = con.execute(
            "select min(n), max(n) from (select count(*) n from lineitem group by l_orderkey)"
        ).fetchone()
        orphans = con.execute(
            "select count(*) from lineitem left join orders on l_orderkey = o_orderkey "
            "where o_orderkey is null"
        ).fetchone()[0]
    finally:
        con.close()
    sf = float(tpch_sf)
    for table, rows in _spec_rows(sf).items():
        assert counts[table] == rows, table
    assert per_order == (1, 7)  # 1-7 lines per order
    assert orphans == 0


def test_column_types_are_tpch_types(loaded):
    con = duckdb.connect(str(loaded), read_only=True)
    try:
        for table, columns in tpch.COLUMNS.items():
            got = dict(
                con.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
            )
            assert got == columns, table
    finally:
        con.close()


def test_parquet_paths_point_at_the_manifest_files(tpch_sf, tpch_parquet):
    paths = tpch.parquet_paths(tpch_sf, tpch_parquet, generate=False)
    assert list(paths) == list(tpch.TABLES)
    for table, path in paths.items():
        assert path.is_absolute() and path.is_file() and path.name == f"{table}.parquet"


def test_parquet_paths_without_data_raises(tmp_path):
    with pytest.raises(tpch.TpchError, match="run generate_parquet"):
        tpch.parquet_paths(0.01, tmp_path / "nothing", generate=False)


@pytest.mark.slow
def test_generate_reuses_cache_and_overwrite_regenerates(tmp_path, monkeypatch):
    out = tpch.generate_parquet(0.01, tmp_path / "sf0.01", progress=False)
    manifest = (out / tpch.MANIFEST).read_text()
    assert '"scale_factor": "0.01"' in manifest and "tpchgen-cli" in manifest
    assert not list(tmp_path.glob(".*.tmp-*"))  # temp dir renamed into place
    first_mtime = (out / "lineitem.parquet").stat().st_mtime_ns

    # a cached directory never runs the generator again
    def no_generator():
        raise AssertionError("tpchgen-cli should not run for a cached scale factor")

    monkeypatch.setattr(tpch_generate, "find_tpchgen_cli", no_generator)
    assert tpch.generate_parquet("0.010", out, progress=False) == out
    monkeypatch.undo()

    # a different scale factor in the same directory is not mistaken for a cache hit
    monkeypatch.setattr(tpch_generate, "find_tpchgen_cli", no_generator)
    with pytest.raises(AssertionError, match="should not run"):
        tpch.generate_parquet(0.02, out, progress=False)
    monkeypatch.undo()

    tpch.generate_parquet(0.01, out, overwrite=True, progress=False)
    assert (out / "lineitem.parquet").stat().st_mtime_ns != first_mtime


def test_incomplete_cache_is_regenerated(tmp_path, tpch_parquet):
    out = tmp_path / "sf0.01"
    shutil.copytree(tpch_parquet, out)
    (out / tpch.MANIFEST).unlink()  # as if a build died half way
    tpch.generate_parquet(0.01, out, progress=False)
    assert (out / tpch.MANIFEST).exists()


def test_parts_layout_loads_the_same_rows(tmp_path, tpch_parquet):
    out = tpch.generate_parquet(0.01, tmp_path / "parts", parts=2, progress=False)
    paths = tpch.parquet_paths(0.01, out)
    for table, path in paths.items():
        assert path.is_dir(), table
        assert len(list(path.glob("*.parquet"))) == 2 or table in ("region", "nation")
    db = tpch.build_duckdb(0.01, tmp_path / "parts.duckdb", parquet=out, progress=False)
    single = tpch.parquet_paths(0.01, tpch_parquet, generate=False)
    con = duckdb.connect(str(db), read_only=True)
    try:
        for table, path in single.items():
            want = duckdb.execute(f"select count(*) from read_parquet('{path}')").fetchone()[0]
            assert con.execute(f"select count(*) from {table}").fetchone()[0] == want, table
    finally:
        con.close()


def test_build_duckdb_reuses_a_good_file_and_repairs_a_bad_one(tmp_path, tpch_parquet):
    path = tmp_path / "t.duckdb"
    assert tpch.build_duckdb(0.01, path, parquet=tpch_parquet, progress=False) == path
    stamp = path.stat().st_mtime_ns
    tpch.build_duckdb(0.01, path, parquet=tpch_parquet, progress=False)
    assert path.stat().st_mtime_ns == stamp  # reused
    con = duckdb.connect(str(path))
    con.execute("delete from nation where n_nationkey = 0")
    con.close()
    tpch.build_duckdb(0.01, path, parquet=tpch_parquet, progress=False)
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("select count(*) from nation").fetchone()[0] == 25
    con.close()
    assert not list(tmp_path.glob(".*.tmp-*"))


def test_load_into_a_schema_of_an_existing_database(tmp_path, tpch_parquet):
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    try:
        con.execute("create table keep_me as select 1 as x")
        tpch.load_into(
            con,
            tpch.parquet_paths(0.01, tpch_parquet, generate=False),
            schema="tpch",
            progress=False,
        )
        assert con.execute("select count(*) from tpch.region").fetchone()[0] == 5
        assert con.execute("select x from keep_me").fetchone()[0] == 1
    finally:
        con.close()


def test_missing_generator_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(tpch.sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(tpch.TpchError, match="pip install"):
        tpch.find_tpchgen_cli()


def test_cli_builds_from_cached_parquet(tmp_path, tpch_parquet, capsys):
    root = tmp_path / "wbhome"
    shutil.copytree(tpch_parquet, tpch.parquet_dir(0.01, root))
    assert tpch.main(["--sf", "0.01", "--root", str(root), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert str(tpch.duckdb_path(0.01, root)) in out
    assert os.path.getsize(tpch.duckdb_path(0.01, root)) > 0
    assert tpch.main(["--sf", "-3", "--root", str(root), "--quiet"]) == 1

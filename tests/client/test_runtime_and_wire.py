"""The runtime file (how clients find the server) and the Arrow wire format, without a server."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest

from workbench.client import (
    RuntimeInfo,
    find_server,
    remove_runtime,
    runtime_file,
    wire,
    write_runtime,
)


@pytest.fixture
def other_process():
    """A live process that is not this one (a server stand-in for the pid check)."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield p.pid
    p.kill()
    p.wait()


def test_runtime_file_is_private_and_found(tmp_path, other_process, monkeypatch):
    wh = tmp_path / "wh.duckdb"
    path = write_runtime(
        RuntimeInfo(url="http://127.0.0.1:1/", token="t0k", pid=other_process, warehouse=str(wh))
    )
    assert path == runtime_file(wh) == tmp_path / "wh.duckdb.server.json"
    assert (path.stat().st_mode & 0o777) == 0o600
    info = find_server(wh)
    assert info is not None and info.url == "http://127.0.0.1:1/" and info.token == "t0k"
    # the same warehouse spelled differently finds the same server
    monkeypatch.chdir(tmp_path)
    assert find_server("wh.duckdb") == info


def test_stale_foreign_and_own_files_are_ignored(tmp_path, other_process):
    wh = tmp_path / "wh.duckdb"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    write_runtime(RuntimeInfo(url="http://x/", token="t", pid=dead.pid, warehouse=str(wh)))
    assert find_server(wh) is None  # its server died
    write_runtime(RuntimeInfo(url="http://x/", token="t", pid=os.getpid(), warehouse=str(wh)))
    assert find_server(wh) is None  # we are the server
    write_runtime(RuntimeInfo(url="http://x/", token="t", pid=other_process, warehouse=str(wh)))
    runtime_file(wh).chmod(0o644)
    assert find_server(wh) is None  # others could have written it
    runtime_file(wh).chmod(0o600)
    assert find_server(wh) is not None
    runtime_file(wh).write_text("{not json")
    assert find_server(wh) is None  # half-written: absent


def test_remove_runtime_removes_only_its_own(tmp_path, other_process):
    wh = tmp_path / "wh.duckdb"
    write_runtime(RuntimeInfo(url="http://x/", token="t", pid=other_process, warehouse=str(wh)))
    remove_runtime(wh)  # not ours: kept
    assert runtime_file(wh).exists()
    remove_runtime(wh, pid=other_process)
    assert not runtime_file(wh).exists()
    remove_runtime(wh)  # nothing there: no error


def test_wire_keeps_types_nulls_and_facts():
    df = pd.DataFrame(
        {
            "region": ["North", None, "Süd"],
            "revenue": [decimal.Decimal("1.10"), None, decimal.Decimal("-3.25")],
            "orders": pd.array([3, None, 7], dtype="Int64"),
            "day": pd.to_datetime(["2026-01-01", None, "2026-03-01"]),
            "when": [dt.datetime(2026, 1, 1, 9, tzinfo=dt.UTC), None, None],
        }
    )
    facts = {"sql": "SELECT 1", "principal": "north", "cached": True, "freshness": {"age_s": 1.5}}
    table, got = wire.decode(wire.encode(df, facts))
    assert got == facts
    assert table.schema.field("revenue").type == pa.decimal128(3, 2)
    back = wire.to_frame(table)
    assert (
        back["region"].iloc[0] == "North"
        and pd.isna(back["region"].iloc[1])
        and back["region"].iloc[2] == "Süd"
    )
    assert (
        back["revenue"].tolist()[0] == decimal.Decimal("1.10")
        and back["revenue"].isna().tolist()[1]
    )
    assert str(back["orders"].dtype) == "Int64" and back["orders"].isna().tolist() == [
        False,
        True,
        False,
    ]
    assert back["day"].iloc[2] == pd.Timestamp("2026-03-01") and pd.isna(back["day"].iloc[1])
    assert str(back["when"].dt.tz) == "UTC"


def test_wire_of_an_empty_result_keeps_its_columns():
    df = pd.DataFrame({"a": pd.Series([], dtype="float64"), "b": pd.Series([], dtype="object")})
    table, facts = wire.decode(wire.encode(df, {}))
    assert table.num_rows == 0 and table.column_names == ["a", "b"] and facts == {}


def test_wire_frames_of_small_and_large_results_convert_alike(monkeypatch):
    """Small results convert on the calling thread, large ones with Arrow's threads: same frame."""
    df = pd.DataFrame(
        {
            "k": [f"r{i % 7}" for i in range(500)],
            "v": [i * 0.5 for i in range(500)],
            "n": pd.array([None if i % 9 == 0 else i for i in range(500)], dtype="Int64"),
        }
    )
    table, _ = wire.decode(wire.encode(df, {}))
    small = wire.to_frame(table)
    monkeypatch.setattr(wire, "THREADED_ROWS", 1)
    pd.testing.assert_frame_equal(wire.to_frame(table), small)
    pd.testing.assert_frame_equal(small, df)


def test_json_records_of_list_cells_are_json_lists():
    """DuckDB LIST columns come out of .df() as numpy arrays (quarantine's failed_checks)."""
    import duckdb

    from workbench.client.wire import json_records

    df = duckdb.sql(
        "SELECT 1 AS id, ['a', 'b'] AS checks, [1.5, 'nan'::DOUBLE] AS xs, []::VARCHAR[] AS none"
    ).df()
    assert json_records(df) == [{"id": 1, "checks": ["a", "b"], "xs": [1.5, None], "none": []}]

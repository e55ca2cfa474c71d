"""An engine failure is reported as the failure it is, naming the file or server and what to do.

Only a table the engine says is absent is "missing tables". A DuckDB lock held by another
process, a PostgreSQL server that refuses the connection, a warehouse file this user may not
read, a warehouse that does not exist: each says so (issue 11 §1, issue 9 item 1.6).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import duckdb
import pytest

import workbench
from workbench.engines.errors import (
    EngineUnavailable,
    MissingTable,
    WarehouseLocked,
    WarehousePermissionDenied,
)
from workbench.semantic.errors import EngineError

from .conftest import MODELS, PRINCIPALS, build_shop

HOLDER = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])          # read-write: holds the file's lock
    con.execute("select count(*) from orders").fetchall()
    print("holding", flush=True)
    sys.stdin.read()                           # until the test closes our stdin
""")


@pytest.fixture
def shop_file(tmp_path) -> Path:
    return build_shop(tmp_path / "shop.duckdb")


def hold_lock(path: Path, script: Path | None = None) -> subprocess.Popen:
    """A process holding `path` read-write; `script`: run the holder from that file."""
    if script is not None:
        script.write_text(HOLDER)
    cmd = [sys.executable, *([str(script)] if script else ["-c", HOLDER]), str(path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if line.strip() != "holding":
        proc.kill()
        pytest.fail(f"the lock-holding process did not start (it said {line!r})")
    return proc


def release(proc: subprocess.Popen) -> None:
    proc.stdin.close()
    proc.wait(timeout=30)


def connect(path: Path, tmp_path: Path, **kw):
    return workbench.connect(
        warehouse=path,
        models_dir=MODELS,
        principal=PRINCIPALS["admin"],
        cache="none",
        principals_file=tmp_path / "none.yml",
        **kw,
    )


@pytest.mark.parametrize("read_only", [False, True])
def test_a_file_locked_by_another_process_is_reported_as_a_lock(shop_file, tmp_path, read_only):
    holder = hold_lock(shop_file)
    try:
        wb = connect(shop_file, tmp_path, read_only=read_only)
        assert "orders" in {e["name"] for e in wb.models()}  # the models still load
        with pytest.raises(WarehouseLocked) as e:
            _ = wb.query("shop", metrics=["revenue"], dimensions=["region"]).df
        msg = str(e.value)
        assert str(shop_file) in msg and "locked" in msg
        assert f"process {holder.pid}" in msg and e.value.holder_pid == holder.pid
        assert "missing tables" not in msg
        assert "Workbench (Jupyter) server" not in msg  # a plain script holds it
        # asking for read-only access cannot help when the holder writes; said only when it may
        assert ("read_only=True" in msg) is (not read_only)
        wb.close()
    finally:
        release(holder)
    # once the holder is gone the same call works: nothing was cached from the failure
    wb = connect(shop_file, tmp_path, read_only=read_only)
    try:
        df = wb.query("shop", metrics=["revenue"], dimensions=["region"]).df
        assert len(df) == 2
    finally:
        wb.close()


def test_a_lock_held_by_a_jupyter_server_says_to_use_or_stop_the_server(shop_file, tmp_path):
    """The holder is recognised by its command line (read from /proc): `make up` runs
    `python -m jupyterlab ...`, a console script `python .../bin/jupyter-lab ...`. This holder
    is our script saved as `jupyter-lab`, so its command line is the console script's."""
    if not Path(f"/proc/{os.getpid()}/cmdline").exists():
        pytest.skip("needs /proc to read the holder's command line")
    holder = hold_lock(shop_file, tmp_path / "jupyter-lab")
    try:
        wb = connect(shop_file, tmp_path)
        with pytest.raises(WarehouseLocked) as e:
            _ = wb.query("shop", metrics=["revenue"]).df
        msg = str(e.value)
        assert str(shop_file) in msg and "Workbench (Jupyter) server" in msg
        assert "query through it" in msg and "stop it" in msg
        assert "missing tables" not in msg
        wb.close()
    finally:
        release(holder)


def test_a_truly_missing_table_is_missing_tables(tmp_path):
    path = build_shop(tmp_path / "shop.duckdb")
    with duckdb.connect(str(path)) as con:
        con.execute("drop table returns")
    wb = connect(path, tmp_path, read_only=True)
    try:
        with pytest.raises(EngineError) as e:
            _ = wb.query("shop", metrics=["revenue"]).df
        assert not isinstance(e.value, EngineUnavailable)
        assert "missing tables: returns)" in str(e.value)
        assert wb.engine.has_table("orders") and not wb.engine.has_table("returns")
        with pytest.raises(MissingTable):
            wb.engine.table("returns")
    finally:
        wb.close()


def test_a_warehouse_that_does_not_exist_says_so(tmp_path):
    wb = connect(tmp_path / "nowhere.duckdb", tmp_path, read_only=True)
    with pytest.raises(EngineUnavailable) as e:
        _ = wb.query("shop", metrics=["revenue"]).df
    assert str(tmp_path / "nowhere.duckdb") in str(e.value) and "does not exist" in str(e.value)
    assert "missing tables" not in str(e.value)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_postgres_connection_names_the_server_not_the_password(tmp_path):
    port = _free_port()  # nothing listens there
    wb = workbench.connect(
        engine="postgres",
        url=f"postgresql://postgres:s3cret@127.0.0.1:{port}/test",
        models_dir=MODELS,
        principal=PRINCIPALS["admin"],
        cache="none",
        principals_file=tmp_path / "none.yml",
    )
    with pytest.raises(EngineUnavailable) as e:
        _ = wb.query("shop", metrics=["revenue"]).df
    msg = str(e.value)
    assert f"127.0.0.1:{port}/test" in msg and "Connection refused" in msg
    assert "s3cret" not in msg and "missing tables" not in msg


def _permission_probe(warehouse: Path, models: Path, as_uid: int | None, out) -> None:
    """In a forked child: drop to `as_uid` (when root), query, report the error's class and text."""
    try:
        if as_uid is not None:
            os.setgid(pwd.getpwuid(as_uid).pw_gid)
            os.setuid(as_uid)
        wb = workbench.connect(
            warehouse=warehouse,
            models_dir=models,
            cache="none",
            principal=PRINCIPALS["admin"],
            read_only=True,
            principals_file=models / "none.yml",
        )
        _ = wb.query("shop", metrics=["revenue"]).df
        out.send(("no error", ""))
    except BaseException as e:  # noqa: BLE001  everything goes back to the test
        out.send((type(e).__name__, str(e)))
    finally:
        out.close()
        os._exit(0)


def test_a_warehouse_this_user_may_not_read_names_the_file():
    """Root reads any file, so as root the probe runs in a forked child as `nobody`."""
    import multiprocessing

    if os.geteuid() == 0:
        try:
            uid = pwd.getpwnam("nobody").pw_uid
        except KeyError:
            pytest.skip("running as root and there is no 'nobody' user to drop to")
    else:
        uid = None
    root = Path(tempfile.mkdtemp(prefix="wb-perm-"))
    try:
        root.chmod(0o755)  # traversable by the probe; the warehouse itself is not readable
        shutil.copytree(MODELS, root / "models")
        for p in [root / "models", *(root / "models").iterdir()]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        warehouse = build_shop(root / "shop.duckdb")
        warehouse.chmod(0o600 if uid is not None else 0o000)
        ctx = multiprocessing.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_permission_probe, args=(warehouse, root / "models", uid, send))
        child.start()
        send.close()
        kind, msg = recv.recv()
        child.join(30)
        assert kind == WarehousePermissionDenied.__name__, (kind, msg)
        assert str(warehouse) in msg and "Permission denied" in msg
        assert "missing tables" not in msg
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.spark
def test_spark_missing_parquet_is_missing_tables_and_a_locked_warehouse_is_a_lock(tmp_path):
    shop = build_shop(tmp_path / "shop.duckdb")
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    with duckdb.connect(str(shop), read_only=True) as con:
        for t in ("stores", "customers", "orders", "order_lines"):  # no returns
            con.execute(f"copy {t} to '{parquet / (t + '.parquet')}' (format parquet)")
    wb = workbench.connect(
        warehouse=tmp_path / "absent.duckdb",
        engine="spark",
        parquet_dir=parquet,
        models_dir=MODELS,
        principal=PRINCIPALS["admin"],
        cache="none",
        principals_file=tmp_path / "none.yml",
    )
    try:
        with pytest.raises(EngineError, match=r"missing tables: returns\)"):
            _ = wb.query("shop", metrics=["revenue"]).df
    finally:
        wb.close()
    # parquet exported from a warehouse that another process has locked for writing
    holder = hold_lock(shop)
    try:
        wb = workbench.connect(
            warehouse=shop,
            engine="spark",
            parquet_dir=None,
            models_dir=MODELS,
            principal=PRINCIPALS["admin"],
            cache="none",
            principals_file=tmp_path / "none.yml",
        )
        with pytest.raises(WarehouseLocked) as e:
            _ = wb.query("shop", metrics=["revenue"]).df
        assert str(shop) in str(e.value) and "missing tables" not in str(e.value)
        wb.close()
    finally:
        release(holder)

"""connect() with and without a server that owns the warehouse (no server needed: a stand-in pid)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

import workbench
from workbench.client import RemoteWorkbench, RuntimeInfo, ServerError, write_runtime


@pytest.fixture
def served(tmp_path):
    """A runtime file for a warehouse, naming a live process and a port nobody listens on."""
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    wh = tmp_path / "warehouse.duckdb"
    write_runtime(
        RuntimeInfo(url=f"http://127.0.0.1:{port}/", token="t", pid=p.pid, warehouse=str(wh))
    )
    yield wh, port
    p.kill()
    p.wait()


def test_a_served_warehouse_gives_a_remote_session(served):
    wh, port = served
    wb = workbench.connect(warehouse=wh)
    assert isinstance(wb, RemoteWorkbench) and wb.info.url == f"http://127.0.0.1:{port}/"
    # the server is gone: said as such, naming it, not as missing tables
    with pytest.raises(
        ServerError, match=rf"server at http://127.0.0.1:{port}/ .* does not answer"
    ):
        wb.query("retail", ["revenue"], ["region"]).df
    with pytest.raises(ServerError, match="to_ibis.* owns it"):
        wb.query("retail", ["revenue"]).to_ibis()


def test_the_server_decides_who_you_are(served):
    wh, _ = served
    with pytest.raises(ServerError, match="decides who you are"):
        workbench.connect(warehouse=wh, principal="admin")


def test_gateway_false_and_other_engines_open_the_file(served, tmp_path):
    wh, _ = served
    import duckdb

    duckdb.connect(str(wh)).close()  # an empty warehouse file
    wb = workbench.connect(warehouse=wh, gateway=False)
    assert not isinstance(wb, RemoteWorkbench)
    wb.close()


def test_gateway_true_without_a_server_says_so(tmp_path):
    with pytest.raises(ServerError, match="No Workbench server owns"):
        workbench.connect(warehouse=tmp_path / "none.duckdb", gateway=True)

"""The workbench server extension under jupyter_server's pytest plugin: a real ServerApp in the
test process (``jp_serverapp``), requests through ``jp_fetch``, over a small demo warehouse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

# jupyter_server's fixtures (jp_fetch, jp_serverapp, ...) for these tests only: registered as a
# plugin they would wrap every test of the suite in their autouse event-loop fixture, which
# clashes with Playwright's own loop in the browser tests.
from pytest_jupyter.jupyter_core import *  # noqa: E402,F401,F403
from pytest_jupyter.jupyter_server import *  # noqa: E402,F401,F403

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def small_warehouse(tmp_path_factory) -> Path:
    """A small deterministic demo warehouse, built once per session (a few seconds)."""
    from workbench.warehouse.seed import build_demo_warehouse

    path = tmp_path_factory.mktemp("server-wh") / "warehouse.duckdb"
    build_demo_warehouse(path, scale=0.02, seed=42, end="2025-01-01", progress=False)
    return path


@pytest.fixture
def warehouse(small_warehouse, tmp_path) -> Path:
    """A private copy per test: the server opens it read-write."""
    dst = tmp_path / "warehouse.duckdb"
    shutil.copy(small_warehouse, dst)
    return dst


@pytest.fixture
def pipelines_config() -> dict:
    """Extra ``c.WorkbenchApp`` settings a test module may override."""
    return {
        "pipeline_loader": "server_fakes:load_pipeline",
        "pipeline_lister": "server_fakes:list_pipelines",
    }


@pytest.fixture
def jp_server_config(warehouse, pipelines_config):
    from traitlets.config import Config

    return Config(
        {
            "ServerApp": {"jpserver_extensions": {"workbench.server": True}},
            "WorkbenchApp": {
                "warehouse": str(warehouse),
                "project_root": str(REPO),
                "principal_map": {"*": "analyst"},
                **pipelines_config,
            },
        }
    )

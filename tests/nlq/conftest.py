"""Fixtures of the NLQ oracle tests: the warehouses the question sets were written against,
built once per test session under pytest's tmp dir (tests/nlq/warehouses.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .warehouses import build


@pytest.fixture(scope="session")
def nlq_warehouses(tmp_path_factory) -> dict[str, Path]:
    """namespace -> DuckDB file, for retail, tpch and the unseen insurance domain."""
    root = tmp_path_factory.mktemp("nlq-warehouses")
    return {ns: build(ns, root) for ns in ("retail", "tpch", "insurance")}

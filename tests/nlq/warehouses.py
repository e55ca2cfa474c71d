"""The warehouses the shipped question sets were written against, built on demand.

* ``retail``: the demo warehouse, ``build_demo_warehouse(scale=0.02, seed=42,
  end="2025-01-01")`` (orders 2023-01-01 .. 2024-12-31);
* ``tpch``: TPC-H SF 0.01 from ``tpchgen-cli`` (parquet cached under ``.workbench/tpch``);
* ``insurance``: the unseen domain (``tests/nlq/unseen/build.py``).

Each lands in its own DuckDB file (the retail and TPC-H models both have an ``orders`` table).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
QUESTIONS_DIR = Path(__file__).resolve().parent / "questions"
UNSEEN_DIR = Path(__file__).resolve().parent / "unseen"
SHIPPED_MODELS = REPO / "semantic"
UNSEEN_MODELS = UNSEEN_DIR / "models"
UNSEEN_QUESTIONS = UNSEEN_DIR / "questions.yml"

RETAIL_DEMO = {"scale": 0.02, "seed": 42, "end": "2025-01-01"}
TPCH_SF = "0.01"


def build_retail(path: Path) -> Path:
    from workbench.warehouse.seed import build_demo_warehouse

    build_demo_warehouse(path, progress=False, **RETAIL_DEMO)
    return path


def build_tpch(path: Path) -> Path:
    from workbench.warehouse.tpch import build_duckdb, generate_parquet, parquet_dir

    cache = Path(os.environ.get("WORKBENCH_TPCH_CACHE", REPO / ".workbench"))
    parquet = generate_parquet(TPCH_SF, parquet_dir(TPCH_SF, cache), progress=False)
    return build_duckdb(TPCH_SF, path, parquet=parquet, progress=False)


def build_insurance(path: Path) -> Path:
    import importlib.util

    spec = importlib.util.spec_from_file_location("nlq_unseen_build", UNSEEN_DIR / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build(path)


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "retail": build_retail,
    "tpch": build_tpch,
    "insurance": build_insurance,
}
MODELS_DIRS = {"retail": SHIPPED_MODELS, "tpch": SHIPPED_MODELS, "insurance": UNSEEN_MODELS}


def build(namespace: str, directory: Path) -> Path:
    """The warehouse of ``namespace`` as ``<directory>/<namespace>.duckdb``."""
    directory.mkdir(parents=True, exist_ok=True)
    return BUILDERS[namespace](directory / f"{namespace}.duckdb")


def connect(warehouse: Path, models_dir: Path, cache: str = "none"):
    """A read-only session on a question set's warehouse, as an analyst (no row policy of the
    shipped models applies to analysts), never through a running server."""
    import workbench
    from workbench.security.principal import Principal

    return workbench.connect(
        warehouse=warehouse,
        models_dir=models_dir,
        read_only=True,
        gateway=False,
        cache=cache,
        principal=Principal.of("nlq-benchmark", roles=["analyst"]),
    )

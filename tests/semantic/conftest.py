"""A tiny shop warehouse whose every figure can be checked by hand.

orders (id, customer, store, ordered_at, amount, status); stores 10, 11 are North, 20 is South.
Orders 1 and 5 have two lines each: a naive orders x order_lines join counts them twice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support.engines import duckdb_file

import workbench
from workbench.security.principal import Principal

MODELS = Path(__file__).parent / "models"

STORES = [(10, "N1", "North"), (11, "N2", "North"), (20, "S1", "South")]
CUSTOMERS = [
    (100, "Ann", "ann@x.com", "North"),
    (101, "Bob", "bob@y.com", "South"),
    (102, "Cy", "cy@z.com", "North"),
]
ORDERS = [  # order_id, customer_id, store_id, ordered_at, amount, status
    (1, 100, 10, "2024-01-05 10:00:00", 100.0, "completed"),
    (2, 100, 11, "2024-01-20 11:00:00", 50.0, "completed"),
    (3, 101, 20, "2024-02-03 12:00:00", 200.0, "returned"),
    (4, 102, 10, "2024-02-15 09:00:00", 30.0, "completed"),
    (5, 101, 20, "2024-03-01 08:00:00", 70.0, "completed"),
    (6, 100, 10, "2025-01-10 10:00:00", 120.0, "completed"),
    (7, 102, 20, "2025-02-11 15:00:00", 80.0, "cancelled"),
]
LINES = [  # order_id, line_no, product, qty, line_amount
    (1, 1, "A", 2, 60.0),
    (1, 2, "B", 1, 40.0),
    (2, 1, "A", 1, 50.0),
    (3, 1, "B", 4, 200.0),
    (4, 1, "A", 1, 30.0),
    (5, 1, "B", 1, 35.0),
    (5, 2, "C", 1, 35.0),
    (6, 1, "A", 3, 120.0),
    (7, 1, "C", 2, 80.0),
]
RETURNS = [(1, 3, "2024-02-10 10:00:00", 200.0)]

PRINCIPALS = {
    "admin": Principal.of("admin", roles=["admin"]),
    "analyst": Principal.of("analyst", roles=["analyst"]),
    "north": Principal.of("north", roles=["regional_manager"], region="North"),
    "south": Principal.of("south", roles=["regional_manager"], region="South"),
    "noattr": Principal.of("noattr", roles=["regional_manager"]),
    "viewer": Principal.of("viewer", roles=["viewer"], region="North"),
}


SHOP_TABLES = {  # name -> ([(column, DuckDB type)], rows), for tests/support/engines.py
    "stores": ([("store_id", "int"), ("name", "varchar"), ("region", "varchar")], STORES),
    "customers": (
        [("customer_id", "int"), ("name", "varchar"), ("email", "varchar"), ("region", "varchar")],
        CUSTOMERS,
    ),
    "orders": (
        [
            ("order_id", "int"),
            ("customer_id", "int"),
            ("store_id", "int"),
            ("ordered_at", "timestamp"),
            ("amount", "double"),
            ("status", "varchar"),
        ],
        ORDERS,
    ),
    "order_lines": (
        [
            ("order_id", "int"),
            ("line_no", "int"),
            ("product", "varchar"),
            ("qty", "int"),
            ("line_amount", "double"),
        ],
        LINES,
    ),
    "returns": (
        [
            ("return_id", "int"),
            ("order_id", "int"),
            ("returned_at", "timestamp"),
            ("refund", "double"),
        ],
        RETURNS,
    ),
}


def build_shop(path: Path) -> Path:
    return duckdb_file(path, SHOP_TABLES)


@pytest.fixture(scope="session")
def shop_db(tmp_path_factory) -> Path:
    return build_shop(tmp_path_factory.mktemp("shop") / "shop.duckdb")


@pytest.fixture(scope="session")
def shop(shop_db):
    """The shop as admin (no policy applies); use wb.as_principal(PRINCIPALS[...]) for others."""
    wb = workbench.connect(
        warehouse=shop_db,
        models_dir=MODELS,
        principal=PRINCIPALS["admin"],
        read_only=True,
        principals_file=MODELS / "none.yml",
    )
    yield wb
    wb.close()


@pytest.fixture
def models_copy(tmp_path) -> Path:
    """A writable copy of the fixture models, for tests that edit or break them."""
    dst = tmp_path / "models"
    shutil.copytree(MODELS, dst)
    return dst


# ---------------------------------------------------------------------------------------------
# the shop on every registered engine (the `engine` fixture: tests/support/engines.py)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def engine_shop(engine):
    """The shop on the engine under test, as admin, no cache: one load per engine and session.
    Engine-agnostic tests take this instead of `shop` (DuckDB only)."""
    wb = engine.connect(SHOP_TABLES, MODELS, PRINCIPALS["admin"], MODELS / "none.yml")
    yield wb
    wb.close()

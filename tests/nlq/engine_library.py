"""The lending library of the engine tests (tests/nlq/engine_models/library.yml), small enough
that every expected figure below is added up by hand in the test that uses it."""

from __future__ import annotations

from pathlib import Path

from support.engines import duckdb_file

MODELS = Path(__file__).parent / "engine_models"

BRANCHES = [(1, "Central Library", "Lund"), (2, "Harbour Branch", "Malmo")]
MEMBERS = [(10, "Ada", "gold", "Lund"), (11, "Ben", "basic", "Malmo"), (12, "Cleo", "gold", "Lund")]
BOOKS = [(100, "Dune", "scifi", 412), (101, "Emma", "classic", 320), (102, "Solaris", "scifi", 204)]
LOANS = [  # loan_id, member, book, branch, loaned_at, returned_at, fee
    (1, 10, 100, 1, "2024-01-05 10:00:00", "2024-01-20 10:00:00", 2.0),
    (2, 10, 101, 1, "2024-02-10 10:00:00", "2024-02-25 10:00:00", 0.0),
    (3, 11, 100, 2, "2024-03-01 10:00:00", "2024-04-10 10:00:00", 5.5),
    (4, 12, 102, 2, "2024-03-15 10:00:00", None, 1.0),
    (5, 11, 102, 1, "2023-11-20 10:00:00", "2023-12-01 10:00:00", 3.0),
    (6, 12, 100, 1, "2024-06-01 10:00:00", "2024-06-10 10:00:00", 0.5),
]
TABLES = {
    "branches": ([("branch_id", "int"), ("name", "varchar"), ("city", "varchar")], BRANCHES),
    "members": (
        [("member_id", "int"), ("name", "varchar"), ("tier", "varchar"), ("city", "varchar")],
        MEMBERS,
    ),
    "books": (
        [("book_id", "int"), ("title", "varchar"), ("genre", "varchar"), ("pages", "int")],
        BOOKS,
    ),
    "loans": (
        [
            ("loan_id", "int"),
            ("member_id", "int"),
            ("book_id", "int"),
            ("branch_id", "int"),
            ("loaned_at", "timestamp"),
            ("returned_at", "timestamp"),
            ("fee", "double"),
        ],
        LOANS,
    ),
}


def build_library(path: Path) -> Path:
    return duckdb_file(path, TABLES)

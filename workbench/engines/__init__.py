"""Engines run compiled Ibis expressions: DuckDB (default), PySpark, PostgreSQL."""

from .base import (
    ENGINES,
    Engine,
    UnknownEngine,
    available_engines,
    get_engine_class,
    register_engine,
)
from .capabilities import ExportsParquet, SupportsCursor

__all__ = [
    "ENGINES",
    "Engine",
    "ExportsParquet",
    "SupportsCursor",
    "UnknownEngine",
    "available_engines",
    "get_engine_class",
    "register_engine",
]

"""Engines run compiled Ibis expressions: DuckDB (default), PySpark, PostgreSQL."""
from .base import Engine, available_engines, get_engine_class, register_engine

__all__ = ["Engine", "available_engines", "get_engine_class", "register_engine"]

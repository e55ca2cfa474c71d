"""Warehouse builders: demo seeds and benchmark datasets loaded into the local DuckDB warehouse."""

"""Warehouse tables of a pipeline: bronze, silver, dead letters, checkpoints, gold.

Silver tables declare no key constraint: a DuckDB ART index costs more per batch than the
delete-then-insert keyed on the batch's keys (which DuckDB prunes with zone maps).
"""

from __future__ import annotations

import duckdb

from .gold import GoldView
from .spec import PipelineSpec


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def silver_name(spec: PipelineSpec, table: str) -> str:
    return spec.storage.silver_prefix + table


def create_tables(
    con: duckdb.DuckDBPyConnection, spec: PipelineSpec, views: list[GoldView]
) -> None:
    st = spec.storage
    con.execute(f"""CREATE TABLE IF NOT EXISTS {q(st.checkpoint_table)} (
        pipeline VARCHAR PRIMARY KEY, pos_hi BIGINT, pos_lo BIGINT, position VARCHAR,
        committed_at TIMESTAMP, events BIGINT, batches BIGINT, dead_letters BIGINT)""")
    con.execute(f"""CREATE TABLE IF NOT EXISTS {q(st.dead_letter_table)} (
        pipeline VARCHAR, pos_hi BIGINT, pos_lo BIGINT, position VARCHAR, received_at TIMESTAMP,
        source_table VARCHAR, reason VARCHAR, payload VARCHAR)""")
    bronze = (
        f"CREATE TABLE IF NOT EXISTS {q(st.bronze_table)} (pipeline VARCHAR, pos_hi BIGINT, pos_lo BIGINT, "
        "position VARCHAR, received_at TIMESTAMP, source_table VARCHAR, op VARCHAR, tx_id VARCHAR, "
        "source_ts_ms BIGINT, payload VARCHAR{})"
    )
    try:
        # zstd for the raw payloads: about half the checkpoint CPU of DuckDB's default string
        # compression (its per-segment analysis dominates) and a quarter of the size
        con.execute(bronze.format(" USING COMPRESSION zstd"))
    except duckdb.Error:
        # a warehouse file in a storage format before zstd (< v1.2): default compression
        con.execute(bronze.format(""))
    for name, t in spec.tables.items():
        cols = ", ".join(f"{q(c)} {typ}" for c, typ in t.columns.items())
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {q(silver_name(spec, name))} "
            f"({cols}, _pos_hi BIGINT, _pos_lo BIGINT)"
        )
    for v in views:
        v.create(con)


def read_checkpoint(con, spec: PipelineSpec, pipeline: str):
    row = con.execute(
        f"SELECT pos_hi, pos_lo, position, committed_at, events, batches, dead_letters "
        f"FROM {q(spec.storage.checkpoint_table)} WHERE pipeline = ?",
        [pipeline],
    ).fetchone()
    return row

"""PostgreSQL logical decoding, read directly from a replication slot.

First start: the slot is created with an exported snapshot; the existing rows of the pipeline's
tables are read in that snapshot (as `r` events, in one warehouse transaction) and streaming
continues from the slot's consistent point, so nothing is missed or seen twice. Later starts
stream from the slot; the warehouse checkpoint drops anything at or before its position.

Positions are (commit LSN, index in the transaction): a transaction is delivered whole and in
commit order. After each warehouse commit the slot is confirmed up to that LSN (send_feedback),
so PostgreSQL can recycle WAL.

Plugins: `test_decoding` and `pgoutput` are built in; `wal2json` needs the
postgresql-15-wal2json package. Tables need a primary key (REPLICA IDENTITY DEFAULT) so updates
and deletes carry their key.
"""

from __future__ import annotations

import select
import time
from typing import Literal

from pydantic import Field

from ..events import RawEvent, dumps, int_to_lsn
from .base import Source, SourceOptions
from .pg_decoders import PgOutputDecoder, decode_test_decoding, decode_wal2json


class PostgresOptions(SourceOptions):
    dsn: str = Field(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres", description="libpq DSN."
    )
    slot: str = Field("workbench", description="Logical replication slot (created on first start).")
    plugin: Literal["test_decoding", "wal2json", "pgoutput"] = Field(
        "pgoutput", description="Output plugin."
    )
    schema_: str = Field("public", alias="schema", description="Schema of the source tables.")
    publication: str | None = Field(
        None, description="pgoutput publication (default: <slot>_pub, created FOR the tables)."
    )
    snapshot: bool = Field(
        True, description="Take a consistent snapshot of existing rows on first start."
    )
    status_interval_s: float = Field(10.0, description="Keepalive feedback interval.")


class PostgresSource(Source):
    """PostgreSQL logical decoding from a replication slot (see the module docstring)."""

    kind = "postgres"
    Options = PostgresOptions
    options: PostgresOptions

    def open(self, after):
        import psycopg2
        import psycopg2.extras

        o = self.options
        self.sql = psycopg2.connect(o.dsn)
        self.sql.autocommit = True
        cur = self.sql.cursor()
        cur.execute("SELECT plugin FROM pg_replication_slots WHERE slot_name = %s", [o.slot])
        row = cur.fetchone()
        self.repl = psycopg2.connect(
            o.dsn, connection_factory=psycopg2.extras.LogicalReplicationConnection
        )
        self.rcur = self.repl.cursor()
        self.pending: list[RawEvent] = []
        self.snapshot_events: list[RawEvent] = []
        self.tx: list[tuple] = []
        self.tx_id = None
        self.decoder = {
            "test_decoding": decode_test_decoding,
            "wal2json": decode_wal2json,
            "pgoutput": PgOutputDecoder(),
        }[o.plugin]
        if o.plugin == "pgoutput":
            self._ensure_publication(cur)
        if after is None and row is not None:
            # a slot without a checkpoint: the snapshot of a previous run never committed
            cur.execute("SELECT pg_drop_replication_slot(%s)", [o.slot])
            row = None
        if row is None:
            if after is not None:
                raise RuntimeError(
                    f"replication slot '{o.slot}' is gone but the warehouse has a checkpoint; "
                    "reset the pipeline's silver/gold tables and checkpoint to re-snapshot"
                )
            self.rcur.execute(
                f'CREATE_REPLICATION_SLOT "{o.slot}" LOGICAL {o.plugin} EXPORT_SNAPSHOT'
            )
            _name, consistent, snap, _plugin = self.rcur.fetchone()
            from ..events import lsn_to_int

            cp = lsn_to_int(consistent)
            if o.snapshot:
                self._snapshot(snap, cp)
        self._start()

    def _ensure_publication(self, cur):
        o = self.options
        pub = o.publication or f"{o.slot}_pub"
        self.publication = pub
        cur.execute("SELECT 1 FROM pg_publication WHERE pubname = %s", [pub])
        if cur.fetchone() is None:
            tables = ", ".join(
                f'"{o.schema_}"."{(t.source_name or n).split(".")[-1]}"'
                for n, t in self.tables.items()
            )
            cur.execute(f'CREATE PUBLICATION "{pub}" FOR TABLE {tables}')

    def _snapshot(self, snap: str, cp: int) -> None:
        import psycopg2

        con = psycopg2.connect(self.options.dsn)
        try:
            cur = con.cursor()
            cur.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            cur.execute("SET TRANSACTION SNAPSHOT %s", [snap])
            ts = int(time.time() * 1000)
            i = 0
            for name, t in self.tables.items():
                table = (t.source_name or name).split(".")[-1]
                src = (
                    f'{{"connector": "postgresql", "snapshot": "true", "schema": "{self.options.schema_}", '
                    f'"table": "{table}", "ts_ms": {int(ts)}, "lsn": {int(cp)}}}'
                )
                cur.execute(f"""SELECT '{{"before": null, "op": "r", "ts_ms": {ts}, "source": {src}, "after": '
                                || row_to_json(t)::text || '}}' FROM "{self.options.schema_}"."{table}" t""")
                for (payload,) in cur:
                    self.snapshot_events.append(RawEvent(cp, i, f"{int_to_lsn(cp)}:{i}", payload))
                    i += 1
            con.rollback()
        finally:
            con.close()

    def _start(self) -> None:
        o = self.options
        opts = {}
        if o.plugin == "test_decoding":
            opts = {"include-xids": "1", "include-timestamp": "1"}
        elif o.plugin == "wal2json":
            opts = {"format-version": "2", "include-xids": "1", "include-timestamp": "1"}
        else:
            opts = {"proto_version": "1", "publication_names": self.publication}
        self.rcur.start_replication(
            slot_name=o.slot,
            decode=o.plugin != "pgoutput",
            options=opts,
            status_interval=o.status_interval_s,
        )

    def poll(self, max_events, timeout):
        if self.snapshot_events:
            out, self.snapshot_events = self.snapshot_events, []
            return out
        deadline = time.monotonic() + timeout
        out: list[RawEvent] = []
        while len(out) < max_events:
            msg = self.rcur.read_message()
            if msg is None:
                left = deadline - time.monotonic()
                if left <= 0 or out:
                    break
                select.select([self.rcur], [], [], min(left, 0.05))
                continue
            ev = self.decoder(msg.payload)
            if ev is None:
                continue
            if ev[0] == "B":
                self.tx, self.tx_id = [], ev[1]
            elif ev[0] == "X":
                if ev[1] == self.options.schema_:  # a slot sees the whole database
                    self.tx.append(ev)
            elif ev[0] == "C":
                commit_lsn, ts = msg.data_start, ev[1] or int(time.time() * 1000)
                for i, (_, schema, table, op, before, after) in enumerate(self.tx):
                    env = {
                        "before": before,
                        "after": after,
                        "op": op,
                        "ts_ms": int(time.time() * 1000),
                        "source": {
                            "connector": "postgresql",
                            "schema": schema,
                            "table": table,
                            "txId": self.tx_id,
                            "lsn": commit_lsn,
                            "ts_ms": ts,
                        },
                    }
                    out.append(RawEvent(commit_lsn, i, f"{int_to_lsn(commit_lsn)}:{i}", dumps(env)))
                self.tx = []
        return out

    def commit(self, position):
        self.rcur.send_feedback(flush_lsn=position[0], reply=True)

    def lag(self):
        return None

    def close(self):
        for c in (getattr(self, "repl", None), getattr(self, "sql", None)):
            try:
                c.close()
            except Exception:  # noqa: S110  closing: a connection that is already gone is closed
                pass


def write_transactions(con, schema: str, transactions: list[list[tuple]], tables: dict) -> None:
    """Apply simulator transactions to PostgreSQL tables (tests, benchmarks, demos)."""
    cur = con.cursor()
    for ops in transactions:
        for table, op, before, after in ops:
            keys = tables[table].primary_key
            if op == "c":
                cols = list(after)
                cur.execute(
                    f'INSERT INTO "{schema}"."{table}" ({", ".join(cols)}) VALUES ({", ".join(["%s"] * len(cols))})',
                    [after[k] for k in cols],
                )
            elif op == "u":
                sets = [k for k in after if after[k] != before.get(k)] or list(after)[:1]
                cur.execute(
                    f'UPDATE "{schema}"."{table}" SET {", ".join(f"{k} = %s" for k in sets)} WHERE '
                    + " AND ".join(f"{k} = %s" for k in keys),
                    [after[k] for k in sets] + [before[k] for k in keys],
                )
            else:
                cur.execute(
                    f'DELETE FROM "{schema}"."{table}" WHERE '
                    + " AND ".join(f"{k} = %s" for k in keys),
                    [before[k] for k in keys],
                )
        con.commit()


def create_tables(con, schema: str, tables: dict) -> None:
    """CREATE the pipeline's tables in PostgreSQL (DuckDB types mapped to PostgreSQL ones)."""
    cur = con.cursor()
    cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    for name, t in tables.items():
        cols = ", ".join(f'"{c}" {_pg_type(typ)}' for c, typ in t.columns.items())
        cur.execute(
            f'CREATE TABLE IF NOT EXISTS "{schema}"."{name}" ({cols}, PRIMARY KEY ({", ".join(t.primary_key)}))'
        )
    con.commit()


def _pg_type(duck: str) -> str:
    d = duck.upper()
    return {
        "TINYINT": "SMALLINT",
        "DOUBLE": "DOUBLE PRECISION",
        "VARCHAR": "TEXT",
        "HUGEINT": "NUMERIC",
    }.get(d, d)

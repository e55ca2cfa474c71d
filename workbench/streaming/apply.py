"""Apply one micro-batch to the warehouse in one DuckDB transaction.

bronze (every event as received) -> parse + validate (vectorised, in DuckDB) -> dead letters for
the bad ones -> silver (last change per key, in commit order; deletes) -> quality gate (failing
rows quarantined, see quality_gate.py) -> gold deltas -> checkpoint. Either all of it commits or none of it does.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa

from .events import RawEvent
from .gold import GoldView
from .quality_gate import QualityGate, ensure_table
from .schema_gate import SchemaGate  # schema gate hook (schema_gate.py)
from .spec import PipelineSpec, TableSpec
from .store import q, silver_name

_TS_TYPES = ("TIMESTAMP", "TIMESTAMPTZ")


@dataclass
class BatchResult:
    events: int = 0
    applied: int = 0
    dead_letters: int = 0
    position: tuple[int, int] | None = None
    position_text: str | None = None
    commit_ts: float = 0.0
    latencies: np.ndarray = field(default_factory=lambda: np.empty(0))
    seconds: float = 0.0
    max_source_ts_ms: int | None = None
    quarantined: int = 0  # quality gate: rows of this batch that failed a check
    released: int = 0  # quality gate: quarantine entries closed (passed, deleted or superseded)
    batch_id: str | None = None


def _typed(col: str, typ: str) -> tuple[str, str]:
    """(typed SQL, raw text SQL) for one column of the parsed image struct `v`."""
    raw = f"v.{q(col)}"
    t = typ.upper().strip()
    if t in _TS_TYPES or t == "DATE":
        # Debezium sends epoch ms (Timestamp) or µs (MicroTimestamp), days for dates; ISO text otherwise
        num = f"TRY_CAST({raw} AS BIGINT)"
        epoch = (
            f"(DATE '1970-01-01' + {num}::INTEGER)"
            if t == "DATE"
            else f"(CASE WHEN abs({num}) > 100000000000000 THEN make_timestamp({num}) "
            f"ELSE make_timestamp({num} * 1000) END)::{t}"
        )
        typed = f"coalesce(TRY_CAST({raw} AS {t}), CASE WHEN {num} IS NOT NULL THEN {epoch} END)"
    elif t == "JSON":
        typed = raw
    else:
        typed = f"TRY_CAST({raw} AS {t})"
    return typed, raw


class BatchApplier:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        spec: PipelineSpec,
        pipeline: str,
        views: list[GoldView],
    ):
        self.con, self.spec, self.pipeline, self.views = con, spec, pipeline, views
        st = spec.storage
        self.bronze, self.dlq, self.ckpt = (
            q(st.bronze_table),
            q(st.dead_letter_table),
            q(st.checkpoint_table),
        )
        # names in events -> spec tables (a bare name, schema.table and the spec's source_name)
        self.names: dict[str, str] = {}
        for name, t in spec.tables.items():
            self.names[(t.source_name or name).split(".")[-1]] = name
        self._table_sql = {name: self._table_select(name, t) for name, t in spec.tables.items()}
        # apply order: tables referenced by views' tracked joins first does not matter for
        # correctness (contributions are taken before and after all tables are applied)
        self.order = list(spec.tables)
        # quality gate (optional `quality:` section)
        self.gate = QualityGate(spec, pipeline)
        ensure_table(con, spec)
        self.schema_gate = SchemaGate(
            spec, pipeline
        )  # schema gate hook: registered columns per table
        self._threads_before: int | None = None  # the instance's thread count while batches run

    # -- SQL builders --------------------------------------------------------------------------
    def _table_select(self, name: str, t: TableSpec) -> str:
        # typed values and raw texts are computed once in an inner query and the reasons refer to
        # them by name: repeating the cast expressions doubled the planning time, which is most of
        # a small batch's cost
        inner, reasons = [], []
        for col, typ in t.columns.items():
            tsql, raw = _typed(col, typ)
            r, c = q(f"__raw_{col}"), q(col)
            inner.append(f"{tsql} AS {c}, {raw} AS {r}")
            is_key = col in t.primary_key
            if is_key:
                reasons.append(f"CASE WHEN {r} IS NULL THEN 'missing key column {col}' END")
            guard = "" if is_key else "op <> 'd' AND "
            reasons.append(
                f"CASE WHEN {guard}{r} IS NOT NULL AND {c} IS NULL THEN "
                f"'wrong type for {col} (expected {typ}): ' || left({r}, 80) END"
            )
        shape = "{" + ", ".join(f'"{c}": "VARCHAR"' for c in t.columns) + "}"
        reason = (
            f"CASE WHEN img IS NULL OR json_type(img) <> 'OBJECT' THEN "
            f"CASE WHEN op = 'd' THEN 'delete without a before image' ELSE 'missing after image' END "
            f"ELSE nullif(concat_ws('; ', {', '.join(reasons)}), '') END"
        )
        cols = ", ".join(q(c) for c in t.columns)
        # only the batch row number `i` travels on: a dead letter's payload is joined back from _ev
        return (
            f"SELECT i, hi, lo, op, {cols}, {reason} AS reason "
            f"FROM (SELECT i, hi, lo, op, img, {', '.join(inner)} "
            f"FROM (SELECT i, hi, lo, op, img, try(from_json(img, '{shape}')) AS v FROM "
            f"(SELECT i, hi, lo, op, CASE WHEN op = 'd' THEN before ELSE after END AS img "
            f"FROM _ev WHERE reason IS NULL AND tname = '{name}')))"
        )

    # -- the batch ------------------------------------------------------------------------------
    def apply(self, events: list[RawEvent], checkpoint: tuple[int, int] | None) -> BatchResult:
        """One micro-batch, in one transaction. `events` are in source commit order with strictly
        increasing positions (the runner drops replays), so (hi, lo) orders them and `i` (their
        index in the batch) identifies them."""
        t0 = time.perf_counter()
        res = BatchResult(events=len(events))
        con = self.con
        last = RawEvent(*events[-1])
        now = dt.datetime.now()
        his, los, positions, payloads = zip(
            *events, strict=True
        )  # one pass over the batch, then columnar
        tbl = pa.table(
            {
                "i": pa.array(np.arange(len(events), dtype=np.int32)),
                # numpy for the integers: pa.array over Python ints costs ~1 µs an element, fromiter 2% of that
                "hi": pa.array(np.fromiter(his, np.int64, len(his))),
                "lo": pa.array(np.fromiter(los, np.int64, len(los))),
                "position": pa.array(positions, pa.string()),
                "payload": pa.array(payloads, pa.string()),
            }
        )
        b = self.spec.batch
        if b.threads is not None and len(events) < b.threads_below:
            if self._threads_before is None:
                # the setting is the whole instance's: restore_threads() puts it back for a large
                # batch and when the runner is idle or stops (not after every small batch:
                # relaunching DuckDB's workers costs ~10 ms)
                self._threads_before = int(
                    con.execute("SELECT current_setting('threads')").fetchall()[0][0]
                )
                if self._threads_before != b.threads:
                    con.execute(f"SET threads = {int(b.threads)}")
        else:
            self.restore_threads()  # a large batch: DuckDB's parallel operators pay off
        return self._apply(events, tbl, last, now, res, t0)

    def restore_threads(self) -> None:
        """Give the DuckDB instance its own thread count back (see BatchSpec.threads)."""
        if self._threads_before is not None:
            if self._threads_before != self.spec.batch.threads:
                self.con.execute(f"SET threads = {self._threads_before}")
            self._threads_before = None

    def _apply(self, events, tbl, last, now, res, t0) -> BatchResult:
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            con.register("_raw", tbl)
            names = ", ".join(f"('{k}', '{v}')" for k, v in self.names.items())
            env = (
                '{"op": "VARCHAR", "before": "JSON", "after": "JSON", "payload": "JSON", '
                '"source": {"table": "VARCHAR", "schema": "VARCHAR", "txId": "VARCHAR", "ts_ms": "VARCHAR"}}'
            )
            # one vectorised parse of the whole batch (no ORDER BY: the batch already is in position
            # order and nothing below depends on the physical order of _ev)
            con.execute(
                f"""CREATE OR REPLACE TEMP TABLE _ev AS
              WITH p AS (SELECT i, hi, lo, position, payload, starts_with(ltrim(payload), '{{') AS is_obj FROM _raw),
              ps AS (SELECT *, CASE WHEN is_obj THEN try(from_json(payload, '{env}')) END AS s FROM p),
              -- the JSON converter with schemas wraps the envelope in {{"schema": ..., "payload": ...}}
              e AS (SELECT i, hi, lo, position, payload, is_obj,
                           CASE WHEN s.op IS NULL AND s.payload IS NOT NULL THEN try(from_json(s.payload, '{env}'))
                                ELSE s END AS ev
                    FROM ps),
              g AS (SELECT i, hi, lo, position, payload, is_obj, ev IS NULL AS unparsed, ev.op AS op,
                           ev.source.table AS source_table, ev.source.schema AS source_schema,
                           ev.before AS before, ev.after AS after, ev.source.txId AS tx_id,
                           TRY_CAST(ev.source.ts_ms AS BIGINT) AS source_ts_ms
                    FROM e)
              SELECT g.*, m.tname, ?::TIMESTAMP AS received_at,
                CASE WHEN unparsed AND NOT json_valid(payload) THEN 'malformed JSON'
                     WHEN NOT is_obj THEN 'not a change event: the JSON is not an object'
                     WHEN unparsed THEN 'not a Debezium envelope (source must be an object)'
                     WHEN op IS NULL THEN 'missing op'
                     WHEN op NOT IN ('c', 'u', 'd', 'r') THEN 'unknown op ' || op
                     WHEN source_table IS NULL THEN 'missing source.table'
                     WHEN m.tname IS NULL THEN 'unknown table ' || coalesce(source_schema || '.', '') || source_table
                END AS reason
              FROM g LEFT JOIN (VALUES {names}) m(alias, tname) ON m.alias = g.source_table""",
                [now],
            )
            con.unregister("_raw")
            # schema gate hook (schema_gate.py): records compatible changes for approval, raises on a
            # breaking one (the batch is rolled back, the checkpoint stays)
            self.schema_gate.check(con)
            if self.spec.storage.bronze:
                con.execute(
                    f"INSERT INTO {self.bronze} SELECT '{self.pipeline}', hi, lo, position, received_at, "
                    f"coalesce(tname, source_table), op, tx_id, source_ts_ms, payload FROM _ev"
                )
            # envelope-level dead letters, and which tables the good events touch, in one scan
            # (and the source commit times of the good events, for the latencies: one statement less)
            dead, present, ts = con.execute(
                "SELECT count(*) FILTER (WHERE reason IS NOT NULL), "
                "list(DISTINCT tname) FILTER (WHERE reason IS NULL), "
                "list(source_ts_ms) FILTER (WHERE reason IS NULL AND source_ts_ms IS NOT NULL) FROM _ev"
            ).fetchall()[0]
            ts = np.array(ts or (), dtype=np.int64)
            dead = int(dead)
            if dead:
                con.execute(
                    f"INSERT INTO {self.dlq} SELECT '{self.pipeline}', hi, lo, position, received_at, "
                    f"source_table, reason, payload FROM _ev WHERE reason IS NOT NULL ORDER BY i"
                )
            present = set(present or ())
            changed: dict[str, str] = {}
            for name in self.order:
                if name not in present:
                    continue
                t = self.spec.tables[name]
                keys = ", ".join(q(k) for k in t.primary_key)
                cols = ", ".join(q(c) for c in t.columns)
                # last change per key wins: positions order the batch's changes (source commit order).
                # The winner is flagged in the same statement as the parse (`keep`) and the readers
                # below filter on it: a separate table of winners cost one more statement per table,
                # and a statement's fixed cost (planning) is most of a small batch's cost
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _t_{name} AS SELECT *, reason IS NULL AND "
                    f"row_number() OVER (PARTITION BY reason IS NULL, {keys} ORDER BY hi DESC, lo DESC) = 1 "
                    f"AS keep FROM ({self._table_sql[name]})"
                )
                changed[name] = f"(SELECT op, {cols}, hi, lo FROM _t_{name} WHERE keep)"
            if changed:
                # row-level dead letters of all tables in one statement
                rows = " UNION ALL ".join(
                    f"SELECT i, reason FROM _t_{name} WHERE reason IS NOT NULL" for name in changed
                )
                dead += con.execute(
                    f"INSERT INTO {self.dlq} SELECT '{self.pipeline}', e.hi, e.lo, e.position, e.received_at, "
                    f"e.source_table, t.reason, e.payload FROM ({rows}) t JOIN _ev e ON e.i = t.i "
                    f"ORDER BY t.i"
                ).fetchall()[0][0]
            # gold: contributions of affected rows before the batch (views sharing a fact table and
            # its tracked joins share one affected-keys table)
            plans: list[tuple[str, GoldView, str]] = []
            affected: dict[str, str] = {}
            snapshots: dict[tuple[str, str], str] = {}
            for v in self.views:
                aff = v.affected_sql(changed)
                if aff is None:
                    continue
                if aff not in affected:
                    direct = v.fact in changed and aff == v.affected_sql({v.fact: changed[v.fact]})
                    if (
                        direct
                    ):  # only the fact table's own changes: their keys, inline (no statement)
                        affected[aff] = f"({aff})"
                    else:
                        affected[aff] = f"_aff_{len(affected)}"
                        con.execute(f"CREATE OR REPLACE TEMP TABLE {affected[aff]} AS {aff}")
                i = len(plans)
                if v.snapshots:
                    # the affected fact rows, copied once for all the views over them; each view's
                    # 'before' is then aggregated inside its MERGE (fewer statements per batch)
                    snap = snapshots.get((v.fact, aff))
                    if snap is None:
                        snap = snapshots[(v.fact, aff)] = f"_pre_{len(snapshots)}"
                        con.execute(
                            f"CREATE OR REPLACE TEMP TABLE {snap} AS {v.snapshot_sql(affected[aff])}"
                        )
                    old = f"({v.snapshot_contributions_sql(snap, '-')})"
                else:
                    old = f"_old_{i}"
                    con.execute(
                        f"CREATE OR REPLACE TEMP TABLE {old} AS {v.contributions_sql(affected[aff], '-')}"
                    )
                plans.append((old, v, affected[aff]))
            # silver
            for name, ctab in changed.items():
                t = self.spec.tables[name]
                s = q(silver_name(self.spec, name))
                on = " AND ".join(f"s.{q(k)} = c.{q(k)}" for k in t.primary_key)
                cols = ", ".join(q(c) for c in t.columns)
                con.execute(f"DELETE FROM {s} AS s USING {ctab} AS c WHERE {on}")
                con.execute(f"INSERT INTO {s} SELECT {cols}, hi, lo FROM {ctab} WHERE op <> 'd'")
            # quality gate: judge the batch's changed rows, after silver and before gold's 'after'
            res.batch_id = uuid.uuid4().hex[:16]
            for name, ctab in changed.items():
                if self.gate.enabled(name):
                    nq, nr = self.gate.apply(con, name, ctab, res.batch_id, last.position, now)
                    res.quarantined += nq
                    res.released += nr
            # gold: contributions after, minus before, merged in one statement per view
            for old, v, aff in plans:
                v.merge_delta(con, old, f"({v.contributions_sql(aff)})")
            res.dead_letters = int(dead)
            res.applied = len(events) - res.dead_letters
            res.position, res.position_text = (last.hi, last.lo), last.position
            # an UPDATE of the pipeline's row (there after its first batch) plans faster than the upsert
            done = con.execute(
                f"UPDATE {self.ckpt} SET pos_hi = ?, pos_lo = ?, position = ?, committed_at = ?, "
                f"events = events + ?, batches = batches + 1, dead_letters = dead_letters + ? WHERE pipeline = ?",
                [
                    last.hi,
                    last.lo,
                    last.position,
                    now,
                    len(events),
                    res.dead_letters,
                    self.pipeline,
                ],
            ).fetchall()[0][0]
            if not done:
                con.execute(
                    f"""INSERT INTO {self.ckpt} VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                    ON CONFLICT (pipeline) DO UPDATE SET pos_hi = excluded.pos_hi, pos_lo = excluded.pos_lo,
                    position = excluded.position, committed_at = excluded.committed_at,
                    events = {self.ckpt}.events + excluded.events, batches = {self.ckpt}.batches + 1,
                    dead_letters = {self.ckpt}.dead_letters + excluded.dead_letters""",
                    [
                        self.pipeline,
                        last.hi,
                        last.lo,
                        last.position,
                        now,
                        len(events),
                        res.dead_letters,
                    ],
                )
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except Exception:  # noqa: S110  the batch's own error is re-raised; a failed ROLLBACK must not mask it
                pass
            raise
        res.commit_ts = time.time()
        if len(ts):
            res.latencies = np.maximum(res.commit_ts - ts.astype(np.float64) / 1000.0, 0.0)
            res.max_source_ts_ms = int(ts.max())
        res.seconds = time.perf_counter() - t0
        return res

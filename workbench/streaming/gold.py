"""Gold views: sums and counts over silver, maintained from each batch's changes.

For a batch, the *affected* rows of a view's fact table are the rows the batch touched plus the
rows that join to a touched row of another silver table. The view's delta is

    contributions(affected rows, silver after the batch) - contributions(affected rows, before)

grouped like the view and added to the gold table; groups whose row count drops to 0 are
removed. Sums and counts are exact under that rule, so gold always equals a full recompute
(`recompute_sql`) of the same silver state.
"""

from __future__ import annotations

import duckdb

from . import quality_gate
from .spec import GoldSpec, PipelineSpec


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class GoldView:
    def __init__(self, spec: GoldSpec, pipeline: PipelineSpec):
        self.spec, self.pipeline = spec, pipeline
        self.name = spec.name
        self.fact = spec.from_
        self.fact_table = pipeline.storage.silver_prefix + self.fact
        self.pk = pipeline.tables[self.fact].primary_key
        self.group_cols: list[tuple[str, str]] = []
        if spec.time:
            self.group_cols.append(
                (spec.time.name, f"date_trunc('{spec.time.grain}', {self._col(spec.time.column)})")
            )
        self.group_cols += [(n, self._col(e)) for n, e in spec.dimensions.items()]
        self.tracked = [j for j in spec.joins if not j.reference]
        # quality gate: silver rows with an active quarantine entry contribute nothing (inner joins,
        # so a quarantined joined row drops the combined row too)
        self.gate = [
            c
            for c in [quality_gate.exclusion_sql(pipeline, self.fact, self.fact)]
            + [
                quality_gate.exclusion_sql(pipeline, j.table, j.alias or j.table)
                for j in self.tracked
            ]
            if c
        ]

    def _col(self, expr: str) -> str:
        """A bare column name refers to the fact table."""
        e = expr.strip()
        return f"{_q(self.fact)}.{_q(e)}" if e.isidentifier() else e

    def tables(self) -> set[str]:
        return {self.fact} | {j.table for j in self.tracked}

    def _from(self, restrict: str | None) -> str:
        sql = f"{_q(self.fact_table)} AS {_q(self.fact)}"
        if restrict:
            on = " AND ".join(f"{_q(self.fact)}.{_q(k)} = _aff.{_q(k)}" for k in self.pk)
            sql += f" JOIN {restrict} AS _aff ON {on}"
        for j in self.spec.joins:
            alias = j.alias or j.table
            table = j.table if j.reference else self.pipeline.storage.silver_prefix + j.table
            on = " AND ".join(f"{self._col(a)} = {_q(alias)}.{_q(b)}" for a, b in j.on.items())
            sql += f" JOIN {_q(table)} AS {_q(alias)} ON {on}"
        return sql

    def _select(self, sign: str = "") -> str:
        parts = [f"{e} AS {_q(n)}" for n, e in self.group_cols]
        for n, m in self.spec.measures.items():
            val = "1" if m.agg == "count" else m.expr
            val = f"CASE WHEN {m.filter} THEN {val} END" if m.filter else val
            parts.append(f"{sign}coalesce(sum({val}), 0) AS {_q(n)}")
        parts.append(f"{sign}count(*) AS _rows")
        return ", ".join(parts)

    def _group(self) -> str:
        return f" GROUP BY {', '.join(e for _, e in self.group_cols)}" if self.group_cols else ""

    def _where(self) -> str:
        conds = ([f"({self.spec.where})"] if self.spec.where else []) + self.gate
        return f" WHERE {' AND '.join(conds)}" if conds else ""

    def recompute_sql(self) -> str:
        return f"SELECT {self._select()} FROM {self._from(None)}{self._where()}{self._group()}"

    def contributions_sql(self, affected: str, sign: str = "") -> str:
        return (
            f"SELECT {self._select(sign)} FROM {self._from(affected)}{self._where()}{self._group()}"
        )

    @property
    def snapshots(self) -> bool:
        """Whether the 'before' contributions can come from a snapshot of the affected fact rows
        (a view without joins): views sharing the fact table then share one snapshot statement
        instead of one contributions statement each (see snapshot_sql)."""
        return not self.spec.joins

    def snapshot_sql(self, affected: str) -> str:
        """The affected fact rows as they are (not quarantined), to be taken before the batch."""
        gate = f" WHERE {self.gate[0]}" if self.gate else ""
        return f"SELECT {_q(self.fact)}.* FROM {self._from(affected)}{gate}"

    def snapshot_contributions_sql(self, snapshot: str, sign: str = "") -> str:
        """contributions_sql over a snapshot_sql table (the quarantine rule is already applied)."""
        where = f" WHERE ({self.spec.where})" if self.spec.where else ""
        return (
            f"SELECT {self._select(sign)} FROM {snapshot} AS {_q(self.fact)}{where}{self._group()}"
        )

    def affected_sql(self, changed: dict[str, str]) -> str | None:
        """Keys of fact rows to re-evaluate; `changed` maps table -> temp table of its batch keys."""
        keys = ", ".join(_q(k) for k in self.pk)
        parts = []
        if self.fact in changed:
            parts.append(f"SELECT {keys} FROM {changed[self.fact]}")
        for j in self.tracked:
            if j.table not in changed:
                continue
            if not all(a.strip().isidentifier() for a in j.on):
                continue  # chained joins are re-evaluated only through their own fact changes
            on = " AND ".join(f"f.{_q(a)} = c.{_q(b)}" for a, b in j.on.items())
            fkeys = ", ".join(f"f.{_q(k)}" for k in self.pk)
            parts.append(
                f"SELECT {fkeys} FROM {_q(self.fact_table)} f JOIN {changed[j.table]} c ON {on}"
            )
        return " UNION ".join(parts) if parts else None

    # -- maintenance ------------------------------------------------------------------------
    def create(self, con: duckdb.DuckDBPyConnection) -> None:
        quality_gate.ensure_table(con, self.pipeline)  # the recompute reads the quarantine table
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND schema_name = current_schema()",
            [self.name],
        ).fetchall()[0][0]
        if not exists:
            con.execute(f"CREATE TABLE {_q(self.name)} AS {self.recompute_sql()}")

    def merge_delta(self, con: duckdb.DuckDBPyConnection, old: str, new: str) -> None:
        """Add (new - old) to the gold table in one MERGE: `old` holds the negated contributions
        from before the batch, `new` (a table or a parenthesised query) those after. A group whose
        row count reaches 0 is removed; groups with no change are left untouched."""
        gcols = [n for n, _ in self.group_cols]
        mcols = list(self.spec.measures) + ["_rows"]
        g = ", ".join(_q(c) for c in gcols)
        sums = ", ".join(f"sum({_q(c)}) AS {_q(c)}" for c in mcols)
        delta = (
            f"SELECT {g + ', ' if g else ''}{sums} FROM (SELECT * FROM {new} UNION ALL SELECT * FROM {old}) "
            f"{'GROUP BY ' + g if g else ''}"
        )
        match = " AND ".join(f"t.{_q(c)} IS NOT DISTINCT FROM d.{_q(c)}" for c in gcols) or "TRUE"
        sets = ", ".join(f"{_q(c)} = t.{_q(c)} + d.{_q(c)}" for c in mcols)
        nonzero = " OR ".join(f"d.{_q(c)} <> 0" for c in mcols)
        allc = gcols + mcols
        con.execute(
            f"MERGE INTO {_q(self.name)} AS t USING ({delta}) AS d ON {match} "
            f"WHEN MATCHED AND t._rows + d._rows = 0 THEN DELETE "
            f"WHEN MATCHED AND ({nonzero}) THEN UPDATE SET {sets} "
            f"WHEN NOT MATCHED AND d._rows <> 0 THEN INSERT ({', '.join(_q(c) for c in allc)}) "
            f"VALUES ({', '.join('d.' + _q(c) for c in allc)})"
        )

    def recompute(self, con: duckdb.DuckDBPyConnection) -> None:
        """Rebuild from silver (repair, or the baseline the benchmark compares against)."""
        con.execute(f"CREATE OR REPLACE TABLE {_q(self.name)} AS {self.recompute_sql()}")


def gold_views(spec: PipelineSpec) -> list[GoldView]:
    return [GoldView(g, spec) for g in spec.gold]

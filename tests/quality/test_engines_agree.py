"""The same suite on Spark (GE's Spark data source) and PostgreSQL gives the DuckDB verdicts,
counts and quarantined keys."""

from __future__ import annotations

import pytest

from tests.support.prerequisites import require_module

from .conftest import NOW


@pytest.mark.spark
@pytest.mark.slow
def test_spark_agrees_with_duckdb(duckdb_run, faulty):
    import workbench.quality as quality

    spark = quality.validate(
        faulty["pristine"], "orders", "spark", now=NOW, store_results=False, data_docs=False
    )
    assert spark.verdicts() == duckdb_run.verdicts()
    assert spark.quarantined_keys() == duckdb_run.quarantined_keys()

    def by_key(r):
        return {
            k: set(c)
            for k, c in zip(r.quarantined.row_key, r.quarantined.failed_checks, strict=True)
        }

    assert by_key(spark) == by_key(duckdb_run)
    assert spark.score.overall == pytest.approx(duckdb_run.score.overall)


@pytest.mark.services
def test_postgres_agrees_with_duckdb(duckdb_run, faulty, skip_or_fail_missing):
    import duckdb

    sa = require_module("sqlalchemy")
    import workbench.quality as quality

    admin = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
    try:
        eng = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.execute(sa.text("DROP DATABASE IF EXISTS workbench_quality_test"))
            c.execute(sa.text("CREATE DATABASE workbench_quality_test"))
        eng.dispose()
    except Exception as e:  # noqa: BLE001
        skip_or_fail_missing(f"PostgreSQL not reachable on 127.0.0.1:5432: {e}")
    url = "postgresql+psycopg2://postgres@127.0.0.1:5432/workbench_quality_test"
    eng = sa.create_engine(url)
    import io

    with duckdb.connect(str(faulty["pristine"]), read_only=True) as con:
        for t in ("orders", "order_lines", "payments"):
            df = con.execute(f"select * from {t}").df()
            df.head(0).to_sql(t, eng, index=False)  # the table, typed by pandas
            buf = io.StringIO()
            df.to_csv(buf, index=False, header=False)
            buf.seek(0)
            raw = eng.raw_connection()  # COPY: seconds, not a minute
            try:
                raw.cursor().copy_expert(f"COPY {t} FROM STDIN WITH (FORMAT csv)", buf)
                raw.commit()
            finally:
                raw.close()
    eng.dispose()
    pg = quality.validate(
        faulty["pristine"],
        "orders",
        "postgres",
        postgres_url=url,
        now=NOW,
        store_results=False,
        data_docs=False,
    )
    assert pg.verdicts() == duckdb_run.verdicts()
    assert pg.quarantined_keys() == duckdb_run.quarantined_keys()

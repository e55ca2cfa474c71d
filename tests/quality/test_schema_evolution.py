"""Schema evolution: detection, classification, migration SQL, the registry and the gate.
Expectations are worked out by hand from the small tables below."""

from __future__ import annotations

import duckdb
import pytest

from workbench.quality.cleansing.approval import ApprovalError, RoleRequiredError
from workbench.quality.schema import proposals
from workbench.quality.schema.evolution import (
    detect_changes,
    migration_sql,
    widens,
)
from workbench.quality.schema.gate import SchemaDriftError, load_batch
from workbench.quality.schema.registry import (
    ColumnSpec,
    SchemaRegistry,
    load_version,
    schema_of_table,
)
from workbench.security.principal import Principal
from workbench.semantic.errors import ModelError

STEWARD = Principal.of("sam", ["data_steward"])
ANALYST = Principal.of("ann", ["analyst"])


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute(
        "CREATE TABLE customers (customer_id INTEGER, email VARCHAR, segment VARCHAR, "
        "spend DECIMAL(12,2), signup_at TIMESTAMP)"
    )
    c.execute(
        "INSERT INTO customers VALUES (1, 'a@x', 'consumer', 10.50, '2024-01-01 10:00'), "
        "(2, 'b@x', NULL, 20.00, '2024-02-01 11:00')"
    )
    yield c
    c.close()


@pytest.fixture
def registry(tmp_path, con):
    reg = SchemaRegistry(tmp_path / "schemas")
    reg.register_table(con, "customers", key=["customer_id"], by="sam")
    return reg


@pytest.mark.parametrize(
    "src,dst,expected",
    [
        ("INTEGER", "BIGINT", True),
        ("BIGINT", "INTEGER", False),
        ("SMALLINT", "INTEGER", True),
        ("INTEGER", "DECIMAL(10,0)", True),
        ("INTEGER", "DECIMAL(12,3)", False),  # 9 integer digits < 10
        ("DECIMAL(12,2)", "DECIMAL(18,4)", True),
        ("DECIMAL(12,2)", "DECIMAL(12,3)", False),
        ("DECIMAL(12,2)", "DOUBLE", False),
        ("DOUBLE", "DECIMAL(12,2)", False),
        ("INTEGER", "DOUBLE", True),
        ("BIGINT", "DOUBLE", False),
        ("FLOAT", "DOUBLE", True),
        ("DATE", "TIMESTAMP", True),
        ("TIMESTAMP", "DATE", False),
        ("INTEGER", "VARCHAR", True),
        ("VARCHAR", "INTEGER", False),
        ("int", "INTEGER", True),
    ],
)
def test_widening_rules(src, dst, expected):
    assert widens(src, dst) is expected


def test_registry_infers_required_columns_from_data(registry):
    v1 = registry.get("customers")
    assert v1.version == 1 and v1.key == ["customer_id"] and v1.registered_by == "sam"
    assert [(c.name, c.type, c.nullable) for c in v1.columns] == [
        ("customer_id", "INTEGER", False),
        ("email", "VARCHAR", False),
        ("segment", "VARCHAR", True),
        ("spend", "DECIMAL(12,2)", False),
        ("signup_at", "TIMESTAMP", False),
    ]
    text = registry.path("customers", 1).read_text()
    assert "- {name: segment, type: VARCHAR, nullable: true}" in text  # one line per column


def test_each_kind_of_change_is_detected_and_classified(registry):
    base = registry.get("customers")
    incoming = [
        ColumnSpec(name="customer_id", type="BIGINT"),  # widened: backward
        ColumnSpec(name="email_address", type="VARCHAR"),  # rename of email: breaking
        ColumnSpec(name="spend", type="DOUBLE"),  # money to float: breaking
        ColumnSpec(name="signup_at", type="DATE"),  # narrower: forward (CAST)
        ColumnSpec(name="tier", type="VARCHAR"),
    ]  # new: backward
    diff = detect_changes(base, incoming)  # segment missing: forward
    got = {(c.kind, c.column, c.compatibility) for c in diff.changes}
    assert got == {
        ("retyped", "customer_id", "backward"),
        ("renamed", "email_address", "breaking"),
        ("retyped", "spend", "breaking"),
        ("retyped", "signup_at", "forward"),
        ("added", "tier", "backward"),
        ("removed", "segment", "forward"),
    }
    assert diff.compatibility == "breaking"
    assert [c.column for c in diff.breaking] == ["spend", "email_address"]
    as_text = detect_changes(
        base, [*base.columns[:4], ColumnSpec(name="signup_at", type="VARCHAR")]
    )
    assert [(c.column, c.compatibility) for c in as_text.changes] == [("signup_at", "breaking")]
    renamed = next(c for c in diff.changes if c.kind == "renamed")
    assert renamed.old_name == "email"


def test_removing_a_required_column_is_breaking_and_renames_can_be_declared(registry):
    base = registry.get("customers")
    cols = [c for c in base.columns if c.name != "email"] + [
        ColumnSpec(name="mail", type="VARCHAR")
    ]
    plain = detect_changes(base, cols)  # 'mail' vs 'email': ratio 0.89, same type -> rename
    assert [(c.kind, c.column) for c in plain.changes] == [("renamed", "mail")]
    cols2 = [c for c in base.columns if c.name != "email"] + [
        ColumnSpec(name="contact", type="VARCHAR")
    ]
    diff = detect_changes(base, cols2[:1] + cols2[1:])  # same position? no: appended, not similar
    assert {(c.kind, c.column, c.compatibility) for c in diff.changes} == {
        ("removed", "email", "breaking"),
        ("added", "contact", "backward"),
    }
    hinted = detect_changes(base, cols2, renames={"email": "contact"})
    assert [(c.kind, c.old_name, c.column) for c in hinted.changes] == [
        ("renamed", "email", "contact")
    ]


def test_migration_sql_is_generated_with_quoted_identifiers(registry):
    base = registry.get("customers")
    incoming = [
        ColumnSpec(name="customer_id", type="BIGINT"),
        ColumnSpec(name="e-mail", type="VARCHAR"),
        *[c for c in base.columns if c.name not in ("customer_id", "email")],
        ColumnSpec(name='we"ird; DROP TABLE x', type="INTEGER"),
    ]
    diff = detect_changes(base, incoming, renames={"email": "e-mail"})
    assert diff.migration_sql() == [
        'ALTER TABLE "customers" RENAME COLUMN "email" TO "e-mail"',
        'ALTER TABLE "customers" ALTER COLUMN "customer_id" SET DATA TYPE BIGINT USING CAST("customer_id" AS BIGINT)',
        'ALTER TABLE "customers" ADD COLUMN "we""ird; DROP TABLE x" INT',
    ]
    assert migration_sql("my table", []) == []


def test_the_migration_runs_on_duckdb(con, registry):
    base = registry.get("customers")
    incoming = [
        ColumnSpec(name="customer_id", type="BIGINT"),
        *base.columns[1:],
        ColumnSpec(name="tier", type="VARCHAR"),
    ]
    for stmt in detect_changes(base, incoming).migration_sql():
        con.execute(stmt)
    assert [(c.name, c.type) for c in schema_of_table(con, "customers")][0] == (
        "customer_id",
        "BIGINT",
    )
    assert con.execute("SELECT count(tier), count(*) FROM customers").fetchone() == (0, 2)


def test_a_breaking_batch_stops_the_stage_and_writes_nothing(con, registry):
    con.execute(
        "CREATE TABLE batch AS SELECT 3 AS customer_id, 'c@x' AS email_address, "
        "'consumer' AS segment, 1.5::DOUBLE AS spend, TIMESTAMP '2024-03-01' AS signup_at"
    )
    with pytest.raises(SchemaDriftError) as e:
        load_batch(con, registry, "customers", "batch", stage="silver", principal=ANALYST)
    msg = str(e.value)
    assert "stopped stage 'silver' for table 'customers'" in msg
    assert "column 'email' renamed to 'email_address'" in msg
    assert "retyped DECIMAL(12,2) -> DOUBLE: breaking" in msg
    assert "Nothing was written" in msg and "proposal #1" in msg
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (2,)
    p = proposals.get(con, 1)
    assert (
        p["status"] == "proposed" and p["proposed_by"] == "ann" and p["compatibility"] == "breaking"
    )


def test_a_compatible_batch_loads_with_casts(con, registry):
    con.execute(
        "CREATE TABLE batch AS SELECT 3::SMALLINT AS customer_id, 'c@x' AS email, "
        "1.25::DECIMAL(6,2) AS spend, TIMESTAMP '2024-03-01 09:00' AS signup_at, 'gold' AS tier"
    )
    report = load_batch(con, registry, "customers", "batch")
    assert report.rows == 1
    assert con.execute("SELECT * FROM customers WHERE customer_id = 3").fetchone()[:4] == (
        3,
        "c@x",
        None,
        pytest.approx(1.25),
    )
    assert any("'tier' not loaded" in n for n in report.notes)
    assert report.proposal_id is not None


def test_a_value_that_does_not_fit_rolls_the_load_back(con, registry):
    # BIGINT arriving for INTEGER is backward-compatible as a schema, but 2**40 does not fit
    # the registered INTEGER: the strict CAST fails and nothing is written.
    con.execute(
        "CREATE TABLE batch AS SELECT * REPLACE (CAST(customer_id AS BIGINT) AS customer_id) "
        "FROM customers UNION ALL SELECT 1099511627776, 'z@x', NULL, 1.00, TIMESTAMP '2024-01-01'"
    )
    with pytest.raises(SchemaDriftError, match="does not fit the registered type"):
        load_batch(con, registry, "customers", "batch")
    assert con.execute("SELECT count(*) FROM customers").fetchone() == (2,)


def test_proposal_approval_needs_a_role_and_applying_registers_version_2(con, registry):
    con.execute("CREATE TABLE batch AS SELECT *, 'gold' AS tier FROM customers")
    pid = load_batch(con, registry, "customers", "batch").proposal_id
    with pytest.raises(RoleRequiredError, match="ann .*analyst.* may not approve"):
        proposals.approve(con, pid, ANALYST)
    with pytest.raises(ApprovalError, match="must be approved first"):
        proposals.apply(con, pid, registry, STEWARD)
    decided = proposals.approve(con, pid, STEWARD, note="tier comes from the loyalty system")
    assert decided["decided_by"] == "sam" and decided["decided_at"] is not None
    v2 = proposals.apply(con, pid, registry, STEWARD)
    assert v2.version == 2 and v2.names[-1] == "tier" and v2.column("tier").nullable
    assert [(c.kind, c.column) for c in v2.changes] == [("added", "tier")]
    assert v2.migration == ['ALTER TABLE "customers" ADD COLUMN "tier" TEXT']
    assert "tier" in [c.name for c in schema_of_table(con, "customers")]
    assert [h["version"] for h in registry.history("customers")] == [1, 2]
    assert proposals.pending(con).empty
    # the same batch now passes with no change at all
    assert not load_batch(con, registry, "customers", "batch").diff


def test_rejected_proposals_leave_the_table_alone(con, registry):
    con.execute("CREATE TABLE batch AS SELECT *, 'gold' AS tier FROM customers")
    pid = load_batch(con, registry, "customers", "batch").proposal_id
    assert proposals.reject(con, pid, STEWARD)["status"] == "rejected"
    with pytest.raises(ApprovalError):
        proposals.apply(con, pid, registry, STEWARD)
    assert "tier" not in [c.name for c in schema_of_table(con, "customers")]


def test_registry_file_errors_name_file_line_and_field(tmp_path):
    folder = tmp_path / "orders"
    folder.mkdir()
    bad = folder / "v0001.yml"
    bad.write_text(
        "table: orders\nversion: 1\ncolumns:\n  - {name: order_id, type: BIGINT}\n"
        "  - {name: amount, type: MONEYZ}\n"
    )
    with pytest.raises(ModelError) as e:
        load_version(bad)
    assert e.value.line == 5 and "MONEYZ" in str(e.value) and str(bad) in str(e.value)
    bad.write_text("table: orders\nversion: 2\ncolumns:\n  - {name: order_id, type: BIGINT}\n")
    with pytest.raises(ModelError, match="does not match the file name") as e:
        load_version(bad)
    assert e.value.line == 2
    bad.write_text(
        "table: orders\nversion: 1\nkey: [id]\ncolumns:\n  - {name: order_id, type: BIGINT}\n"
    )
    with pytest.raises(ModelError, match="key column 'id'") as e:
        load_version(bad)
    assert e.value.line == 3


def test_the_committed_registry_loads(tmp_path):
    from pathlib import Path

    reg = SchemaRegistry(Path(__file__).resolve().parents[2] / "pipelines" / "schemas")
    assert "customers" in reg.tables()
    assert reg.get("customers").key == ["customer_id"]

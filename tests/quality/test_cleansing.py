"""Cleansing rules: every action on a hand-made table, approval workflow, YAML errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from workbench.quality.cleansing import apply_rules, approval
from workbench.quality.cleansing.approval import ApprovalError, RoleRequiredError
from workbench.quality.cleansing.rules import load_rules, load_rules_dir
from workbench.security.principal import Principal
from workbench.semantic.errors import ModelError

STEWARD = Principal.of("sam", ["data_steward"])
ANALYST = Principal.of("ann", ["analyst"])

RULES = """\
table: people
key: [id]
rules:
  - name: trim_name
    action: trim
    columns: [name]
  - name: squash
    action: regex_replace
    columns: [name]
    pattern: '\\s{2,}'
    replacement: ' '
  - name: city_case
    action: standardise_case
    columns: [city]
    case: title
  - name: countries
    action: map_values
    column: country
    ignore_case: true
    mapping: {deutschland: Germany, holland: Netherlands}
  - name: seg_default
    action: fill_default
    column: segment
    value: consumer
    blank_as_missing: true
  - name: amount_type
    action: fix_type
    column: amount
    type: DECIMAL(10,2)
  - name: dedupe
    action: deduplicate
    by: [email]
    ignore_case: true
    survivor: {by: updated_at, keep: latest}
"""


def people(con):
    con.execute(
        "CREATE TABLE people (id INTEGER, name VARCHAR, email VARCHAR, city VARCHAR, "
        "country VARCHAR, segment VARCHAR, amount VARCHAR, updated_at TIMESTAMP)"
    )
    con.execute("""INSERT INTO people VALUES
        (1, '  Ann  Lee ', 'ann@x.org', 'Berlin', 'Deutschland', 'loyalty', '10.5', '2024-01-01'),
        (2, 'Bob', 'bob@x.org', 'new york', 'USA', NULL, '7', '2024-01-02'),
        (3, 'Cy', 'ANN@x.org ', 'BERLIN', 'HOLLAND', '  ', ' 3.25', '2024-03-01'),
        (4, 'Di', NULL, 'paris', 'France', 'business', NULL, '2024-01-04'),
        (5, 'Ed', 'bob@x.org', 'Rome', 'Italy', 'consumer', '1.00', '2023-12-31')""")


@pytest.fixture
def rules_file(tmp_path):
    p = tmp_path / "people.yml"
    p.write_text(RULES)
    return p


@pytest.fixture
def con():
    c = duckdb.connect()
    people(c)
    yield c
    c.close()


def activate_all(con, rs, names=None):
    approval.propose(con, rs, ANALYST)
    for r in rs.rules:
        if names is None or r.name in names:
            approval.approve(con, rs.table, r.name, r.version, STEWARD)
            approval.activate(con, rs.table, r.name, r.version, STEWARD)


def test_every_action_gives_the_hand_computed_table(con, rules_file):
    rs = load_rules(rules_file)
    activate_all(con, rs)
    res = apply_rules(con, rs, STEWARD)
    assert res.output == "people_clean" and (res.rows_in, res.rows_out) == (5, 3)
    got = con.execute(
        "SELECT id, name, email, city, country, segment, CAST(amount AS VARCHAR) "
        "FROM people_clean ORDER BY id"
    ).fetchall()
    # Ann (1) and Cy (3) share an email (case/space-insensitive): Cy is newer and survives;
    # Bob (2) and Ed (5) share one: Bob is newer. Di has no email: never a duplicate.
    assert got == [
        (2, "Bob", "bob@x.org", "New York", "USA", "consumer", "7.00"),
        (3, "Cy", "ANN@x.org ", "Berlin", "Netherlands", "consumer", "3.25"),
        (4, "Di", None, "Paris", "France", "business", None),
    ]
    assert con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'people_clean' "
        "AND column_name = 'amount'"
    ).fetchone() == ("DECIMAL(10,2)",)
    per_rule = {a["rule"]: (a["cells"], a["rows_removed"]) for a in res.applied}
    assert per_rule == {
        "trim_name": (1, 0),
        "squash": (1, 0),
        "city_case": (3, 0),
        "countries": (2, 0),
        "seg_default": (2, 0),
        # '10.5', '7' and ' 3.25' change their text form; '1.00' and NULL do not
        "amount_type": (3, 0),
        "dedupe": (0, 2),
    }
    # the source is untouched
    assert con.execute("SELECT name FROM people WHERE id = 1").fetchone() == ("  Ann  Lee ",)


def test_only_active_rules_apply(con, rules_file):
    rs = load_rules(rules_file)
    approval.propose(con, rs, ANALYST)
    approval.approve(con, "people", "city_case", 1, STEWARD)  # approved, not active
    approval.approve(con, "people", "trim_name", 1, STEWARD)
    approval.activate(con, "people", "trim_name", 1, STEWARD)
    res = apply_rules(con, rs)
    assert [a["rule"] for a in res.applied] == ["trim_name"]
    assert {s["rule"]: s["status"] for s in res.skipped}["city_case"] == "approved"
    assert con.execute("SELECT name, city FROM people_clean WHERE id = 3").fetchone() == (
        "Cy",
        "BERLIN",
    )
    assert con.execute("SELECT name FROM people_clean WHERE id = 1").fetchone() == ("Ann  Lee",)
    approval.retire(con, "people", "trim_name", 1, STEWARD)
    res = apply_rules(con, rs)
    assert res.applied == [] and con.execute(
        "SELECT name FROM people_clean WHERE id = 1"
    ).fetchone() == ("  Ann  Lee ",)


def test_workflow_states_who_and_when_and_roles(con, rules_file):
    rs = load_rules(rules_file)
    assert approval.propose(con, rs, ANALYST, names=["trim_name"]) == [
        {"rule": "trim_name", "version": 1, "status": "proposed"}
    ]
    with pytest.raises(RoleRequiredError, match="needs one of the roles admin, data_steward"):
        approval.approve(con, "people", "trim_name", 1, ANALYST)
    with pytest.raises(RoleRequiredError):
        approval.approve(con, "people", "trim_name", 1, None)
    with pytest.raises(ApprovalError, match="it is proposed"):
        approval.activate(con, "people", "trim_name", 1, STEWARD)
    row = approval.approve(con, "people", "trim_name", 1, Principal.of("root", ["admin"]))
    assert (
        row["status"] == "approved" and row["approved_by"] == "root" and row["proposed_by"] == "ann"
    )
    row = approval.activate(con, "people", "trim_name", 1, STEWARD)
    assert (
        row["status"] == "active"
        and row["activated_by"] == "sam"
        and row["activated_at"] is not None
    )
    with pytest.raises(ApprovalError, match="never proposed"):
        approval.approve(con, "people", "nope", 1, STEWARD)
    events = approval.history(con, "people")
    assert list(events.to_status) == ["proposed", "approved", "active"]


def test_a_new_version_supersedes_and_an_edited_version_is_refused(con, tmp_path):
    p = tmp_path / "people.yml"
    p.write_text(
        "table: people\nkey: [id]\nrules:\n  - {name: c, version: 1, action: standardise_case, "
        "columns: [city], case: upper}\n"
    )
    activate_all(con, load_rules(p))
    p.write_text(
        "table: people\nkey: [id]\nrules:\n  - {name: c, version: 1, action: standardise_case, "
        "columns: [city], case: lower}\n"
    )
    with pytest.raises(ModelError, match="changed since it was active; bump its version") as e:
        approval.propose(con, load_rules(p), ANALYST)
    assert e.value.line == 4
    with pytest.raises(ModelError, match="edited after it was approved"):
        apply_rules(con, load_rules(p))
    p.write_text(p.read_text().replace("version: 1", "version: 2"))
    rs2 = load_rules(p)
    # until v2 is active, the stored v1 (upper) keeps running
    approval.propose(con, rs2, ANALYST)
    apply_rules(con, rs2)
    assert con.execute("SELECT city FROM people_clean WHERE id = 2").fetchone() == ("NEW YORK",)
    approval.approve(con, "people", "c", 2, STEWARD)
    approval.activate(con, "people", "c", 2, STEWARD)
    states = approval.statuses(con, "people").set_index("rule_version")["status"].to_dict()
    assert states == {1: "retired", 2: "active"}
    apply_rules(con, rs2)
    assert con.execute("SELECT city FROM people_clean WHERE id = 2").fetchone() == ("new york",)


def test_a_failing_rule_leaves_no_half_cleansed_table(con, tmp_path):
    con.execute("UPDATE people SET amount = 'ten' WHERE id = 2")
    p = tmp_path / "people.yml"
    p.write_text(
        "table: people\nkey: [id]\nrules:\n  - {name: t, action: trim, columns: [name]}\n"
        "  - name: num\n    action: fix_type\n    column: amount\n    type: DOUBLE\n"
    )
    rs = load_rules(p)
    activate_all(con, rs)
    with pytest.raises(ModelError, match="do not convert to DOUBLE, e.g. 'ten'") as e:
        apply_rules(con, rs)
    assert e.value.line == 8
    assert con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'people_clean'"
    ).fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM cleansing_lineage").fetchone() == (0,)


def test_duplicate_keys_are_refused(con, rules_file):
    con.execute("INSERT INTO people SELECT * FROM people WHERE id = 1")
    rs = load_rules(rules_file)
    with pytest.raises(
        ModelError, match=r"key \(id\) does not identify rows of 'people': 1 duplicated"
    ):
        apply_rules(con, rs)


@pytest.mark.parametrize(
    "body,line,fragment",
    [
        (
            "table: people\nkey: [id]\nrules:\n  - name: x\n    action: shout\n",
            5,
            "unknown action 'shout'",
        ),
        (
            "table: people\nkey: [id]\nrules:\n  - name: x\n    action: trim\n    colums: [name]\n",
            6,
            "unknown field 'colums'",
        ),
        (
            "table: people\nkey: [id]\nrules:\n  - name: x\n    action: standardise_case\n    columns: [city]\n"
            "    case: sideways\n",
            7,
            "case",
        ),
        (
            "table: people\nkey: [id]\nrules:\n  - name: x\n    action: regex_replace\n    columns: [name]\n"
            "    pattern: '(unclosed'\n",
            7,
            "invalid regular expression",
        ),
        (
            "table: people\nkey: [id]\nrules:\n  - {name: x, action: trim, columns: [name]}\n"
            "  - {name: x, action: trim, columns: [city]}\n",
            5,
            "defined twice",
        ),
    ],
)
def test_yaml_errors_name_file_line_and_field(tmp_path, body, line, fragment):
    p = tmp_path / "people.yml"
    p.write_text(body)
    with pytest.raises(ModelError) as e:
        load_rules(p)
    assert e.value.line == line and fragment in str(e.value) and str(p) in str(e.value)


def test_rules_that_name_missing_or_key_columns_are_refused(con, tmp_path):
    p = tmp_path / "people.yml"
    p.write_text(
        "table: people\nkey: [id]\nrules:\n  - name: x\n    action: trim\n    columns: [nme]\n"
    )
    with pytest.raises(
        ModelError, match="column 'nme' is not in table 'people'; did you mean name"
    ) as e:
        apply_rules(con, load_rules(p))
    assert e.value.line == 6
    p.write_text(
        "table: people\nkey: [id]\nrules:\n  - {name: x, action: fill_default, column: id, value: 0}\n"
    )
    with pytest.raises(ModelError, match="would change key column 'id'"):
        apply_rules(con, load_rules(p))
    p.write_text(
        "table: people\nkey: [id]\nrules:\n  - {name: x, action: trim, columns: [updated_at]}\n"
    )
    with pytest.raises(ModelError, match="needs a text column"):
        apply_rules(con, load_rules(p))


def test_values_from_rules_are_bound_not_pasted_into_sql(con, tmp_path):
    p = tmp_path / "people.yml"
    p.write_text(
        textwrap.dedent("""\
        table: people
        key: [id]
        rules:
          - name: evil
            action: map_values
            column: country
            mapping: {"USA": "x'); DROP TABLE people; --"}
        """)
    )
    rs = load_rules(p)
    activate_all(con, rs)
    apply_rules(con, rs)
    assert con.execute("SELECT country FROM people_clean WHERE id = 2").fetchone() == (
        "x'); DROP TABLE people; --",
    )
    assert con.execute("SELECT count(*) FROM people").fetchone() == (5,)


def test_the_committed_rules_load():
    sets = load_rules_dir(Path(__file__).resolve().parents[2] / "pipelines" / "cleansing")
    rs = sets["customers"]
    assert rs.output == "customers_clean" and rs.key == ["customer_id"]
    assert {r.action for r in rs.rules} >= {"trim", "map_values", "deduplicate", "fill_default"}

"""Lineage: which rule version changed which rows, from what; reversal is exact."""

from __future__ import annotations

import duckdb
import pytest

from workbench.quality import lineage
from workbench.quality.cleansing import apply_rules
from workbench.quality.cleansing.approval import RoleRequiredError
from workbench.quality.cleansing.rules import load_rules
from workbench.quality.lineage import LineageError


def _cases():
    # The cleansing tests' table and rules, loaded by path (works with or without a package).
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "_cleansing_cases", Path(__file__).with_name("test_cleansing.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_c = _cases()
ANALYST, RULES, STEWARD, activate_all, people = (
    _c.ANALYST,
    _c.RULES,
    _c.STEWARD,
    _c.activate_all,
    _c.people,
)


@pytest.fixture
def cleansed(tmp_path):
    con = duckdb.connect()
    people(con)
    p = tmp_path / "people.yml"
    p.write_text(RULES)
    rs = load_rules(p)
    activate_all(con, rs)
    res = apply_rules(con, rs, STEWARD)
    yield con, rs, res
    con.close()


def source_as_cleansed_types(con):
    return con.execute("SELECT * FROM people ORDER BY id").fetchall()


def table(con):
    return con.execute("SELECT * FROM people_clean ORDER BY id").fetchall()


def test_changes_list_rows_old_and_new_values(cleansed):
    con, rs, res = cleansed
    got = lineage.changes(con, "city_case")
    assert list(zip(got.row_key, got.column_name, got.old_value, got.new_value, strict=True)) == [
        ('{"id":2}', "city", "new york", "New York"),
        ('{"id":3}', "city", "BERLIN", "Berlin"),
        ('{"id":4}', "city", "paris", "Paris"),
    ]
    assert set(got.rule_version) == {1} and set(got.run_id) == {res.run_id}
    fill = lineage.changes(con, "seg_default")
    fill = fill.astype(object).where(fill.notna(), None)
    assert list(zip(fill.row_key, fill.old_value, fill.new_value, strict=True)) == [
        ('{"id":2}', None, "consumer"),
        ('{"id":3}', "  ", "consumer"),
    ]
    removed = lineage.changes(con, "dedupe")
    assert sorted(set(zip(removed.row_key, removed.note, strict=True))) == [
        ('{"id":1}', '{"id":3}'),
        ('{"id":5}', '{"id":2}'),
    ]
    assert len(removed) == 2 * 8 and set(removed.action) == {"delete"}  # 8 columns per removed row
    summary = lineage.summary(con).set_index("rule_name")
    assert (
        summary.loc["city_case", "rows_updated"] == 3 and summary.loc["dedupe", "rows_removed"] == 2
    )
    assert bool(summary.loc["amount_type", "retyped"])


def test_reversing_a_rule_restores_exactly_its_cells(cleansed):
    con, rs, res = cleansed
    before = table(con)
    out = lineage.reverse(con, "city_case", principal=STEWARD)
    assert out["cells_restored"] == 3
    after = dict((r[0], r) for r in table(con))
    assert (after[2][3], after[3][3], after[4][3]) == ("new york", "BERLIN", "paris")
    # nothing else moved
    assert [r[:3] + r[4:] for r in table(con)] == [r[:3] + r[4:] for r in before]
    assert lineage.changes(con, "city_case").reversed_by.tolist() == ["sam"] * 3
    with pytest.raises(LineageError, match="nothing left to reverse"):
        lineage.reverse(con, "city_case", principal=STEWARD)


def test_reversing_the_dedup_puts_the_removed_rows_back(cleansed):
    con, rs, res = cleansed
    out = lineage.reverse(con, "dedupe", 1, principal=STEWARD)
    assert out["rows_restored"] == 2
    rows = {r[0]: r for r in table(con)}
    assert sorted(rows) == [1, 2, 3, 4, 5]
    # row 1 comes back as it was when the dedupe removed it: after the earlier rules
    assert rows[1][1:6] == ("Ann Lee", "ann@x.org", "Berlin", "Germany", "loyalty")
    assert str(rows[1][6]) == "10.50"
    assert str(rows[5][6]) == "1.00" and str(rows[5][7]) == "2023-12-31 00:00:00"


def test_a_later_rule_on_the_same_cells_blocks_the_reversal(cleansed):
    con, rs, res = cleansed
    with pytest.raises(LineageError, match="'squash' v1"):
        lineage.reverse(con, "trim_name", principal=STEWARD)  # squash rewrote Ann's name after
    with pytest.raises(LineageError, match="'dedupe' v1"):
        lineage.reverse(con, "countries", principal=STEWARD)  # row 1 was removed after


def test_edits_after_the_run_block_the_reversal(cleansed):
    con, rs, res = cleansed
    con.execute("UPDATE people_clean SET name = 'Bobby' WHERE id = 2")  # not a city_case cell
    con.execute("UPDATE people_clean SET city = 'PARIS' WHERE id = 4")
    with pytest.raises(LineageError, match="1 cell"):
        lineage.reverse(con, "city_case", principal=STEWARD)


def test_reversing_the_whole_run_gives_back_the_source_exactly(cleansed):
    con, rs, res = cleansed
    outs = lineage.reverse_run(con, res.run_id, principal=STEWARD)
    assert [o["rule"] for o in outs] == [
        "dedupe",
        "amount_type",
        "seg_default",
        "countries",
        "city_case",
        "squash",
        "trim_name",
    ]
    assert con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 'people_clean' "
        "AND column_name = 'amount'"
    ).fetchone() == ("VARCHAR",)
    assert table(con) == source_as_cleansed_types(con)


def test_reversal_needs_a_role_and_the_current_run(cleansed):
    con, rs, res = cleansed
    with pytest.raises(RoleRequiredError):
        lineage.reverse(con, "city_case", principal=ANALYST)
    first = res.run_id
    apply_rules(con, rs, STEWARD, run_id="second-run")
    with pytest.raises(LineageError, match="rebuilt by run second-run"):
        lineage.reverse(con, "city_case", run_id=first, principal=STEWARD)
    assert lineage.reverse(con, "city_case", principal=STEWARD)["run_id"] == "second-run"
    assert set(lineage.changes(con).run_id) == {"second-run"}  # latest run only
    assert set(lineage.changes(con, latest=False).run_id) == {first, "second-run"}

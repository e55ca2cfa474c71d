"""The quality app's components in-process, on a small warehouse with pending approvals."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from workbench.quality.cleansing import apply_rules
from workbench.quality.cleansing import approval as cleansing_approval
from workbench.quality.cleansing.rules import load_rules
from workbench.quality.schema import proposals
from workbench.quality.schema.gate import check
from workbench.quality.schema.registry import SchemaRegistry, schema_of_table
from workbench.security.principal import Principal
from workbench.ui.quality.approvals import ApprovalQueue
from workbench.ui.quality.overview import lineage_section
from workbench.ui.quality.store import QualityStore

STEWARD = Principal.of("sam", ["data_steward"])
ANALYST = Principal.of("ann", ["analyst"])


@pytest.fixture
def store(tmp_path):
    wh = tmp_path / "w.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("CREATE TABLE t (id INTEGER, city VARCHAR)")
    con.execute("INSERT INTO t VALUES (1, ' paris'), (2, 'Rome')")
    reg = SchemaRegistry(tmp_path / "schemas")
    reg.register_table(con, "t", key=["id"])
    con.execute("CREATE TABLE batch AS SELECT *, 'x' AS extra FROM t")
    check(reg, "t", schema_of_table(con, "batch"), con=con)  # proposal #1
    rules = tmp_path / "t.yml"
    rules.write_text(
        "table: t\nkey: [id]\nrules:\n  - {name: trim_city, action: trim, columns: [city]}\n"
    )
    rs = load_rules(rules)
    cleansing_approval.propose(con, rs, ANALYST)
    con.close()
    return lambda who: QualityStore(wh, tmp_path / "schemas", tmp_path, who)


def test_queue_lists_schema_changes_and_rules(store):
    q = ApprovalQueue(store(STEWARD))
    assert len(q.select.options) == 2
    assert q.select.options[0].startswith("Schema #1 t: 1 change(s), backward [proposed]")
    assert 'ALTER TABLE "t" ADD COLUMN "extra" TEXT' in q.detail.object
    assert "2 item(s) awaiting approval" in q.status.object


def test_approve_and_reject_record_who(store):
    s = store(STEWARD)
    q = ApprovalQueue(s)
    q.approve_button.clicks += 1  # schema #1 approved
    assert "Schema change #1 approved by sam" in q.status.object
    q.select.value = next(o for o in q.select.options if o.startswith("Rule trim_city"))
    q.approve_button.clicks += 1
    q.select.value = next(o for o in q.select.options if o.startswith("Rule trim_city"))
    q.approve_button.clicks += 1  # approved -> active
    assert "is now active" in q.status.object
    q.select.value = q.select.options[0]
    q.reject_button.clicks += 1
    assert q.select.options == []
    with s.connect() as con:
        assert proposals.get(con, 1)["status"] == "rejected"
        assert cleansing_approval.statuses(con, "t").status.tolist() == ["active"]


def test_an_analyst_is_refused_with_a_message(store):
    q = ApprovalQueue(store(ANALYST))
    q.approve_button.clicks += 1
    assert q.error.visible and "may not approve" in q.error.object
    assert "Traceback" not in q.error.object
    assert len(q.select.options) == 2


def test_lineage_section_shows_rule_changes(store, tmp_path):
    s = store(STEWARD)
    with s.connect(write=True) as con:
        rs = load_rules(tmp_path / "t.yml")
        cleansing_approval.approve(con, "t", "trim_city", 1, STEWARD)
        cleansing_approval.activate(con, "t", "trim_city", 1, STEWARD)
        apply_rules(con, rs, STEWARD)
    col = lineage_section(s)
    rows = col[-1].value
    assert rows[["row_key", "old_value", "new_value"]].values.tolist() == [
        ['{"id":1}', " paris", "paris"]
    ]


def test_proxy_entry(tmp_path):
    from workbench.server.apps import published, server_dict

    entry = server_dict(published("workbench-quality"))
    assert entry["launcher_entry"]["title"] == "Data quality" and entry["absolute_url"]
    cmd = entry["command"](str(tmp_path / "quality.sock"), "/base/")
    assert cmd[cmd.index("--prefix") + 1] == "/base/workbench-quality"
    assert Path(cmd[4]).name == "quality.py"

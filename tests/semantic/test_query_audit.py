"""Every semantic query is recorded in the audit trail: who asked, the namespace, the members and
filters, how many rows came back and how long it took; a refusal is recorded as a denial. The
log is the real tamper-evident store (SQLite here), and it verifies afterwards."""

from __future__ import annotations

import pytest

import workbench
from workbench.security.audit import AuditLog
from workbench.semantic.errors import AccessDeniedError, QueryError

from .conftest import MODELS, PRINCIPALS


@pytest.fixture
def audited(shop_db, tmp_path):
    log = AuditLog.open(tmp_path / "audit.sqlite")
    wb = workbench.connect(
        warehouse=shop_db,
        models_dir=MODELS,
        principal=PRINCIPALS["admin"],
        read_only=True,
        principals_file=MODELS / "none.yml",
        audit=log,
    )
    yield wb, log
    wb.close()
    log.close()


def test_each_query_is_recorded_with_who_what_rows_and_time(audited):
    wb, log = audited
    north = wb.as_principal(PRINCIPALS["north"])
    df = north.query(
        "shop", metrics=["revenue"], dimensions=["region"], where=["status = 'completed'"]
    ).df
    north.query(
        "shop", metrics=["revenue"], dimensions=["region"], where=["status = 'completed'"]
    ).execute()  # a cache hit, recorded too
    entries = [e.data for e in log.entries(action="semantic.query")]
    assert len(entries) == 2
    first = entries[0]
    assert first["actor"] == {"user": "north", "roles": ["regional_manager"]}
    assert first["resource"] == "shop" and first["outcome"] == "success"
    d = first["details"]
    assert d["metrics"] == ["revenue"] and d["dimensions"] == ["region"]
    assert d["filters"] == ["status = 'completed'"] and d["rows"] == len(df)
    assert d["ms"] >= 0 and d["cached"] is False and entries[1]["details"]["cached"] is True
    assert log.verify().ok


def test_a_refusal_is_recorded_as_a_denial(audited):
    wb, log = audited
    viewer = wb.as_principal(PRINCIPALS["viewer"])
    with pytest.raises(AccessDeniedError):
        viewer.query("shop", metrics=["customer_count"], dimensions=["customer_name"]).df
    with pytest.raises(QueryError):
        viewer.query("shop", metrics=["revenu"]).df
    denied = [e.data for e in log.entries(action="authz.deny")]
    assert len(denied) == 1 and denied[0]["actor"]["user"] == "viewer"
    assert denied[0]["outcome"] == "denied" and "customer_name" in denied[0]["details"]["error"]
    failed = [e.data for e in log.entries(action="semantic.query")]
    assert [f["outcome"] for f in failed] == ["failure"]
    assert log.verify().ok

"""OCSF 1.x export: every action lands in the class and activity the OCSF schema defines for
it, type_uid = class_uid * 100 + activity_id, and each class carries its required fields.
The expected ids are copied from the OCSF 1.x schema (events/iam/authentication.json,
account_change.json, events/application/application_lifecycle.json, api_activity.json)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from workbench.security.audit import AuditError, AuditLog

CATEGORY = {3: "Identity & Access Management", 6: "Application Activity"}
CLASS = {
    3001: "Account Change",
    3002: "Authentication",
    6002: "Application Lifecycle",
    6003: "API Activity",
}
REQUIRED = {  # class-specific attributes marked "requirement": "required" in OCSF 1.x
    3001: ["user"],
    3002: ["user"],
    6002: ["app"],
    6003: ["actor", "api", "src_endpoint"],
}
# action, outcome, details -> class_uid, activity_id, status_id
CASES = [
    ("auth.login.success", "success", {}, 3002, 1, 1),
    ("auth.login.failure", "failure", {"user": "eve", "reason": "bad password"}, 3002, 1, 2),
    ("auth.logout", "success", {}, 3002, 2, 1),
    ("token.issue", "success", {"jti": "j1"}, 3002, 3, 1),
    ("token.refresh", "success", {}, 3002, 5, 1),
    ("token.reuse", "failure", {"family": "f1"}, 3002, 99, 2),
    ("token.revoke", "success", {}, 3002, 99, 1),
    ("admin.user.add", "success", {"user": "carl"}, 3001, 1, 1),
    ("admin.user.passwd", "success", {"user": "carl"}, 3001, 3, 1),
    ("admin.user.disable", "success", {"user": "carl"}, 3001, 5, 1),
    ("pipeline.start", "success", {}, 6002, 3, 1),
    ("pipeline.stop", "success", {}, 6002, 4, 1),
    (
        "semantic.query",
        "success",
        {"namespace": "retail", "members": ["revenue"], "rows": 4, "ms": 7.6, "filters": []},
        6003,
        2,
        1,
    ),
    ("export", "success", {"format": "xlsx"}, 6003, 2, 1),
    ("approval", "success", {}, 6003, 3, 1),
    ("authz.deny", "denied", {"method": "POST"}, 6003, 1, 2),
    ("authz.deny", "denied", {"method": "DELETE"}, 6003, 4, 2),
]


@pytest.fixture
def log(tmp_path):
    return AuditLog.open(str(tmp_path / "a.sqlite"))


def epoch_ms(text: str) -> int:
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(t.replace(microsecond=0).timestamp()) * 1000 + t.microsecond // 1000


@pytest.mark.parametrize("action, outcome, details, class_uid, activity_id, status_id", CASES)
def test_ocsf_class_activity_and_required_fields(
    log, action, outcome, details, class_uid, activity_id, status_id
):
    e = log.record(
        action,
        actor={"user": "ann", "roles": ["admin"]},
        resource="retail",
        outcome=outcome,
        source="192.0.2.7",
        **details,
    )
    (line,) = list(log.export(format="ocsf"))
    ev = json.loads(line)
    assert (ev["class_uid"], ev["activity_id"], ev["status_id"]) == (
        class_uid,
        activity_id,
        status_id,
    )
    assert ev["type_uid"] == class_uid * 100 + activity_id
    assert ev["category_uid"] == class_uid // 1000
    assert (
        ev["category_name"] == CATEGORY[ev["category_uid"]] and ev["class_name"] == CLASS[class_uid]
    )
    assert ev["type_name"] == f"{CLASS[class_uid]}: {ev['activity_name']}"
    # base event: required everywhere
    assert re.fullmatch(r"1\.\d+\.\d+", ev["metadata"]["version"])
    assert ev["metadata"]["product"]["name"] and ev["metadata"]["product"]["vendor_name"]
    assert ev["severity_id"] in {0, 1, 2, 3, 4, 5, 6, 99}
    assert ev["time"] == epoch_ms(e.time)
    for attr in REQUIRED[class_uid]:
        assert attr in ev, attr
    if class_uid == 3001:
        assert ev["user"]["name"] == details["user"]  # the account changed, not the actor
    if class_uid == 3002:
        assert "service" in ev or "dst_endpoint" in ev  # the class's at_least_one constraint
        assert ev["user"]["name"] == details.get("user", "ann")
    if class_uid == 6003:
        assert ev["api"]["operation"] == action
    assert ev["actor"]["user"]["name"] == "ann"
    assert [g["name"] for g in ev["actor"]["user"]["groups"]] == ["admin"]
    assert ev["src_endpoint"] == {"ip": "192.0.2.7"}
    assert ev["metadata"]["sequence"] == 1 and ev["metadata"]["uid"] == e.hash
    assert ev["unmapped"]["workbench"]["details"] == details  # nothing recorded is dropped


def test_denials_carry_the_security_control_outcome(log):
    log.record("authz.deny", actor="bob", resource="/api/kernels", outcome="denied", method="GET")
    ev = json.loads(next(log.export(format="ocsf")))
    assert (ev["action_id"], ev["disposition_id"]) == (2, 2)
    assert "security_control" in ev["metadata"]["profiles"]


def test_export_since_filters_by_time(log):
    first = log.record("export", actor="ann")
    cut = dt.datetime.fromisoformat(first.time.replace("Z", "+00:00")) + dt.timedelta(
        microseconds=1
    )
    later = log.record("export", actor="bob")
    lines = list(log.export(since=cut, format="ocsf"))
    assert [json.loads(x)["metadata"]["sequence"] for x in lines] == [later.seq]
    assert len(list(log.export(since="1h", format="ocsf"))) == 2
    with pytest.raises(AuditError, match="neither an ISO"):
        list(log.export(since="last tuesday"))
    with pytest.raises(AuditError, match="must be ocsf or cef"):
        log.export(format="xml")


HOOK_CASES = [  # what the security services send through audit(action, **details)
    ("login.failure", {"user": "eve", "reason": "bad_password"}, "eve", 3002, 1, 2),
    ("login.success", {"user": "ann"}, "ann", 3002, 1, 1),
    ("token.reject", {"kind": "access", "reason": "expired", "sub": "ann"}, "ann", 3002, 99, 2),
    ("token.reuse", {"sub": "ann", "sid": "s1"}, "ann", 3002, 99, 2),
    ("user.disable", {"user": "carl", "actor": "admin"}, "admin", 3001, 5, 1),
    ("user.add", {"user": "carl", "roles": ["viewer"]}, None, 3001, 1, 1),  # from the CLI: no actor
    ("key.rotate", {"kid": "k2"}, None, 6003, 3, 1),
    ("oidc.jwks_error", {"issuer": "https://idp", "error": "timeout"}, None, 6003, 99, 2),
]


@pytest.mark.parametrize("action, details, actor, class_uid, activity_id, status_id", HOOK_CASES)
def test_security_service_hook_events_export(
    log, action, details, actor, class_uid, activity_id, status_id
):
    audit = log.hook(source="192.0.2.1")
    audit(action, **details)
    (e,) = list(log.entries())
    assert e.user == actor
    ev = json.loads(next(log.export(format="ocsf")))
    assert (ev["class_uid"], ev["activity_id"], ev["status_id"]) == (
        class_uid,
        activity_id,
        status_id,
    )
    assert ev["type_uid"] == class_uid * 100 + activity_id
    for attr in REQUIRED[class_uid]:
        assert attr in ev, attr

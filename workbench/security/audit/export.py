"""Audit entries as OCSF 1.x events (JSON), for a SIEM.

Each action maps to one OCSF class and activity; `type_uid = class_uid * 100 + activity_id`
always. Fields beyond what OCSF names (resource, details, the chain hashes) travel in
`unmapped.workbench`, so nothing recorded is dropped from an export.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Mapping
from typing import Any

from .chain import Entry

OCSF_VERSION = "1.3.0"
PRODUCT = {"name": "Workbench", "vendor_name": "Workbench"}
CATEGORIES = {3: "Identity & Access Management", 6: "Application Activity"}
CLASSES = {
    3001: (
        "Account Change",
        {
            1: "Create",
            2: "Enable",
            3: "Password Change",
            4: "Password Reset",
            5: "Disable",
            6: "Delete",
            7: "Attach Policy",
            8: "Detach Policy",
            9: "Lock",
            99: "Other",
        },
    ),
    3002: (
        "Authentication",
        {
            1: "Logon",
            2: "Logoff",
            3: "Authentication Ticket",
            4: "Service Ticket Request",
            5: "Service Ticket Renew",
            99: "Other",
        },
    ),
    6002: (
        "Application Lifecycle",
        {1: "Install", 2: "Remove", 3: "Start", 4: "Stop", 99: "Other"},
    ),
    6003: ("API Activity", {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}),
}
# action -> (class_uid, activity_id, activity_name when "Other"); the longest matching prefix wins
ACTIONS = {
    "auth.login": (3002, 1, None),
    "auth.logout": (3002, 2, None),
    "token.issue": (3002, 3, None),
    "token.refresh": (3002, 5, None),
    "token.reuse": (3002, 99, "Refresh Token Reuse"),
    "token.revoke": (3002, 99, "Token Revoke"),
    "token": (3002, 99, None),
    "auth": (3002, 99, None),
    # the names the security services' audit hooks use (workbench/security/audit_hook.py)
    "login": (3002, 1, None),
    "logout": (3002, 2, None),
    "session.start": (3002, 99, "Session Start"),
    "token.reject": (3002, 99, "Token Reject"),
    "user.add": (3001, 1, None),
    "user.enable": (3001, 2, None),
    "user.passwd": (3001, 3, None),
    "user.disable": (3001, 5, None),
    "user.delete": (3001, 6, None),
    "user.roles": (3001, 99, "Roles Change"),
    "user.rehash": (3001, 99, "Password Rehash"),
    "user": (3001, 99, None),
    "key.create": (6003, 1, None),
    "key.rotate": (6003, 3, None),
    "key.remove": (6003, 4, None),
    "admin.user.add": (3001, 1, None),
    "admin.user.create": (3001, 1, None),
    "admin.user.enable": (3001, 2, None),
    "admin.user.passwd": (3001, 3, None),
    "admin.user.reset": (3001, 4, None),
    "admin.user.disable": (3001, 5, None),
    "admin.user.delete": (3001, 6, None),
    "admin.user.roles.add": (3001, 7, None),
    "admin.user.roles.remove": (3001, 8, None),
    "admin.user.lock": (3001, 9, None),
    "admin.user": (3001, 99, None),
    "pipeline.start": (6002, 3, None),
    "pipeline.stop": (6002, 4, None),
    "semantic.query": (6003, 2, None),
    "export": (6003, 2, None),
    "approval": (6003, 3, None),
}
HTTP_ACTIVITY = {"GET": 2, "HEAD": 2, "POST": 1, "PUT": 3, "PATCH": 3, "DELETE": 4}
STATUS = {
    "success": (1, "Success"),
    "failure": (2, "Failure"),
    "denied": (2, "Failure"),
    "unknown": (0, "Unknown"),
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SEVERITY_NAMES = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}


def classify(action: str, details: Mapping[str, Any] | None = None) -> tuple[int, int, str]:
    """(class_uid, activity_id, activity_name) of an action."""
    if action == "authz.deny":  # API Activity of the request that was refused
        method = str((details or {}).get("method", "")).upper()
        activity = HTTP_ACTIVITY.get(method, 99)
        return 6003, activity, CLASSES[6003][1][activity] if activity != 99 else "Access Deny"
    parts = action.split(".")
    for n in range(len(parts), 0, -1):
        hit = ACTIONS.get(".".join(parts[:n]))
        if hit:
            cls, activity, other = hit
            return cls, activity, other or CLASSES[cls][1][activity]
    return 6003, 99, action


def severity_id(action: str, outcome: str) -> int:
    """OCSF severity: a reused refresh token is a likely theft (High); denials Medium;
    failed log-ins Low; everything else Informational."""
    if action == "token.reuse":
        return 4
    if outcome == "denied":
        return 3
    if outcome == "failure":
        return 3 if action.startswith(("auth.", "token.")) else 2
    return 1


def endpoint(source: str | None) -> dict[str, str | int]:
    if not source:
        return {"name": "unknown"}
    host, _, port = source.rpartition(":") if source.count(":") == 1 else (source, "", "")
    try:
        ep: dict[str, str | int] = {"ip": str(ipaddress.ip_address(host.strip("[]")))}
    except ValueError:
        ep = {"hostname": host}
    if port.isdigit():
        ep["port"] = int(port)
    return ep


def epoch_ms(time_text: str) -> int:
    t = dt.datetime.strptime(time_text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return (t - EPOCH) // dt.timedelta(milliseconds=1)  # exact: no float rounding


def to_ocsf(entry: Entry) -> dict[str, Any]:
    data = entry.data
    action, outcome, details = data["action"], data["outcome"], data.get("details") or {}
    actor = data["actor"]
    class_uid, activity_id, activity_name = classify(action, details)
    class_name = CLASSES[class_uid][0]
    category_uid = class_uid // 1000
    status_id, status = STATUS[outcome]
    sev = severity_id(action, outcome)
    user = (
        {
            "name": actor["user"],
            "uid": actor["user"],
            "groups": [{"name": r} for r in actor.get("roles", [])],
        }
        if actor["user"]
        else None
    )
    event: dict[str, Any] = {
        "category_uid": category_uid,
        "category_name": CATEGORIES[category_uid],
        "class_uid": class_uid,
        "class_name": class_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "type_name": f"{class_name}: {activity_name}",
        "time": epoch_ms(data["time"]),
        "timezone_offset": 0,
        "severity_id": sev,
        "severity": SEVERITY_NAMES[sev],
        "status_id": status_id,
        "status": status,
        "message": f"{action} by {actor['user'] or 'unknown user'}: {outcome}",
        "metadata": {
            "version": OCSF_VERSION,
            "product": {**PRODUCT, "feature": {"name": "audit"}},
            "log_name": "audit",
            "uid": entry.hash,
            "sequence": data["seq"],
        },
        "actor": {"user": user} if user else {"app_name": "workbench"},
        "src_endpoint": endpoint(data.get("source")),
        "unmapped": {
            "workbench": {
                "action": action,
                "resource": data.get("resource"),
                "outcome": outcome,
                "details": details,
                "prev_hash": entry.prev_hash,
                "hash": entry.hash,
            }
        },
    }
    if details.get("reason"):
        event["status_detail"] = str(details["reason"])
    if isinstance(details.get("ms"), (int, float)):
        event["duration"] = int(round(details["ms"]))
    _class_fields(event, class_uid, data, details)
    return event


def _class_fields(
    event: dict[str, Any], class_uid: int, data: dict[str, Any], details: dict[str, Any]
) -> None:
    """The attributes each class requires (OCSF 1.x)."""
    actor_user = data["actor"]["user"]
    if class_uid == 3002:  # user: the subject authenticated (the attempted name on failure)
        event["user"] = {
            "name": details.get("user") or details.get("sub") or actor_user or "unknown"
        }
        event["service"] = {"name": "workbench"}
        event["auth_protocol_id"], event["auth_protocol"] = (
            (6, "OAUTH 2.0") if data["action"].startswith("token.") else (99, "Password")
        )
    elif class_uid == 3001:  # user: the account that was changed
        event["user"] = {"name": details.get("user") or data.get("resource") or "unknown"}
    elif class_uid == 6002:
        event["app"] = {"name": data.get("resource") or "pipeline", "vendor_name": "Workbench"}
    elif class_uid == 6003:
        event["api"] = {"operation": data["action"], "service": {"name": "workbench"}}
        if data.get("resource"):
            event["resources"] = [
                {
                    "name": data["resource"],
                    "type": details.get("resource_type", data["action"].split(".")[0]),
                }
            ]
        if data["outcome"] == "denied":  # the security_control profile says what the control did
            event["action_id"], event["action"] = 2, "Denied"
            event["disposition_id"], event["disposition"] = 2, "Blocked"
            event["metadata"]["profiles"] = ["security_control"]

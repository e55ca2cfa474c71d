"""Searching the audit log (workbench.security.audit.search) on both real stores: each filter
against the entries the test recorded, filtered here by hand; pages newest first; hours by
action family; the chain's status; every bad parameter refused naming it; text that looks like
SQL or a LIKE pattern matched literally."""

from __future__ import annotations

import datetime as dt

import pytest

from workbench.security.audit.search import AuditQueryError, browse, parse_query

from .audit_support import STORES, Attacker

PEOPLE = ["vera", "anna", "adam"]
ACTIONS = ["login.success", "login.failure", "semantic.query", "authz.deny", "token.issue", "login"]


def record_mixed(log, n: int = 30) -> list[dict]:
    """n entries; the oracle is this list of what was recorded."""
    made = []
    for i in range(n):
        user, action = PEOPLE[i % 3], ACTIONS[i % len(ACTIONS)]
        note = (
            "50%_off" if i == 7 else ("Robert'); DROP TABLE audit_entries;--" if i == 8 else "ok")
        )
        log.record(action, actor=user, resource=f"res{i % 4}", note=note, i=i)
        made.append({"user": user, "action": action, "i": i, "note": note})
    return made


def ids(answer) -> list[int]:
    return [e["details"]["i"] for e in answer["entries"] if "i" in e["details"]]


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_filters_pages_and_hours_match_what_was_recorded(audit_env):
    log, _ = audit_env(checkpoint_every=7)
    made = record_mixed(log)
    q = parse_query({"user": "vera", "verify": "false", "limit": "500"})
    answer = browse(log, q, actor="adam")
    want = [m["i"] for m in reversed(made) if m["user"] == "vera"]
    assert ids(answer) == want and answer["total"] == len(want) and "chain" not in answer
    # "login" is the action and its family; "login." the family only
    fam = [m["i"] for m in reversed(made) if m["action"].startswith("login.")]
    both = [
        m["i"] for m in reversed(made) if m["action"] == "login" or m["action"].startswith("login.")
    ]
    assert ids(browse(log, parse_query({"action": "login.", "limit": "500"}))) == fam
    assert ids(browse(log, parse_query({"action": "login", "limit": "500"}))) == both
    assert ids(browse(log, parse_query({"action": "login.failure", "user": "anna"}))) == [
        m["i"] for m in reversed(made) if m["action"] == "login.failure" and m["user"] == "anna"
    ]
    # pages: newest first, offset skips, total counts all that match
    p1 = browse(log, parse_query({"limit": "4", "action": "semantic.", "verify": "0"}))
    p2 = browse(log, parse_query({"limit": "4", "offset": "4", "action": "semantic."}))
    sem = [m["i"] for m in reversed(made) if m["action"] == "semantic.query"]
    assert ids(p1) + ids(p2) == sem[:8] and p1["total"] == len(sem)
    # free text: case-insensitive, literal (% and _ are not wildcards, quotes are not SQL)
    assert ids(browse(log, parse_query({"text": "50%_OFF"}))) == [7]
    assert ids(browse(log, parse_query({"text": "0%"}))) == [7]
    assert ids(browse(log, parse_query({"text": "drop table audit_entries"}))) == [8]
    assert ids(browse(log, parse_query({"text": "5_%"}))) == []
    assert ids(browse(log, parse_query({"text": '"res3"', "limit": "500"}))) == [
        m["i"] for m in reversed(made) if m["i"] % 4 == 3
    ]
    # events per hour by family, over everything that matches (not one page)
    hours = browse(log, parse_query({"user": "vera", "limit": "1"}))["hourly"]
    by_family: dict[str, int] = {}
    for h in hours:
        assert h["hour"].endswith(":00Z") and len(h["hour"]) == len("2026-12-03T07:00Z")
        by_family[h["action"]] = by_family.get(h["action"], 0) + h["count"]
    expected: dict[str, int] = {}
    for m in made:
        if m["user"] == "vera":
            fam_ = m["action"].split(".")[0]
            expected[fam_] = expected.get(fam_, 0) + 1
    assert by_family == expected
    # every read was audited, by who read, with the filters
    reads = list(log.entries(action="audit.read"))
    assert (
        reads
        and reads[0].user == "adam"
        and reads[0].data["details"]["filters"] == {"user": "vera"}
    )
    # the log is still a valid chain after all of it, and says so
    chain = browse(log, parse_query({"limit": "1"}))["chain"]
    assert chain["ok"] is True and chain["broken_at"] is None and chain["entries"] >= 30


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_time_range_and_a_date_until_includes_that_day(audit_env):
    log, _ = audit_env()
    record_mixed(log, 6)
    now = dt.datetime.now(dt.UTC)
    today = now.date().isoformat()
    tomorrow = (now + dt.timedelta(days=1)).date().isoformat()
    assert browse(log, parse_query({"since": today, "until": today}))["total"] == 6
    assert browse(log, parse_query({"since": tomorrow}))["total"] == 0
    assert (
        browse(log, parse_query({"until": (now - dt.timedelta(hours=1)).isoformat()}))["total"] == 0
    )
    assert browse(log, parse_query({"since": "1h"}))["total"] >= 6


@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_a_tampered_chain_is_reported_broken_at_its_first_bad_entry(audit_env):
    log, attacker = audit_env(checkpoint_every=100)
    record_mixed(log, 12)
    a: Attacker = attacker()
    row = a.row(5)
    a.run("UPDATE {e} SET body = {p} WHERE seq = 5", (row["body"].replace('"ok"', '"OK"'),))
    chain = browse(log, parse_query({}))["chain"]
    assert chain["ok"] is False and chain["broken_at"] == 5
    assert any("entry 5" in p for p in chain["problems"])


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"limit": "ten"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "100000"}, "limit"),
        ({"offset": "-1"}, "offset"),
        ({"since": "last tuesday"}, "since"),
        ({"until": "2026-13-40"}, "until"),
        ({"since": "2026-12-02", "until": "2026-12-01T00:00"}, "until"),
        ({"action": "Login;--"}, "action"),
        ({"action": "login..x"}, "action"),
        ({"verify": "maybe"}, "verify"),
        ({"usr": "vera"}, "usr"),
        ({"user": ["vera", "anna"]}, "user"),
        ({"text": "x" * 201}, "text"),
    ],
)
def test_bad_parameters_are_refused_naming_them(params, names):
    with pytest.raises(AuditQueryError) as err:
        parse_query(params)
    assert err.value.parameter == names and names in str(err.value)


def test_an_empty_log_is_a_verified_empty_chain(tmp_path):
    from workbench.security.audit import AuditLog

    with AuditLog.open(str(tmp_path / "empty.sqlite")) as log:
        answer = browse(log, parse_query({}))
        assert answer["total"] == 0 and answer["chain"]["ok"] is True and answer["entries"] == []

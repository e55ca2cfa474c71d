"""The policy decision point (pycasbin over security/policy/) against the policy file's intent."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import SpecError
from workbench.security.policy import POLICY_DIR, PolicyDecisionPoint, read_policy

POLICY = POLICY_DIR / "policy.csv"
JUPYTER = [
    "api",
    "lab",
    "kernels",
    "kernelspecs",
    "sessions",
    "contents",
    "terminals",
    "nbconvert",
    "events",
    "config",
    "server",
    "csp",
]
WORKBENCH = [
    "workbench:query",
    "workbench:pipelines",
    "workbench:quality",
    "workbench:incidents",
    "workbench:metrics",
    "workbench:audit",
    "workbench:users",
    "workbench:alert_rules",
    "workbench:detectors",
    "app:dashboard",
    "app:catalog",
    "app:quality",
    "app:ask",
    "app:reports",
    "app:security",
]


@pytest.fixture(scope="module")
def pdp() -> PolicyDecisionPoint:
    return PolicyDecisionPoint()


def intent(roles, resource, action, path: Path = POLICY) -> bool:
    """The oracle: the file read with the csv module, inheritance closed by hand, a trailing *
    as a prefix wildcard.  No casbin."""
    allow, parents = [], {}
    with open(path, newline="") as fh:
        for row in csv.reader(
            line for line in fh if line.strip() and not line.lstrip().startswith("#")
        ):
            row = [f.strip() for f in row]
            if row[0] == "p":
                allow.append(tuple(row[1:]))
            else:
                parents.setdefault(row[1], set()).add(row[2])
    todo, closed = list(roles), set()
    while todo:
        r = todo.pop()
        if r not in closed:
            closed.add(r)
            todo.extend(parents.get(r, ()))

    def match(res, pattern):
        return res == pattern or (pattern.endswith("*") and res.startswith(pattern[:-1]))

    return any(
        role in closed and match(resource, res) and act in ("*", action) for role, res, act in allow
    )


def test_the_roles_the_issue_names(pdp):
    # viewer: apps and the read API only
    assert pdp.allowed(["viewer"], "app:dashboard", "read")
    assert pdp.allowed(["viewer"], "workbench:query", "execute")
    for res in ("lab", "kernels", "contents", "sessions", "terminals"):
        assert not pdp.allowed(["viewer"], res, "read"), res
    assert not pdp.allowed(["viewer"], "workbench:alert_rules", "write")
    # analyst: notebooks too, but no terminals and no rules
    assert pdp.allowed(["analyst"], "kernels", "execute") and pdp.allowed(
        ["analyst"], "contents", "write"
    )
    assert pdp.allowed(["analyst"], "app:catalog", "read")  # inherited from viewer
    assert not pdp.allowed(["analyst"], "terminals", "execute")
    assert not pdp.allowed(["analyst"], "workbench:detectors", "write")
    # data scientist: analyst + alert rules and detectors
    assert pdp.allowed(["data_scientist"], "workbench:alert_rules", "write")
    assert pdp.allowed(["data_scientist"], "kernels", "execute")
    assert not pdp.allowed(["data_scientist"], "workbench:users", "write")
    # admin: everything
    assert pdp.allowed(["admin"], "terminals", "execute") and pdp.allowed(
        ["admin"], "workbench:audit", "read"
    )
    # no roles, or unknown ones: nothing
    assert not pdp.allowed([], "app:dashboard", "read")
    assert not pdp.allowed(["root"], "app:dashboard", "read")
    # several roles: any one suffices
    assert pdp.allowed(["viewer", "data_scientist"], "workbench:alert_rules", "write")


@settings(max_examples=400, deadline=None)
@given(
    roles=st.lists(
        st.sampled_from(["viewer", "analyst", "data_scientist", "admin", "guest"]), max_size=3
    ),
    resource=st.one_of(st.sampled_from(JUPYTER + WORKBENCH), st.text(min_size=1, max_size=12)),
    action=st.sampled_from(["read", "write", "execute"]),
)
def test_decisions_equal_the_policy_files_intent(pdp, roles, resource, action):
    assert pdp.allowed(roles, resource, action) == intent(roles, resource, action)


def test_unknown_action_is_refused(pdp):
    with pytest.raises(ValueError, match="unknown action"):
        pdp.allowed(["admin"], "kernels", "delete")


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "p, viewer, app:dashboard, raed",
            r"policy\.csv:3 \(action\): unknown action 'raed'.*did you mean 'read'",
        ),
        (
            "p, viewer, app:dashboard",
            r"policy\.csv:3: an allow line is `p, role, resource, action`",
        ),
        (
            "g, analyst, viewr",
            r"policy\.csv:3 \(role\): role 'analyst' inherits 'viewr'.*did you mean 'viewer'",
        ),
        ("x, viewer, app:dashboard, read", r"policy\.csv:3: a line starts with p \(allow\) or g"),
        ("g, analyst", r"policy\.csv:3: an inheritance line is `g, role, inherited role`"),
        ("g, analyst, ", r"policy\.csv:3: an inheritance line is"),
    ],
)
def test_a_malformed_policy_names_file_line_and_field(tmp_path, line, message):
    bad = tmp_path / "policy.csv"
    bad.write_text("# test\np, viewer, app:catalog, read\n" + line + "\n")
    with pytest.raises(SpecError, match=message):
        read_policy(bad)


def test_reload_swaps_rules_only_when_the_new_file_is_valid(tmp_path):
    path = tmp_path / "policy.csv"
    path.write_text("p, viewer, app:catalog, read\n")
    pdp = PolicyDecisionPoint(path)
    assert not pdp.allowed(["viewer"], "app:dashboard", "read")
    path.write_text("p, viewer, app:catalog, read\np, viewer, app:dashboard, read\n")
    pdp.reload()
    assert pdp.allowed(["viewer"], "app:dashboard", "read")
    path.write_text("p, viewer, app:catalog\n")
    with pytest.raises(SpecError):
        pdp.reload()
    assert pdp.allowed(["viewer"], "app:dashboard", "read")  # the valid rules stay in force
    assert intent(["viewer"], "app:dashboard", "read", POLICY)


def test_a_remembered_decision_does_not_outlive_the_rules_it_came_from(tmp_path):
    """Decisions are remembered per rule set: a grant taken away by a reload is gone at once."""
    path = tmp_path / "policy.csv"
    path.write_text("p, viewer, app:catalog, read\np, viewer, app:dashboard, read\n")
    pdp = PolicyDecisionPoint(path)
    assert [pdp.allowed(["viewer"], "app:dashboard", "read") for _ in range(3)] == [True] * 3
    path.write_text("p, viewer, app:catalog, read\n")
    pdp.reload()
    assert not pdp.allowed(["viewer"], "app:dashboard", "read")
    assert pdp.allowed(["viewer"], "app:catalog", "read")


def test_missing_files_are_named(tmp_path):
    with pytest.raises(SpecError, match="missing.csv: cannot read the policy file"):
        PolicyDecisionPoint(tmp_path / "missing.csv")


def test_a_missing_model_file_is_named_and_roles_come_from_the_policy(tmp_path):
    path = tmp_path / "policy.csv"
    path.write_text("p, viewer, app:catalog, read\ng, analyst, viewer\n")
    with pytest.raises(SpecError, match=r"nomodel\.conf: cannot read the policy model"):
        PolicyDecisionPoint(path, tmp_path / "nomodel.conf")
    pdp = PolicyDecisionPoint(path)
    assert pdp.roles == {"viewer", "analyst"}
    assert pdp.allowed(["analyst"], "app:catalog", "read")  # inherited from viewer
    assert repr(pdp) == f"<PolicyDecisionPoint {path} roles=['analyst', 'viewer']>"

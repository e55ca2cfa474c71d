"""The one policy decision point: may a person with these roles do this action on this resource?

Backed by pycasbin (RBAC with role inheritance; ``security/policy/model.conf``) over the policy
file ``security/policy/policy.csv``.  Every path asks it: the server's Authorizer (REST,
websockets, kernels, contents...), the gate in front of the published apps, and the CLI.
Row and column policies (who sees which rows) stay in the semantic layer, fed by the
principal's attributes; this decides *whether* a request is made at all.

The policy file is checked line by line before casbin sees it, so a typo is an error naming the
file, the line and what is wrong (casbin itself would silently read ``p, viewr, ...`` as a new
role), and :meth:`PolicyDecisionPoint.reload` swaps the rules in only once the new file is valid.
"""

from __future__ import annotations

import csv
import threading
from dataclasses import dataclass
from pathlib import Path

import casbin
from cachetools import LRUCache

from ..errors import SpecError, closest

ACTIONS = ("read", "write", "execute", "*")
# Decisions remembered per rule set: casbin's enforce() took ~0.2 ms a request.  Bounded, since
# page resources come from request paths ("app:<anything>").
DECISIONS_KEPT = 4096
POLICY_DIR = Path(__file__).resolve().parents[2] / "security" / "policy"


@dataclass(frozen=True)
class Rule:
    """One line of the policy file: an allow (``p``) or an inheritance (``g``)."""

    kind: str  # "p" or "g"
    role: str
    target: str  # the resource (p) or the inherited role (g)
    action: str  # "" for g
    line: int


def read_policy(path: str | Path) -> list[Rule]:
    """The rules of a policy file, or a :class:`SpecError` naming the line that is wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SpecError(f"cannot read the policy file: {e.strerror or e}", str(path)) from None
    rules: list[Rule] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in next(csv.reader([raw]))]
        kind = fields[0]
        if kind == "p":
            if len(fields) != 4 or not all(fields[1:]):
                raise SpecError("an allow line is `p, role, resource, action`", str(path), n)
            if fields[3] not in ACTIONS:
                hint = closest(fields[3], ACTIONS[:-1])
                raise SpecError(
                    f"unknown action {fields[3]!r}; actions are read, write, execute or *"
                    + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                    str(path),
                    n,
                    "action",
                )
            rules.append(Rule("p", fields[1], fields[2], fields[3], n))
        elif kind == "g":
            if len(fields) != 3 or not all(fields[1:]):
                raise SpecError("an inheritance line is `g, role, inherited role`", str(path), n)
            rules.append(Rule("g", fields[1], fields[2], "", n))
        else:
            raise SpecError(
                f"a line starts with p (allow) or g (inherit), not {kind!r}", str(path), n
            )
    roles = {r.role for r in rules}
    for r in rules:
        if r.kind == "g" and r.target not in roles:
            hint = closest(r.target, roles)
            raise SpecError(
                f"role {r.role!r} inherits {r.target!r}, which no line defines"
                + (f" (did you mean {hint[0]!r}?)" if hint else ""),
                str(path),
                r.line,
                "role",
            )
    return rules


class PolicyDecisionPoint:
    """Answers ``allowed(roles, resource, action)`` from the policy file; thread-safe, reloadable."""

    def __init__(self, policy_file: str | Path | None = None, model_file: str | Path | None = None):
        self.policy_file = Path(policy_file) if policy_file else POLICY_DIR / "policy.csv"
        self.model_file = Path(model_file) if model_file else POLICY_DIR / "model.conf"
        self._lock = threading.Lock()
        self._enforcer, self._rules = self._build()
        self._decisions: LRUCache[tuple[str, str, str], bool] = LRUCache(maxsize=DECISIONS_KEPT)

    def _build(self) -> tuple[casbin.Enforcer, list[Rule]]:
        rules = read_policy(self.policy_file)
        try:
            model = casbin.Enforcer.new_model(path=str(self.model_file))
        except (OSError, ValueError) as e:
            raise SpecError(f"cannot read the policy model: {e}", str(self.model_file)) from None
        enforcer = casbin.Enforcer(model)
        for r in rules:
            if r.kind == "p":
                enforcer.add_policy(r.role, r.target, r.action)
            else:
                enforcer.add_grouping_policy(r.role, r.target)
        return enforcer, rules

    def reload(self) -> None:
        """Re-read the files; on any error the rules in force stay as they were."""
        enforcer, rules = self._build()
        decisions: LRUCache[tuple[str, str, str], bool] = LRUCache(maxsize=DECISIONS_KEPT)
        with self._lock:  # the rules and the decisions made from them change together
            self._enforcer, self._rules, self._decisions = enforcer, rules, decisions

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self._rules}

    def allowed(
        self, roles: list[str] | tuple[str, ...] | set[str], resource: str, action: str
    ) -> bool:
        """True when one of ``roles`` (or a role it inherits) has an allow line matching.
        A decision depends on the rules in force and on (role, resource, action) only, so each
        is made by casbin once per rule set and remembered (:meth:`reload` starts afresh)."""
        if action not in ACTIONS[:-1]:
            raise ValueError(f"unknown action {action!r}: read, write or execute")
        with self._lock:
            enforcer, decisions = self._enforcer, self._decisions
        return any(self._decide(enforcer, decisions, role, resource, action) for role in roles)

    def _decide(
        self,
        enforcer: casbin.Enforcer,
        decisions: LRUCache[tuple[str, str, str], bool],
        role: str,
        resource: str,
        action: str,
    ) -> bool:
        key = (role, resource, action)
        with self._lock:
            known = decisions.get(key)
        if known is None:
            known = bool(enforcer.enforce(role, resource, action))
            with self._lock:
                decisions[key] = known
        return known

    def __repr__(self) -> str:
        return f"<PolicyDecisionPoint {self.policy_file} roles={sorted(self.roles)}>"

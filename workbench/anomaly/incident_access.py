"""Which incidents a person may see: the row policies of the semantic layer decide, not a list.

An incident is made of anomalies, each a metric on a slice of a namespace (its rule's ``where``
plus the slice, e.g. ``channel = 'online'``).  A person may see an incident when their row
policies let them see *all* the data of every one of its slices: the metric on that slice, asked
as them, equals the metric asked without restrictions.  A North manager so sees "orders down
(region=North)", and not "orders down (channel=online)", which sums every region.  The check is
the query engine's own answer, so it holds for any policy the models can express.

Results are cached per (principal, slice) for ``ttl_s``: incident lists are read often.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from workbench.security.principal import Principal


def slice_filters(anomaly: dict[str, Any]) -> list[str]:
    """The semantic filters that select an anomaly's slice: its rule's ``where`` and the slice value."""
    raw = anomaly.get("rule_where")
    where = list(json.loads(raw)) if isinstance(raw, str) and raw else list(raw or [])
    if anomaly.get("slice_by") and anomaly.get("slice_value") is not None:
        value = str(anomaly["slice_value"]).replace("'", "''")  # a value from the warehouse, quoted
        where.append(f"{anomaly['slice_by']} = '{value}'")
    return where


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is b
    try:
        fa, fb = float(a), float(b)
    except (TypeError, ValueError):
        return bool(a == b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    return math.isclose(fa, fb, rel_tol=1e-9, abs_tol=1e-9)


class IncidentAccess:
    """``visible(principal, anomalies)`` over a workbench that can run queries as anyone."""

    def __init__(
        self,
        workbench: Callable[[], Any],
        unrestricted_roles: Iterable[str] = ("admin",),
        ttl_s: float = 60.0,
    ):
        self._workbench = workbench
        self.unrestricted_roles = frozenset(unrestricted_roles)
        self.ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def _metric(self, who: Principal | None, anomaly: dict[str, Any]) -> Any:
        base = self._workbench()
        wb = (
            base.as_principal(who)
            if who is not None
            else base.as_principal(
                Principal.of("incident-access", roles=sorted(self.unrestricted_roles))
            )
        )
        df = wb.query(
            anomaly["namespace"], [anomaly["metric"]], [], where=slice_filters(anomaly) or None
        ).df
        return df[anomaly["metric"]].iloc[0] if len(df) else None

    def sees_slice(self, who: Principal, anomaly: dict[str, Any]) -> bool:
        key = (
            who.context_key,
            json.dumps([anomaly.get("namespace"), anomaly.get("metric"), slice_filters(anomaly)]),
        )
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1]
        try:
            ok = _same(self._metric(who, anomaly), self._metric(None, anomaly))
        except Exception:  # noqa: BLE001  denied, or a member they may not use: not theirs to see
            ok = False
        with self._lock:
            self._cache[key] = (now, ok)
        return ok

    def restricted(self, who: Principal, namespace: str) -> bool:
        """Does any row filter of the namespace's models apply to ``who``?  (An unknown namespace
        counts as restricted: nothing is shown that cannot be checked.)"""
        from workbench.semantic.policy import applies

        try:
            models = self._workbench().namespace(namespace).models.values()
        except Exception:  # noqa: BLE001  not in this warehouse
            return True
        return any(
            applies(rule, who)
            for m in models
            for rule in (m.policies.row_filters if m.policies else ())
        )

    def visible(self, who: Principal, anomalies: list[dict[str, Any]]) -> bool:
        if who.has_any(self.unrestricted_roles):
            return True
        if not anomalies:
            return False
        return all(
            not self.restricted(who, a["namespace"]) or self.sees_slice(who, a) for a in anomalies
        )

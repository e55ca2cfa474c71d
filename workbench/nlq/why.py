"""'Why?': the previous answer explained by the anomaly insights (workbench.anomaly.insights).

The incident store and alert rules are the workbench's own (workbench.yml ``anomaly``). An
incident explains a turn when one of its anomalies is of a rule over the turn's metric in the
same namespace; the newest such incident is explained. Without one the engine says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd


def explain(
    wb, namespace: str, metrics: list[str], incidents_db: Path | None, rules_dir: Path | None
) -> tuple[str | None, pd.DataFrame | None, object]:
    """(text, facts frame, insight) or (None, None, reason) when nothing explains the turn."""
    from ..anomaly.alert_rules import load_rules
    from ..anomaly.incidents import IncidentStore
    from ..anomaly.insights import explain_incident

    if (
        incidents_db is None
        or not Path(incidents_db).exists()
        or rules_dir is None
        or not Path(rules_dir).exists()
    ):
        return None, None, "no incident store or alert rules are configured"
    rules = {r.name: r for r in load_rules(rules_dir)}
    wanted = {m.split(".")[-1] for m in metrics}
    mine = {
        name
        for name, r in rules.items()
        if r.source.namespace == namespace and r.source.metric.split(".")[-1] in wanted
    }
    if not mine:
        return None, None, f"no alert rule watches {', '.join(sorted(wanted)) or 'this metric'}"
    store = IncidentStore(incidents_db)
    incidents: Any = store.list()
    anomalies: Any = store.anomalies
    hits = [
        inc for inc in reversed(incidents) if any(a["rule"] in mine for a in anomalies(inc["id"]))
    ]
    if not hits:
        return None, None, "no recorded incident concerns this metric"
    insight = explain_incident(wb, store, {n: rules[n] for n in mine}, hits[0]["id"])
    facts = pd.DataFrame(
        [{k: v for k, v in insight.facts.items() if isinstance(v, (int, float, str))}]
    )
    return insight.text, facts, insight

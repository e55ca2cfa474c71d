"""`workbench detect ...` and `workbench alerts ...`; wired into workbench/cli.py with

from .anomaly.cli import alerts_app, detect_app
app.add_typer(detect_app, name="detect")
app.add_typer(alerts_app, name="alerts")
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

out = Console()
err = Console(stderr=True)

detect_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Run anomaly detection jobs (the alert rules in pipelines/alerts/).",
)
alerts_app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Alert rules, incidents and the in-app inbox."
)

RULES = typer.Option(Path("pipelines/alerts"), "--rules", help="Folder of alert rule YAML files.")
DB = typer.Option(
    Path(".workbench/anomaly/incidents.sqlite"), "--db", help="Incident store (sqlite)."
)


def _fail(message: str, code: int = 2):
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _rules(path: Path, enabled_only: bool = False):
    from workbench.anomaly.alert_rules import AlertRuleError, load_rules

    try:
        return load_rules(path, enabled_only=enabled_only)
    except AlertRuleError as e:
        _fail(str(e))


@detect_app.command("run")
def detect_run(
    rules: Path = RULES,
    db: Path = DB,
    once: bool = typer.Option(False, "--once", help="One cycle, then exit."),
    interval: float = typer.Option(15.0, min=0.5, help="Seconds between cycles."),
    warehouse: Path | None = typer.Option(
        None, help="Warehouse file (default from workbench.yml)."
    ),
    state_dir: Path = typer.Option(
        Path(".workbench/anomaly/jobs"), help="Where jobs keep their state."
    ),
):
    """Watch the metrics of every enabled rule; raise incidents and notify as data arrives."""
    import workbench
    from workbench.anomaly.incidents import IncidentStore
    from workbench.anomaly.jobs_runner import JobRunner

    runner = JobRunner(
        workbench.connect(warehouse=warehouse, read_only=True),
        _rules(rules, True),
        IncidentStore(db),
        state_dir=state_dir,
    )

    def show(o: dict) -> None:
        out.print("\n".join(o["jobs"]) + f"\n{o['dispatch']} held: {o['held']}", highlight=False)

    if once:
        show(runner.cycle())
        return
    try:
        runner.run_forever(interval, on_cycle=show)
    except KeyboardInterrupt:
        pass


@detect_app.command("evaluate")
def detect_evaluate(
    rules: Path = RULES,
    warehouse: Path | None = typer.Option(None, help="Demo warehouse file."),
    namespace: str = typer.Option("retail", help="Namespace with the incidents table."),
):
    """Precision and recall of the rules against the demo's labelled incidents."""
    import workbench
    from workbench.anomaly.jobs_eval import evaluate_rules

    report = evaluate_rules(
        workbench.connect(warehouse=warehouse, read_only=True, cache="none"),
        _rules(rules),
        namespace,
    )
    for line in report["jobs"]:
        out.print(line, highlight=False)
    for m in report["matches"]:
        out.print(
            f"#{m['incident_id']} {m['kind']:<14} {m['start']}  {'found' if m['found'] else 'MISSED'}",
            highlight=False,
        )
    out.print(
        json.dumps(
            {
                k: report[k]
                for k in (
                    "precision",
                    "recall",
                    "found",
                    "true_incidents",
                    "detected_incidents",
                    "correct_detections",
                )
            }
        )
    )


@alerts_app.command("validate")
def alerts_validate(rules: Path = RULES):
    """Check every rule file; errors name the file, line and field."""
    loaded = _rules(rules)
    out.print(f"{len(loaded)} rule(s) OK: {', '.join(r.name for r in loaded)}", highlight=False)


@alerts_app.command("list")
def alerts_list(
    db: Path = DB, status: str | None = typer.Option(None, help="open, acknowledged or resolved.")
):
    """List incidents."""
    from workbench.anomaly.incidents import IncidentStore

    t = Table("id", "status", "severity", "title", "first", "last", "anomalies")
    for i in IncidentStore(db).list(status):
        t.add_row(
            str(i["id"]),
            i["status"],
            i["severity"],
            i["title"],
            i["first_ts"],
            i["last_ts"],
            str(i["n_anomalies"]),
        )
    out.print(t)


@alerts_app.command("show")
def alerts_show(incident_id: int, db: Path = DB):
    """One incident: its anomalies, insight, history and notifications."""
    from workbench.anomaly.incidents import IncidentError, IncidentStore

    store = IncidentStore(db)
    try:
        inc = store.get(incident_id)
    except IncidentError as e:
        _fail(str(e))
    out.print(
        json.dumps(
            {
                "incident": inc,
                "anomalies": store.anomalies(incident_id),
                "history": store.history(incident_id),
                "notifications": store.notifications(incident_id),
            },
            indent=1,
            default=str,
        )
    )


def _transition(action: str, incident_id: int, by: str, note: str | None, db: Path):
    from workbench.anomaly.incidents import IncidentError, IncidentStore

    try:
        inc = getattr(IncidentStore(db), action)(incident_id, by=by, note=note)
    except IncidentError as e:
        _fail(str(e))
    out.print(f"incident #{incident_id} is {inc['status']}", highlight=False)


@alerts_app.command("ack")
def alerts_ack(
    incident_id: int,
    by: str = typer.Option("cli", help="Who acknowledges."),
    note: str | None = typer.Option(None),
    db: Path = DB,
):
    """Acknowledge an incident (no more notifications for it)."""
    _transition("acknowledge", incident_id, by, note, db)


@alerts_app.command("resolve")
def alerts_resolve(
    incident_id: int,
    by: str = typer.Option("cli"),
    note: str | None = typer.Option(None),
    db: Path = DB,
):
    """Resolve an incident; a recurrence opens a new one."""
    _transition("resolve", incident_id, by, note, db)


@alerts_app.command("inbox")
def alerts_inbox(
    path: Path = typer.Option(Path(".workbench/anomaly/inbox.sqlite")),
    unread: bool = typer.Option(False, "--unread"),
):
    """Messages in the in-app inbox."""
    from workbench.anomaly.notifiers import Inbox

    for m in Inbox(path).messages(unread=unread):
        out.print(
            f"#{m['id']} {m['at']} [{m['severity']}] {m['title']} (incident {m['incident_id']})",
            highlight=False,
        )

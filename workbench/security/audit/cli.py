"""`workbench audit verify` and `workbench audit export`; registered in workbench/cli.py."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

from .errors import AuditError

if TYPE_CHECKING:  # imported where used, so `workbench --help` stays quick
    from ...config import Settings
    from .checkpoints import Checkpoint
    from .log import AuditLog

out = Console(highlight=False, soft_wrap=True)  # one line per message, whatever the width
err = Console(stderr=True, highlight=False, soft_wrap=True)

audit_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="The tamper-evident audit trail: verify it, export it to a SIEM.",
)

STORE = typer.Option(
    None,
    "--store",
    help="postgresql:// URL or SQLite file (default: workbench.yml audit.url or audit.path).",
)


class Format(str, Enum):
    ocsf = "ocsf"
    cef = "cef"


class Protocol(str, Enum):
    udp = "udp"
    tcp = "tcp"


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    raise typer.Exit(code)


def _open(store: str | None) -> tuple[AuditLog, Settings]:
    """The configured log; a missing embedded store is reported, never created by a reader."""
    from ...config import load_settings
    from .log import AuditLog

    settings = load_settings()
    a = settings.audit
    if store:
        a = a.model_copy(
            update={"url": store}
            if store.startswith(("postgresql://", "postgres://"))
            else {"url": None, "path": store}
        )
    if not a.url and not settings.path(a.path).exists():
        raise AuditError(
            f"no audit store at {settings.path(a.path)}: nothing has been recorded "
            "there yet (or set audit.url / --store)"
        )
    return AuditLog.open(settings.model_copy(update={"audit": a})), settings


@audit_app.command("verify")
def verify(
    store: str | None = STORE,
    public_key: Path | None = typer.Option(
        None, "--public-key", help="Ed25519 public key PEM (default: <audit.key_path>.pub)."
    ),
    anchor: Path | None = typer.Option(
        None,
        "--anchor",
        help="Checkpoints kept outside the store (the output of `workbench audit checkpoints`).",
    ),
) -> None:
    """Check every entry's hash, the chain's order and completeness, and every signed checkpoint.

    Exit code 0: intact; 1: tampered (each problem is listed); 2: could not check."""
    from .checkpoints import read_anchors

    try:
        anchors: list[Checkpoint] = []
        if anchor is not None:
            try:
                anchors = read_anchors(anchor.read_text().splitlines(), str(anchor))
            except OSError as e:
                raise AuditError(f"cannot read anchor file {anchor}: {e.strerror}") from None
        log, settings = _open(store)
        with log:
            report = log.verify(
                public_key if public_key else settings.path(settings.audit.key_path + ".pub"),
                anchors,
            )
    except AuditError as e:
        _fail(str(e))
    for p in report.problems:
        out.print(f"  {p}", markup=False)
    out.print(report.summary(), markup=False)
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("export")
def export(
    since: str | None = typer.Option(
        None,
        "--since",
        help="ISO date/time (UTC) or a duration back from now: 15m, 24h, 7d. Default: everything.",
    ),
    fmt: Format = typer.Option(Format.ocsf, "--format", "-f", help="OCSF 1.x JSON lines or CEF."),
    syslog: str | None = typer.Option(
        None,
        "--syslog",
        help="Send to this syslog receiver (host:port) as RFC 5424 messages instead of printing.",
    ),
    send: bool = typer.Option(
        False, "--send", help="Send to the configured receiver (audit.syslog)."
    ),
    protocol: Protocol | None = typer.Option(
        None, "--protocol", help="Syslog transport (default: audit.syslog_protocol)."
    ),
    store: str | None = STORE,
) -> None:
    """Export entries for a SIEM: print one line per entry, or send them over syslog."""
    from .cef import syslog_message
    from .siem import formatter
    from .syslog_sender import SyslogSender

    try:
        log, settings = _open(store)
        with log:
            line = formatter(fmt.value)
            entries = log.entries(since=since)  # streamed: a large export holds one batch
            if send and not syslog:
                syslog = settings.audit.syslog
                if not syslog:
                    raise AuditError(
                        "--send needs a receiver: set audit.syslog in workbench.yml "
                        "or give --syslog host:port"
                    )
            if not syslog:
                n = 0
                for entry in entries:
                    sys.stdout.write(line(entry) + "\n")
                    n += 1
                err.print(f"{n} entries exported as {fmt.value}")
                return
            proto = protocol.value if protocol else settings.audit.syslog_protocol
            with SyslogSender(syslog, proto) as sender:
                for entry in entries:
                    sender.send(syslog_message(entry, None if fmt == Format.cef else line(entry)))
            err.print(f"{sender.sent} entries sent to {syslog} over {proto} as {fmt.value}")
    except AuditError as e:
        _fail(str(e))


@audit_app.command("checkpoints")
def checkpoints(store: str | None = STORE) -> None:
    """Print the signed checkpoints as JSON lines, to keep somewhere the store's writers cannot
    reach; `verify --anchor FILE` then also catches a tail removed with its checkpoints."""
    from .checkpoints import to_json

    try:
        log, _ = _open(store)
        with log:
            cps = log.store.checkpoints()
    except AuditError as e:
        _fail(str(e))
    for cp in cps:
        sys.stdout.write(to_json(cp) + "\n")

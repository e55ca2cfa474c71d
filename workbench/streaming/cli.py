"""`workbench ingest PIPELINE`: run one pipeline in the foreground.

Wired into workbench/cli.py with:  app.command("ingest")(workbench.streaming.cli.ingest)
"""

from __future__ import annotations

import signal
import threading
import time

import typer


def ingest(
    pipeline: str = typer.Argument(
        ..., help="Pipeline name (pipelines/<name>.yml) or path to a spec."
    ),
    warehouse: str | None = typer.Option(
        None, "--warehouse", "-w", help="DuckDB file (default: workbench.yml)."
    ),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", help="Serve Prometheus metrics on this port."
    ),
    status_every: float = typer.Option(
        5.0, "--status-every", help="Print status every N seconds (0: never)."
    ),
    max_seconds: float | None = typer.Option(
        None, "--max-seconds", help="Stop after N seconds (tests)."
    ),
) -> None:
    """Run a streaming pipeline in the foreground until Ctrl-C (the current batch is committed)."""
    from rich.console import Console

    from ..semantic.errors import SemanticError
    from . import load_pipeline

    out, err = Console(), Console(stderr=True)
    try:
        p = load_pipeline(pipeline, warehouse=warehouse)
    except (SemanticError, FileNotFoundError, KeyError) as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    port = metrics_port or p.spec.metrics_port
    if port:
        p.serve_metrics(port)
    stop = threading.Event()

    def _signal(*_):
        stop.set()

    signal.signal(signal.SIGINT, _signal)
    signal.signal(signal.SIGTERM, _signal)
    out.print(
        f"ingest [bold]{p.name}[/] ({p.spec.source.kind}) -> {p.warehouse}"
        + (f"; metrics on :{port}" if port else ""),
        highlight=False,
    )
    runner = threading.Thread(target=p._run_safe, args=(stop,), daemon=True)
    runner.start()
    t0 = time.monotonic()
    last = t0
    while runner.is_alive():
        runner.join(0.2)
        now = time.monotonic()
        if max_seconds is not None and now - t0 >= max_seconds:
            stop.set()
        if status_every and now - last >= status_every:
            last = now
            s = p.status()
            out.print(
                f"{s['state']}: {s['events_total']} events, {s['events_per_s']}/s, lag {s['lag_events']} "
                f"events / {s['lag_s']} s, p99 {s['latency_p99_s']} s, dead letters {s['dead_letters']}, "
                f"at {s['position']}",
                highlight=False,
            )
    runner.join()
    s = p.status()
    if s["state"] == "failed":
        err.print(f"[bold red]error:[/] {s['error']}", highlight=False)
        raise typer.Exit(1)
    out.print(f"stopped: {s['events_total']} events, position {s['position']}", highlight=False)


def main(argv: list[str] | None = None) -> int:
    app = typer.Typer(add_completion=False)
    app.command()(ingest)
    try:
        app(argv, standalone_mode=False)
    except typer.Exit as e:
        return e.exit_code
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`workbench validate SUITE [--engine ENGINE]` (wired into workbench/cli.py).

from .quality.cli import validate as _validate
app.command(name="validate")(_validate)
"""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from ..cli_options import engine_name

out = Console()
err = Console(stderr=True)


def validate(
    suite: str = typer.Argument(
        ..., help="Suite name in pipelines/quality/ (orders) or a YAML path."
    ),
    engine: str = typer.Option(
        "duckdb",
        callback=engine_name,
        metavar="ENGINE",
        help="Where the expectations run: a registered engine.",
    ),
    warehouse: str | None = typer.Option(
        None, help="DuckDB warehouse (default from workbench.yml)."
    ),
    no_docs: bool = typer.Option(False, "--no-docs", help="Skip Great Expectations Data Docs."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
):
    """Validate a suite: failing rows are quarantined, results and scores stored in the warehouse.
    Exits 1 when a check fails."""
    from ..semantic.errors import SemanticError
    from .runner import validate as run

    try:
        r = run(warehouse, suite, engine, data_docs=not no_docs)
    except (SemanticError, ValueError, OSError) as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(2) from None
    except Exception as e:  # noqa: BLE001  an engine that is down (PostgreSQL, Spark): one line, no traceback
        first = (str(e).strip().splitlines() or [""])[0]
        from rich.markup import escape

        err.print(
            "[bold red]error:[/] "
            + escape(f"validating '{suite}' on {engine} failed: {type(e).__name__}: {first}"),
            highlight=False,
        )
        raise typer.Exit(2) from None
    if as_json:
        out.print_json(json.dumps(r.to_dict(), default=str))
    else:
        t = Table(title=f"{r.suite} on {r.engine} · run {r.run_id}")
        for c in ("check", "dimension", "result", "failing rows"):
            t.add_column(c)
        for o in r.outcomes:
            t.add_row(
                o.name,
                o.dimension,
                "[green]pass[/]" if o.success else "[red]FAIL[/]",
                "" if o.unexpected_count is None else f"{o.unexpected_count:,}",
            )
        out.print(t)
        out.print(r.score.explain(), highlight=False, markup=False)
        for a in r.alerts:
            out.print(f"alert {a.kind}: {a.message}", highlight=False, markup=False)
        out.print(
            f"{len(r.quarantined)} rows quarantined; data docs: {r.data_docs or '-'}",
            highlight=False,
            markup=False,
        )
    raise typer.Exit(0 if r.passed else 1)


app = typer.Typer(add_completion=False)
app.command(name="validate")(validate)

"""The `workbench` command. Every subcommand has --help; no traceback ever reaches the user."""

from __future__ import annotations

import json
import sys
from enum import Enum
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from .cli_options import engine_name
from .semantic.errors import EngineError, SemanticError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    help="Workbench: governed metrics for notebooks, apps and pipelines.",
)
out = Console()
err = Console(stderr=True)


class Fmt(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class Grain(str, Enum):
    second = "second"
    minute = "minute"
    hour = "hour"
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"
    fiscal_quarter = "fiscal_quarter"
    fiscal_year = "fiscal_year"


def _fail(message: str, code: int = 2):
    from rich.markup import escape  # messages quote YAML and lists: [..] is not markup

    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@app.command()
def query(
    model: str = typer.Argument(..., help="Namespace (retail) or model (retail.orders)."),
    metrics: list[str] | None = typer.Option(
        None, "--metrics", "-m", help="Comma-separated metrics."
    ),
    dimensions: list[str] | None = typer.Option(
        None, "--dimensions", "-d", help="Comma-separated dimensions."
    ),
    where: list[str] | None = typer.Option(
        None, "--where", "-w", help="Filter expression; repeatable."
    ),
    segment: list[str] | None = typer.Option(None, "--segment", help="Named segment; repeatable."),
    grain: Grain | None = typer.Option(None, help="Grain of time dimensions."),
    time_range: str | None = typer.Option(
        None, "--time-range", "-t", help="'last 90 days', '2024-Q2', ..."
    ),
    order: list[str] | None = typer.Option(
        None, "--order", "-o", help="Order by; prefix '-' for descending."
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", min=0, help="At most N rows."),
    via: list[str] | None = typer.Option(
        None,
        "--via",
        help="Join path through these models or joins, when two paths are equally short.",
    ),
    top: str | None = typer.Option(
        None,
        "--top",
        help="Top N per group, ties kept: '3 revenue per region' (or '3 revenue' overall).",
    ),
    define: str | None = typer.Option(
        None,
        "--define",
        help='Query-time members as JSON, e.g. \'{"customer.n": {"metric": "orders"}}\'.',
    ),
    engine: str | None = typer.Option(
        None,
        callback=engine_name,
        metavar="ENGINE",
        help="A registered engine (default from workbench.yml).",
    ),
    as_: str | None = typer.Option(None, "--as", help="Run as this principal (principals file)."),
    sql: bool = typer.Option(False, "--sql", help="Print the generated SQL instead of running it."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", help="Output format."),
):
    """Run a governed metric query, e.g. [cyan]workbench query retail -m revenue,aov -d region --grain month[/]."""
    import workbench

    wb = workbench.connect(engine=engine, read_only=True, principal=as_)
    try:
        defs = json.loads(define) if define else None
    except json.JSONDecodeError as e:
        _fail(f"--define is not valid JSON: {e.msg} (column {e.colno}).")
    if defs is not None and not isinstance(defs, dict):
        _fail('--define must be a JSON object of {"model.name": {member fields}}.')
    q = wb.query(
        model,
        _split(metrics),
        _split(dimensions),
        where=where or None,
        segments=_split(segment),
        grain=grain.value if grain else None,
        time_range=time_range,
        order=_split(order),
        limit=limit,
        via=_split(via) or None,
        define=defs,
        top=_top(top) if top else None,
    )
    if sql:
        out.print(q.sql(), highlight=False, markup=False, soft_wrap=True)
        return
    df = q.df
    if fmt == Fmt.json:
        sys.stdout.write(df.to_json(orient="records", date_format="iso") + "\n")
    elif fmt == Fmt.csv:
        df.to_csv(sys.stdout, index=False)
    else:
        meta = wb.describe(q.spec)
        t = Table(title=f"{model} as {wb.principal.user}", show_lines=False)
        for c in df.columns:
            t.add_column(
                meta.get(c, {}).get("label", c),
                justify="right" if df[c].dtype.kind in "if" else "left",
            )
        for row in df.head(1000).itertuples(index=False):
            t.add_row(*[_fmt(v) for v in row])
        out.print(t)
        if len(df) > 1000:
            out.print(f"… {len(df) - 1000} more rows (use --format csv)")


def _top(text: str) -> dict:
    """'3 revenue per region, channel' -> {'n': 3, 'by': 'revenue', 'per': [...]}"""
    head, _, per = text.partition(" per ")
    parts = head.split()
    if len(parts) != 2 or not parts[0].isdigit():
        _fail(f"--top {text!r}: write 'N METRIC [per DIMENSION,...]', e.g. '3 revenue per region'.")
    return {"n": int(parts[0]), "by": parts[1], "per": _split([per]) if per else []}


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:,.4f}".rstrip("0").rstrip(".")
    return "" if v is None else str(v)


@app.command()
def models(
    namespace: str | None = typer.Argument(None, help="Only this namespace."),
    as_: str | None = typer.Option(None, "--as", help="As this principal (hidden members vanish)."),
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f"),
):
    """List models, metrics and dimensions with their descriptions."""
    import workbench

    wb = workbench.connect(read_only=True, principal=as_)
    items = wb.catalog(namespace)
    if fmt == Fmt.json:
        sys.stdout.write(json.dumps(items, default=str, indent=1) + "\n")
        return
    for ns in sorted({e["namespace"] for e in items}):
        t = Table(title=f"namespace {ns}", show_lines=False)
        for col in ("kind", "member", "type", "description"):
            t.add_column(col, overflow="fold")
        for e in items:
            if e["namespace"] != ns:
                continue
            name = e["model"] if e["kind"] == "model" else f"{e['model']}.{e['name']}"
            t.add_row(e["kind"], name, str(e["type"] or ""), e["description"])
        out.print(t)


@app.command()
def seed(
    scale: float = typer.Option(
        1.0, "--scale", min=0.001, help="1.0 ≈ 450k orders, 1M order lines."
    ),
    seed_: int = typer.Option(42, "--seed", help="Random seed: same seed and end, same data."),
    end: str | None = typer.Option(
        None, help="Exclusive end of history, YYYY-MM-DD (default: today)."
    ),
    path: Path | None = typer.Option(None, help="Warehouse file (default from workbench.yml)."),
):
    """Build the retail demo warehouse (customers, products, stores, orders, incidents)."""
    from .config import load_settings
    from .warehouse.seed import build_demo_warehouse

    s = load_settings()
    info = build_demo_warehouse(path or s.path(s.warehouse), scale=scale, seed=seed_, end=end)
    rows = ", ".join(f"{k}={v:,}" for k, v in info["rows"].items())
    out.print(
        f"[green]built[/] {info['path']} ({info['start']}..{info['end']}, "
        f"{info['seconds']}s): {rows}"
    )


@app.command()
def tpch(
    sf: str = typer.Option("0.1", "--sf", help="TPC-H scale factor."),
    out_path: Path | None = typer.Option(None, "--out", help="DuckDB file to write."),
):
    """Generate TPC-H data with tpchgen-cli and load it into DuckDB (for tests and benchmarks)."""
    from .config import load_settings
    from .warehouse.tpch import build_duckdb, duckdb_path

    root = load_settings().path(".workbench")
    path = build_duckdb(sf, out_path or duckdb_path(sf, root=root))
    out.print(f"[green]built[/] {path}. Query it with: workbench.connect(warehouse='{path}')")


@app.command()
def check():
    """Validate every model file against the warehouse (columns, joins, metrics)."""
    import workbench

    wb = workbench.connect(read_only=True)
    for name in wb.namespaces():
        space = wb.namespace(name)
        try:
            wb._bind(space)
            out.print(
                f"[green]ok[/] {space.loaded.path}: {len(space.models)} models, "
                f"{len(space.members)} members"
            )
        except EngineError as e:
            out.print(f"[yellow]skipped[/] {space.loaded.path}: {e}")
        except SemanticError as e:
            _fail(str(e))


@app.command()
def up(
    port: int = typer.Option(8888, help="JupyterLab port."),
    no_browser: bool = typer.Option(True, help="Do not open a browser."),
    scale: float = typer.Option(1.0, help="Demo warehouse scale if it must be built."),
):
    """Build the demo warehouse if missing and start JupyterLab with the published apps."""
    from .up import run_up

    run_up(port=port, scale=scale, open_browser=not no_browser)


def _register_optional_commands() -> None:
    """Commands from other areas; each lives beside its code."""
    from .quality.cli import validate as _validate
    from .streaming.cli import ingest as _ingest

    app.command(name="validate")(_validate)
    app.command(name="ingest")(_ingest)
    from .anomaly.cli import alerts_app, detect_app

    app.add_typer(detect_app, name="detect")
    app.add_typer(alerts_app, name="alerts")
    from .security.audit.cli import audit_app
    from .security.users_cli import users_app

    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")


_register_optional_commands()


def main() -> None:
    try:
        app()
    except SemanticError as e:
        from rich.markup import escape

        err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as e:  # never a traceback for people; the type helps a bug report
        from rich.markup import escape

        err.print(
            f"[bold red]unexpected error ({type(e).__name__}):[/] {escape(str(e))}", highlight=False
        )
        sys.exit(1)


if __name__ == "__main__":
    main()

"""`workbench users ...`: manage the people who may log in. Wired into workbench/cli.py with

    from .security.users_cli import users_app
    app.add_typer(users_app, name="users")

Passwords are read from a hidden prompt or, for scripts, one line of standard input
(--password-stdin); never from an argument, which would land in shell history and `ps`.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import sys
from enum import Enum
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

from ..config import Settings, load_settings
from ..semantic.errors import SemanticError
from .auth_errors import AuthError
from .users import Role, UserStore

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one line per error, whatever the width

users_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Users who may log in: add, passwd, disable, enable, list.",
)

DB = typer.Option(None, "--db", help="Users store (default: auth.users_db in workbench.yml).")
STDIN = typer.Option(
    False, "--password-stdin", help="Read the password from one line of standard input."
)


class Fmt(str, Enum):
    table = "table"
    json = "json"


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
    raise typer.Exit(code)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _settings() -> Settings:
    try:
        return load_settings()
    except SemanticError as e:
        _fail(str(e))


def _store(db: Path | None) -> UserStore:
    s = _settings()
    try:
        return UserStore(
            db or s.path(s.auth.users_db), min_password_length=s.auth.min_password_length
        )
    except OSError as e:
        _fail(f"cannot open the users store {db or s.auth.users_db}: {e.strerror or e}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            _fail("--password-stdin: standard input had no password line.")
        return password
    if not sys.stdin.isatty():
        _fail("no terminal to ask for the password; pipe it in with --password-stdin.")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _attributes(items: list[str] | None) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"--attr {item!r}: use NAME=VALUE, e.g. --attr region=North.")
        attributes[key.strip()] = value.strip()
    return attributes


@users_app.command("add")
def add(
    name: str = typer.Argument(..., help="Log-in name (lower case)."),
    role: list[Role] = typer.Option(..., "--role", "-r", help="Role; repeatable."),
    attr: list[str] | None = typer.Option(
        None, "--attr", "-a", help="Attribute NAME=VALUE (e.g. region=North); repeatable."
    ),
    password_stdin: bool = STDIN,
    db: Path | None = DB,
) -> None:
    """Add a user, e.g. [cyan]workbench users add ann --role analyst --attr region=North[/]."""
    store = _store(db)
    attributes = _attributes(attr)
    try:
        if store.get(name) is not None:  # say so before asking for a password
            _fail(f"User {name!r} already exists.")
        store.add(
            name, _password(password_stdin), [r.value for r in role], attributes, actor=_actor()
        )
    except AuthError as e:
        _fail(str(e))
    out.print(f"[green]added[/] {name} ({', '.join(r.value for r in role)})", highlight=False)


@users_app.command("passwd")
def passwd(
    name: str = typer.Argument(..., help="Log-in name."),
    password_stdin: bool = STDIN,
    db: Path | None = DB,
) -> None:
    """Set a user's password."""
    store = _store(db)
    if store.get(name) is None:
        _fail(f"No user {name!r}.")
    try:
        store.set_password(name, _password(password_stdin), actor=_actor())
    except AuthError as e:
        _fail(str(e))
    out.print(f"[green]password changed[/] for {name}", highlight=False)


def _set_disabled(name: str, disabled: bool, db: Path | None) -> int:
    store = _store(db)
    try:
        store.set_disabled(name, disabled, actor=_actor())
    except AuthError as e:
        _fail(str(e))
    if not disabled:
        return 0
    from .refresh import SessionStore

    s = _settings()
    # Disabled users are refused on every request anyway; ending their sessions also stops refresh.
    return SessionStore.from_settings(s.auth, s.path(s.auth.sessions_db)).revoke_user(
        name, actor=_actor(), reason="user_disabled"
    )


@users_app.command("disable")
def disable(name: str = typer.Argument(..., help="Log-in name."), db: Path | None = DB) -> None:
    """Disable a user: log-in, refresh and every access token of theirs are refused from now on."""
    n = _set_disabled(name, True, db)
    out.print(f"[yellow]disabled[/] {name}; {n} session(s) revoked", highlight=False)


@users_app.command("enable")
def enable(name: str = typer.Argument(..., help="Log-in name."), db: Path | None = DB) -> None:
    """Enable a disabled user again (they log in anew)."""
    _set_disabled(name, False, db)
    out.print(f"[green]enabled[/] {name}", highlight=False)


@users_app.command("list")
def list_users(
    fmt: Fmt = typer.Option(Fmt.table, "--format", "-f", help="Output format."),
    db: Path | None = DB,
) -> None:
    """List users with roles, attributes and state (never a password hash)."""
    users = _store(db).list()
    if fmt == Fmt.json:
        sys.stdout.write(
            json.dumps(
                [
                    {
                        "name": u.name,
                        "roles": list(u.roles),
                        "attributes": u.attributes,
                        "disabled": u.disabled,
                        "created_at": u.created_at,
                        "updated_at": u.updated_at,
                    }
                    for u in users
                ],
                indent=1,
            )
            + "\n"
        )
        return
    t = Table(title=f"{len(users)} user(s)")
    for col in ("name", "roles", "attributes", "state", "updated"):
        t.add_column(col)
    for u in users:
        t.add_row(
            u.name,
            ", ".join(u.roles),
            ", ".join(f"{k}={v}" for k, v in u.attributes.items()),
            "disabled" if u.disabled else "enabled",
            dt.datetime.fromtimestamp(u.updated_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )
    out.print(t)

"""`workbench users`: what the commands print and store, and how each failure reads (one line,
no traceback).  The users and sessions files are real; the oracle is sqlite read directly."""

from __future__ import annotations

import datetime as dt
import getpass
import sqlite3

import pytest
from typer.testing import CliRunner

from workbench.security.refresh import SessionStore
from workbench.security.users import ROLES, UserStore
from workbench.security.users_cli import users_app

from .auth_support import PASSWORD, T0, cheap_hasher


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The CLI resolves workbench.yml and its default paths from the project root: tmp_path."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


def run(args, stdin=None):
    return CliRunner().invoke(users_app, args, input=stdin)


def one_line_error(r, message: str) -> None:
    assert r.exit_code == 2 and message in r.output, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_list_shows_roles_attributes_state_and_time_never_a_hash(home, tmp_path):
    db = tmp_path / "u.sqlite"
    store = UserStore(db, hasher=cheap_hasher(), clock=lambda: T0)
    store.add("ann", PASSWORD, ["analyst", "admin"], {"region": "North"})
    store.add("vic", PASSWORD, ["viewer"])
    store.set_disabled("vic", True)
    r = CliRunner().invoke(users_app, ["list", "--db", str(db)], terminal_width=200)
    assert r.exit_code == 0, r.output
    rows = {line.split("│")[1].strip(): line for line in r.output.splitlines() if "│" in line}
    when = dt.datetime.fromtimestamp(T0, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert "2 user(s)" in r.output
    ann, vic = rows["ann"], rows["vic"]
    assert "analyst, admin" in ann and "region=North" in ann and "enabled" in ann and when in ann
    assert "viewer" in vic and "disabled" in vic
    assert "argon2" not in r.output


def test_a_role_outside_the_list_is_refused_naming_the_choices(home, tmp_path):
    r = run(["add", "bob", "--role", "superuser", "--password-stdin", "--db", str(tmp_path / "u")])
    assert r.exit_code == 2 and "superuser" in r.output
    for role in ROLES:
        assert role in r.output


def test_adding_an_existing_user_fails_before_asking_for_a_password(home, tmp_path):
    db = tmp_path / "u.sqlite"
    UserStore(db, hasher=cheap_hasher()).add("ann", PASSWORD, ["viewer"])
    # no --password-stdin and no terminal: asking for a password would fail differently
    one_line_error(
        run(["add", "ann", "-r", "analyst", "--db", str(db)]), "User 'ann' already exists."
    )
    assert UserStore(db).get("ann").roles == ("viewer",)


def test_passwd_refuses_a_short_password_and_keeps_the_old_one(home, tmp_path):
    db = tmp_path / "u.sqlite"
    UserStore(db, hasher=cheap_hasher()).add("ann", PASSWORD, ["viewer"])
    one_line_error(
        run(["passwd", "ann", "--password-stdin", "--db", str(db)], "short\n"), "Password too short"
    )
    assert UserStore(db).authenticate("ann", PASSWORD).name == "ann"


def test_a_users_store_that_cannot_be_opened_is_named(home, tmp_path):
    (tmp_path / "afile").write_text("")
    one_line_error(
        run(["list", "--db", str(tmp_path / "afile" / "u.sqlite")]), "cannot open the users store"
    )


def test_a_bad_workbench_yml_is_one_line_naming_the_field(home):
    (home / "workbench.yml").write_text("auth:\n  access_token_s: 5000\n")
    r = run(["list"])
    one_line_error(r, "access_token_s")


@pytest.mark.parametrize("user_known", [True, False])
def test_disable_revokes_sessions_in_the_name_of_the_local_account(
    home, tmp_path, monkeypatch, user_known
):
    db = tmp_path / "u.sqlite"
    UserStore(db, hasher=cheap_hasher()).add("ann", PASSWORD, ["viewer"])
    sessions = SessionStore(home / ".workbench" / "security" / "sessions.sqlite")
    for _ in range(2):
        sessions.start("ann")
    sessions.start("bob")
    if user_known:
        expected = f"cli:{getpass.getuser()}"
    else:  # a container user without a passwd entry

        def no_such_user():
            raise KeyError("getpwuid(): uid not found: 12345")

        monkeypatch.setattr(getpass, "getuser", no_such_user)
        expected = "cli"
    r = run(["disable", "ann", "--db", str(db)])
    assert r.exit_code == 0 and "2 session(s) revoked" in r.output, r.output
    con = sqlite3.connect(home / ".workbench" / "security" / "sessions.sqlite")
    got = con.execute(
        "select sub, revoked_reason, revoked_by from families order by sub"
    ).fetchall()
    assert got == [("ann", "user_disabled", expected)] * 2 + [("bob", None, None)]

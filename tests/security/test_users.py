"""The users store and `workbench users`: argon2id, rehash, one failure for every cause."""

from __future__ import annotations

import sqlite3
import statistics
import time

import pytest
from argon2 import PasswordHasher, extract_parameters
from typer.testing import CliRunner

from workbench.security.auth_errors import LoginFailed, UserStoreError
from workbench.security.users import ROLES, UserStore, create_demo_users
from workbench.security.users_cli import users_app

from .auth_support import PASSWORD, cheap_hasher


def test_authenticate(users, audit):
    u = users.authenticate("ann", PASSWORD)
    assert (u.name, u.roles, u.attributes, u.disabled) == (
        "ann",
        ("analyst",),
        {"region": "North"},
        False,
    )
    assert audit.last == ("login.success", {"user": "ann"})


@pytest.mark.parametrize(
    "name,password,reason",
    [
        ("ann", "wrong password!", "bad_password"),
        ("nobody", PASSWORD, "unknown_user"),
        ("ann", "", "bad_password"),
    ],
)
def test_every_failure_looks_the_same(users, audit, name, password, reason):
    with pytest.raises(LoginFailed) as e:
        users.authenticate(name, password)
    assert str(e.value) == "Wrong user name or password." and e.value.reason == reason
    assert audit.last == ("login.failure", {"user": name, "reason": reason})


def test_disabled_user_cannot_log_in(users, audit):
    users.set_disabled("ann", True)
    with pytest.raises(LoginFailed) as e:
        users.authenticate("ann", PASSWORD)
    assert e.value.reason == "user_disabled" and str(e.value) == "Wrong user name or password."
    assert (
        not users.is_active("ann") and users.is_disabled("ann") and not users.is_disabled("nobody")
    )
    users.set_disabled("ann", False)
    assert users.authenticate("ann", PASSWORD).name == "ann"
    assert [a for a, _ in audit.events if a.startswith("user.")][-2:] == [
        "user.disable",
        "user.enable",
    ]


def test_unknown_user_costs_a_real_hash(tmp_path):
    """With the default (production) argon2 parameters, an unknown name takes about as long as
    a wrong password, so timing does not reveal which names exist."""
    store = UserStore(tmp_path / "u.sqlite")
    store.add("ann", PASSWORD, ["analyst"])
    with pytest.raises(LoginFailed):
        store.authenticate("nobody", PASSWORD)  # the dummy hash is made on first need

    def median(name):
        times = []
        for _ in range(3):
            t = time.perf_counter()
            with pytest.raises(LoginFailed):
                store.authenticate(name, "wrong password!")
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    known, unknown = median("ann"), median("nobody")
    assert known > 0.005  # a real argon2id verify, not a string compare
    assert unknown > 0.5 * known, (known, unknown)


def test_hashes_are_argon2id_and_upgraded_when_parameters_change(tmp_path, audit):
    path = tmp_path / "u.sqlite"
    weak = UserStore(path, hasher=cheap_hasher())
    weak.add("ann", PASSWORD, ["analyst"])

    def stored():
        with sqlite3.connect(path) as con:
            return con.execute("select hash from users where name='ann'").fetchone()[0]

    before = stored()
    assert before.startswith("$argon2id$") and extract_parameters(before).time_cost == 1
    stronger = PasswordHasher(time_cost=2, memory_cost=16 * 1024, parallelism=1)
    store = UserStore(path, hasher=stronger, audit=audit)
    store.authenticate("ann", PASSWORD)
    after = stored()
    assert after != before and extract_parameters(after).time_cost == 2
    assert ("user.rehash", {"user": "ann"}) in audit.events
    assert store.authenticate("ann", PASSWORD).name == "ann"
    assert PASSWORD not in path.read_bytes().decode("latin-1")


@pytest.mark.parametrize(
    "call,reason",
    [
        (lambda s: s.add("Bob Smith", PASSWORD, ["viewer"]), "bad_name"),
        (lambda s: s.add("bob", PASSWORD, ["superuser"]), "bad_role"),
        (lambda s: s.add("bob", PASSWORD, []), "bad_role"),
        (lambda s: s.add("bob", "short", ["viewer"]), "weak_password"),
        (lambda s: s.add("bob", PASSWORD, ["viewer"], {"Region!": "x"}), "bad_attribute"),
        (lambda s: s.add("bob", PASSWORD, ["viewer"], {"region": ["a"]}), "bad_attribute"),
        (lambda s: s.add("ann", PASSWORD, ["viewer"]), "exists"),
        (lambda s: s.set_password("nobody", PASSWORD), "unknown_user"),
        (lambda s: s.set_disabled("nobody", True), "unknown_user"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(users, call, reason):
    with pytest.raises(UserStoreError) as e:
        call(users)
    assert e.value.reason == reason and str(e.value)


def test_password_change(users):
    users.set_password("ann", "a brand new passphrase")
    with pytest.raises(LoginFailed):
        users.authenticate("ann", PASSWORD)
    assert users.authenticate("ann", "a brand new passphrase").name == "ann"


def test_store_file_is_private(users):
    assert oct(users.path.stat().st_mode & 0o777) == "0o600"
    assert oct(users.path.parent.stat().st_mode & 0o777) in (
        "0o700",
        "0o755",
    )  # tmp_path is pytest's


def test_demo_users_one_per_role(tmp_path):
    store = UserStore(tmp_path / "u.sqlite", hasher=cheap_hasher())
    made = create_demo_users(store)
    assert sorted(u.roles[0] for u in store.list()) == sorted(ROLES)
    assert len(set(made.values())) == 4 and all(len(p) >= 20 for p in made.values())
    for name, password in made.items():
        assert store.authenticate(name, password).name == name
    assert create_demo_users(store) == {}  # printed once: a re-run makes and shows nothing


# ---- the CLI ---------------------------------------------------------------------------------
@pytest.fixture(autouse=False)
def home(tmp_path, monkeypatch):
    """The CLI resolves its default paths from the project root: point it at tmp_path."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


def run(args, stdin=None):
    return CliRunner().invoke(users_app, args, input=stdin)


def test_cli_add_list_disable_enable(home, tmp_path):
    db = str(tmp_path / "u.sqlite")
    r = run(
        [
            "add",
            "ann",
            "--role",
            "analyst",
            "--attr",
            "region=North",
            "--password-stdin",
            "--db",
            db,
        ],
        PASSWORD + "\n",
    )
    assert r.exit_code == 0 and "added ann" in r.output and PASSWORD not in r.output
    r = run(["list", "--format", "json", "--db", db])
    assert r.exit_code == 0 and '"region": "North"' in r.output and "argon2" not in r.output
    r = run(["disable", "ann", "--db", db])
    assert r.exit_code == 0 and UserStore(db).is_disabled("ann")
    assert (
        home / ".workbench/security/sessions.sqlite"
    ).exists()  # its sessions were revoked there
    r = run(["enable", "ann", "--db", db])
    assert r.exit_code == 0 and UserStore(db).is_active("ann")
    r = run(["passwd", "ann", "--password-stdin", "--db", db], "another long passphrase\n")
    assert r.exit_code == 0
    assert UserStore(db).authenticate("ann", "another long passphrase").name == "ann"


@pytest.mark.parametrize(
    "args,stdin,message",
    [
        (["add", "ann", "-r", "analyst", "--password-stdin"], "short\n", "Password too short"),
        (["add", "ann", "-r", "analyst"], "", "no terminal"),
        (["add", "ann", "-r", "analyst", "--password-stdin"], "", "no password line"),
        (
            ["add", "ann", "-r", "analyst", "--attr", "region", "--password-stdin"],
            PASSWORD,
            "NAME=VALUE",
        ),
        (["passwd", "zed", "--password-stdin"], PASSWORD, "No user 'zed'"),
        (["disable", "zed"], None, "No user 'zed'"),
    ],
)
def test_cli_errors_are_one_line(home, tmp_path, args, stdin, message):
    r = run(args + ["--db", str(tmp_path / "u.sqlite")], stdin)
    assert r.exit_code == 2 and message in r.output, r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["add", "passwd", "disable", "enable", "list"])
def test_cli_help(command):
    r = run([command, "--help"])
    assert r.exit_code == 0 and "Usage" in r.output

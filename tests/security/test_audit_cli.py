"""`workbench audit verify|export`: exit codes, one-line errors, --help, registration."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from workbench.config import AuditSettings
from workbench.security.audit import AuditLog
from workbench.security.audit.cli import audit_app

from .audit_support import Attacker, fill


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    path = tmp_path / "a.sqlite"
    log = AuditLog.open(
        AuditSettings(path=str(path), checkpoint_every=5, key_path=str(tmp_path / "k.pem"))
    )
    fill(log, 12)
    log.close()
    return path


def run(*args):
    return CliRunner().invoke(audit_app, list(args))


def test_verify_exit_codes(store, tmp_path):
    ok = run("verify", "--store", str(store), "--public-key", str(tmp_path / "k.pem.pub"))
    assert ok.exit_code == 0 and ok.output.startswith("ok: 12 entries, 2 checkpoints"), ok.output
    a = Attacker("sqlite", str(store))
    a.run("DELETE FROM {e} WHERE seq = 4")
    a.close()
    bad = run("verify", "--store", str(store), "--public-key", str(tmp_path / "k.pem.pub"))
    assert bad.exit_code == 1
    assert "missing: entry 4 is not in the store" in bad.output and "TAMPERED" in bad.output


def test_checkpoints_kept_outside_anchor_verification(store, tmp_path):
    cps = run("checkpoints", "--store", str(store))
    assert cps.exit_code == 0
    anchor = tmp_path / "anchors.jsonl"
    anchor.write_text(cps.stdout)
    assert [json.loads(x)["seq"] for x in cps.stdout.splitlines()] == [5, 10]
    a = Attacker("sqlite", str(store))
    a.run("DELETE FROM {e} WHERE seq > 7")
    a.run("DELETE FROM {c} WHERE seq > 7")
    a.close()
    pub = str(tmp_path / "k.pem.pub")
    assert run("verify", "--store", str(store), "--public-key", pub).exit_code == 0
    r = run("verify", "--store", str(store), "--public-key", pub, "--anchor", str(anchor))
    assert r.exit_code == 1 and "truncated: a signed checkpoint covers seq 10" in r.output
    anchor.write_text('{"seq": 1}\n')
    bad = run("verify", "--store", str(store), "--public-key", pub, "--anchor", str(anchor))
    assert bad.exit_code == 2 and f"{anchor}:1: not a checkpoint line" in bad.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["verify", "--store", "/nonexistent/a.sqlite"], "no audit store at /nonexistent/a.sqlite"),
        (["verify", "--public-key", "/nonexistent.pub"], "does not exist"),
        (["export", "--since", "someday"], "--since 'someday' is neither"),
        (["export", "--syslog", "host-without-port"], "must be host:port"),
    ],
)
def test_errors_are_one_line_without_traceback(store, args, message):
    if "--store" not in args:
        args = args + ["--store", str(store)]
    r = run(*args)
    assert r.exit_code == 2
    assert message in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_export_prints_one_json_line_per_entry(store):
    r = run("export", "--store", str(store), "--format", "ocsf")
    assert r.exit_code == 0
    lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
    assert [json.loads(x)["metadata"]["sequence"] for x in lines] == list(range(1, 13))


def test_every_command_has_help_and_is_registered():
    for cmd in ("verify", "export", "checkpoints"):
        r = run(cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.output
    p = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "audit", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0 and "verify" in p.stdout and "export" in p.stdout

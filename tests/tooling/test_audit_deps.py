"""scripts/audit_deps.py: what `make lint` makes of pip-audit's report.

The advisory service is not reachable from every machine, so pip-audit is stood in for by a
script that writes a report in pip-audit's own JSON format (--format json) and records the
arguments it was given.  What is under test is the wrapper's verdict, not pip-audit.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit_deps.py"


def fake_pip_audit(tmp_path: Path, report: dict) -> Path:
    exe = tmp_path / "pip-audit"
    exe.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import json, sys
        args = sys.argv[1:]
        open({str(tmp_path / "argv.json")!r}, "w").write(json.dumps(args))
        open(args[args.index("--output") + 1], "w").write({json.dumps(report)!r})
        """)
    )
    exe.chmod(0o755)
    return exe


def run(tmp_path: Path, report: dict, allow: str | None = None) -> subprocess.CompletedProcess:
    exe = fake_pip_audit(tmp_path, report)
    allow_file = tmp_path / "allow.toml"
    allow_file.write_text(allow or "")
    lock = tmp_path / "constraints.txt"
    lock.write_text("requests==2.0.0\nidna==3.0\n")
    # --allow is read relative to the repository root; an absolute path joins to itself.
    cmd = [
        sys.executable,
        str(SCRIPT),
        str(lock),
        "--allow",
        str(allow_file),
        "--pip-audit",
        str(exe),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "CI": "true"})


VULN = {
    "dependencies": [
        {
            "name": "requests",
            "version": "2.0.0",
            "vulns": [
                {
                    "id": "GHSA-aaaa-bbbb-cccc",
                    "fix_versions": ["2.32.0"],
                    "aliases": ["CVE-2024-0001"],
                    "description": "x",
                }
            ],
        },
        {"name": "idna", "version": "3.0", "vulns": []},
    ],
    "fixes": [],
}


def test_a_known_vulnerability_fails_and_is_named(tmp_path):
    r = run(tmp_path, VULN)
    assert r.returncode == 1
    assert "requests 2.0.0: GHSA-aaaa-bbbb-cccc (CVE-2024-0001); fixed in 2.32.0" in r.stderr


def test_an_allowed_advisory_is_passed_to_pip_audit_and_its_reason_printed(tmp_path):
    allowed = {
        **VULN,
        "dependencies": [{**VULN["dependencies"][0], "vulns": []}, VULN["dependencies"][1]],
    }
    allow = '[[ignore]]\nid = "GHSA-aaaa-bbbb-cccc"\nreason = "we never send requests to untrusted hosts"\n'
    r = run(tmp_path, allowed, allow)
    assert r.returncode == 0, r.stderr
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[argv.index("--ignore-vuln") + 1] == "GHSA-aaaa-bbbb-cccc"
    assert "allowed GHSA-aaaa-bbbb-cccc: we never send requests to untrusted hosts" in r.stdout
    assert "2 of 2 locked packages audited, no known vulnerabilities" in r.stdout


def test_an_unreachable_service_is_a_warning_not_a_pass_and_not_a_failure_in_ci(tmp_path):
    skip = "Dependency not found on PyPI and could not be audited"
    report = {
        "dependencies": [
            {"name": n, "version": v, "skip_reason": f"{skip}: {n} ({v})"}
            for n, v in (("requests", "2.0.0"), ("idna", "3.0"))
        ],
        "fixes": [],
    }
    r = run(tmp_path, report)
    assert r.returncode == 0
    assert "2 of 2 locked packages could NOT be audited" in r.stderr
    assert "NOT audited" in r.stdout and "no known vulnerabilities" not in r.stdout


@pytest.mark.parametrize(
    "entry", ['id = "GHSA-x"', 'reason = "because"', 'id = "GHSA-x"\nreason = "  "']
)
def test_an_allow_list_entry_needs_an_id_and_a_reason(tmp_path, entry):
    r = run(tmp_path, VULN, f"[[ignore]]\n{entry}\n")
    assert r.returncode == 1
    assert "[[ignore]] entry 1 needs both id and reason" in r.stderr

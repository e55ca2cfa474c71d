"""Audit the locked dependency set (constraints.txt) for known vulnerabilities: `make lint`.

pip-audit does the audit.  This wrapper exists for two things pip-audit does not do:
- an allow-list file whose entries must say why an advisory does not apply to us
  (.pip-audit-allow.toml; pip-audit only takes bare --ignore-vuln IDs);
- telling "no vulnerabilities" from "could not look": when the advisory service cannot be
  reached, pip-audit skips every package and still prints "No known vulnerabilities found"
  with exit 0.  Here that is a loud warning instead, never a silent pass.

Exit 1 when a vulnerability is found that the allow-list does not cover (laptop and CI alike), or
when the allow-list itself is malformed.  An unreachable service is a warning with exit 0 on a
laptop and in CI: a network outage is not a finding, and CI must not fail for it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_allow_list(path: Path) -> dict[str, str]:
    """{advisory id: reason}.  Every entry needs an id and a non-empty reason."""
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SystemExit(f"audit: {path.name}: not valid TOML: {e}") from None
    allowed: dict[str, str] = {}
    for i, entry in enumerate(data.get("ignore", []), 1):
        vid, reason = entry.get("id"), str(entry.get("reason", "")).strip()
        if not vid or not reason:
            raise SystemExit(f"audit: {path.name}: [[ignore]] entry {i} needs both id and reason")
        allowed[str(vid)] = reason
    return allowed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "lock", nargs="?", default="constraints.txt", help="requirements file with exact pins"
    )
    ap.add_argument("--allow", default=".pip-audit-allow.toml", help="allow-list file (TOML)")
    ap.add_argument(
        "--pip-audit",
        default=str(Path(sys.executable).with_name("pip-audit")),
        help="the pip-audit executable (default: the one beside this Python)",
    )
    ap.add_argument("--timeout", type=int, default=10, help="seconds per request to the service")
    args = ap.parse_args(argv)

    allowed = load_allow_list(ROOT / args.allow)
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "audit.json"
        # --no-deps --disable-pip: every line of the lock is an exact pin, so the packages are
        # read from it as they are; no resolver, no venv, no download of any package.
        cmd = [
            args.pip_audit,
            "-r",
            args.lock,
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--timeout",
            str(args.timeout),
            "--format",
            "json",
            "--output",
            str(report),
        ]
        for vid in allowed:
            cmd += ["--ignore-vuln", vid]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)  # noqa: S603  our argv
        if not report.exists():
            tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(
                f"audit: WARNING: pip-audit did not run to the end ({tail}); "
                "dependencies NOT audited",
                file=sys.stderr,
            )
            return 0
        data = json.loads(report.read_text())

    deps = data.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    found = [(d["name"], d["version"], v) for d in deps for v in d.get("vulns", [])]
    for name, version, v in found:
        fix = ", ".join(v.get("fix_versions") or []) or "no fixed release yet"
        aliases = ", ".join(v.get("aliases") or [])
        print(
            f"audit: {name} {version}: {v['id']}{f' ({aliases})' if aliases else ''}; fixed in {fix}",
            file=sys.stderr,
        )
    for vid, reason in allowed.items():
        print(f"audit: allowed {vid}: {reason}")
    audited = len(deps) - len(skipped)
    if skipped:
        print(
            f"audit: WARNING: {len(skipped)} of {len(deps)} locked packages could NOT be audited "
            f"(e.g. {skipped[0]['name']}: {skipped[0]['skip_reason']}). The advisory service is "
            "probably unreachable from here; run `make lint` where it is.",
            file=sys.stderr,
        )
    if found:
        print(
            f"audit: {len(found)} known vulnerabilities in {args.lock}: upgrade (make lock) or, if "
            f"one does not apply, add it to {args.allow} with the reason",
            file=sys.stderr,
        )
        return 1
    if audited == 0:
        print("audit: NOT audited: no advisory data could be read (see the warning above)")
    else:
        rest = " (the rest NOT audited, see the warning)" if skipped else ""
        print(
            f"audit: {audited} of {len(deps)} locked packages audited, no known vulnerabilities{rest}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

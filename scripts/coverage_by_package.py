"""Coverage per package of workbench/ (lines and branches), from the combined coverage data.

`make test` prints it after coverage's per-file report: the goals are per package (overall,
semantic/, security/), and coverage.py has no such roll-up.  Reads `coverage json` output.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def package_of(path: str) -> str:
    """workbench/semantic/compiler.py -> workbench/semantic; workbench/cli.py -> workbench (top)."""
    parts = Path(path).parts
    i = parts.index("workbench") if "workbench" in parts else 0
    rest = parts[i:]
    return "/".join(rest[:2]) if len(rest) > 2 else "workbench (top level)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--coverage", default=str(Path(sys.executable).with_name("coverage")))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        subprocess.run([args.coverage, "json", "--quiet", "-o", str(out)], check=True)  # noqa: S603
        files = json.loads(out.read_text())["files"]
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for path, data in files.items():
        s = data["summary"]
        for key in (package_of(path), "TOTAL"):
            t = totals[key]
            t[0] += s["covered_lines"]
            t[1] += s["num_statements"]
            t[2] += s.get("covered_branches", 0)
            t[3] += s.get("num_branches", 0)
    print(f"{'package':34} {'lines':>15} {'branches':>15} {'combined':>9}")
    for key in sorted(totals, key=lambda k: (k == "TOTAL", k)):
        cl, nl, cb, nb = totals[key]
        combined = 100.0 * (cl + cb) / (nl + nb) if nl + nb else 100.0
        line_pct = 100.0 * cl / nl if nl else 100.0
        br_pct = 100.0 * cb / nb if nb else 100.0
        print(f"{key:34} {line_pct:6.1f}% ({nl:>6}) {br_pct:6.1f}% ({nb:>6}) {combined:8.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The package keeps its layering: no import cycles between modules (lazy imports count) and no
private name (`_x`) imported from another module (issue 10, section 3).

The checker is the shared reviewers' tool, ../shared/tools/imports_check.py beside the repository
(read-only, on CI too), so this test and a reviewer see the same findings. It is run as a script,
as a reviewer runs it; its own exit code is not used because the allow-list below is ours.
"""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from pathlib import Path

from tests.support.prerequisites import skip_or_fail

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO.parent / "shared" / "tools" / "imports_check.py"

# Findings that other work in progress removes. Each is a pattern over one finding line; when
# that work lands, its author deletes the entry (an entry that matches nothing is warned about).
ALLOWED: dict[str, re.Pattern[str]] = {
    # (none left: the server package's cycle and its handlers_query._cell import went with the
    # server reshaped like jupyter_server, issue 10 section 4)
}


def findings() -> tuple[list[str], str]:
    if not CHECKER.is_file():
        skip_or_fail(
            f"the import checker {CHECKER} is missing (the shared folder sits beside the repo)"
        )
    run = subprocess.run(
        [sys.executable, str(CHECKER), str(REPO / "workbench")],  # noqa: S603
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = run.stdout.strip().splitlines()
    assert lines and re.match(r"^(holds|short): \d+ import cycles, \d+ private", lines[-1]), (
        f"the checker did not report (exit {run.returncode}): {run.stderr.strip()[-2000:]}"
    )
    return lines[:-1], lines[-1]


def test_no_import_cycles_and_no_private_cross_module_imports():
    found, summary = findings()
    modules = int(re.search(r"(\d+) modules", summary).group(1))
    assert modules > 100, (
        f"the checker saw only {modules} modules: is it reading workbench/? ({summary})"
    )
    used = {name: False for name in ALLOWED}
    new = []
    for line in found:
        hit = next((name for name, rx in ALLOWED.items() if rx.match(line)), None)
        if hit:
            used[hit] = True
        else:
            new.append(line)
    for name, was_used in used.items():
        if not was_used:
            warnings.warn(
                f"import hygiene allow-list entry {name!r} matches nothing: delete it", stacklevel=1
            )
    assert not new, (
        "import cycles or private cross-module imports (make the helper public "
        "within its package, or move the shared piece to the module it belongs in):\n"
        + "\n".join(new)
    )


def test_the_allow_list_does_not_hide_other_findings():
    """The allow-list patterns only cover their own packages and name."""
    other_cycle = "cycle: workbench.semantic.loader <-> workbench.semantic.validate"
    mixed_cycle = "cycle: workbench.server.handlers <-> workbench.semantic.loader"
    other_private = (
        "workbench.quality.runner imports private workbench.quality.ge_runtime._sa_url (line 9)"
    )
    for line in (other_cycle, mixed_cycle, other_private):
        assert not any(rx.match(line) for rx in ALLOWED.values()), line

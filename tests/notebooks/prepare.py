"""Build the small retail warehouse the notebooks are tested against (idempotent).

    .venv/bin/python tests/notebooks/prepare.py        # prints the path it made sure exists
    WORKBENCH_WAREHOUSE=$(.venv/bin/python tests/notebooks/prepare.py) \\
        .venv/bin/pytest --nbval-lax notebooks/

The notebooks call ``workbench.connect()``, which honours ``WORKBENCH_WAREHOUSE``; pointing it at
this file keeps the notebook run to seconds and independent of the full-size demo warehouse a
developer may be using (or rebuilding) at ``.workbench/warehouse.duckdb``. The history ends at a
fixed date so the file is the same on every machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PATH = REPO / ".workbench" / "test_warehouse.duckdb"
SCALE = 0.05
END = "2026-01-01"


def main() -> int:
    if not PATH.exists():
        from workbench.warehouse.seed import build_demo_warehouse

        build_demo_warehouse(PATH, scale=SCALE, end=END, progress=False)
    print(PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())

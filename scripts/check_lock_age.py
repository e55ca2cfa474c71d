"""Warn when the constraints lock is older than a limit (default 90 days).

Reads the date from the lock's own header line ``# Locked: YYYY-MM-DD`` rather than the file's
mtime, because a git checkout stamps every file with the checkout time.  A stale lock is a
warning, not a failure: the pinned set still reproduces, it just misses upstream fixes; the
remedy is ``make lock``.  A lock without a readable date is an error, since ``make lock``
always writes one and its absence means the file was edited by hand or truncated.

Standard library only: it runs before (and regardless of) the project's install.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

HEADER = re.compile(r"^#\s*Locked:\s*(\S+)")
# The header sits in the comment block at the top; stop at the first pin.
HEADER_LINES = 40


def locked_on(path: Path) -> dt.date:
    """The date in ``path``'s header; ValueError naming the file and line if there is none."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > HEADER_LINES or not line.startswith("#"):
                break
            match = HEADER.match(line)
            if match:
                try:
                    return dt.date.fromisoformat(match.group(1))
                except ValueError:
                    raise ValueError(
                        f"{path}:{lineno}: 'Locked:' date {match.group(1)!r} is not YYYY-MM-DD"
                    ) from None
    raise ValueError(f"{path}: no '# Locked: YYYY-MM-DD' line in its header; run `make lock`")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Warn when a constraints lock's header date is older than --max-days."
    )
    parser.add_argument("lock", type=Path, help="the lock file, e.g. constraints.txt")
    parser.add_argument(
        "--max-days", type=int, default=90, help="age in days past which to warn (default: 90)"
    )
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="YYYY-MM-DD to measure from instead of today's date",
    )
    args = parser.parse_args(argv)
    try:
        locked = locked_on(args.lock)
    except OSError as exc:
        print(f"check_lock_age: cannot read {args.lock}: {exc.strerror}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"check_lock_age: {exc}", file=sys.stderr)
        return 1
    today = args.today or dt.date.today()
    age = (today - locked).days
    if age > args.max_days:
        print(
            f"WARNING: {args.lock} was locked on {locked.isoformat()}, {age} days ago "
            f"(more than {args.max_days}); run `make lock` to pick up upstream releases.",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

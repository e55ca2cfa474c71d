"""Shared helpers for the benchmark contract (see ARCHITECTURE.md, "Benchmark contract").

Every ``benchmarks/<area>.py``: prints human-readable lines, then one final JSON line with
the figures, and writes the same JSON plus a timestamp and a machine description to
``benchmarks/results/<area>.json``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCHMARKS_DIR.parent
RESULTS_DIR = BENCHMARKS_DIR / "results"


def shared_dir(*parts: str) -> Path:
    """``<repo>/../shared/<parts>``: the shared folder sits beside the repository clone."""
    return REPO_ROOT.parent.joinpath("shared", *parts)


def machine_description() -> dict[str, Any]:
    """Enough about the machine to tell whether two result files are comparable."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
    }
    try:
        import psutil

        info["memory_gib"] = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def timed_median(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """Median wall time of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def write_results(area: str, figures: dict[str, Any], results_dir: Path | None = None) -> Path:
    """Write ``figures`` with a timestamp and machine description to ``results/<area>.json``."""
    out_dir = Path(results_dir or RESULTS_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {
        "area": area,
        "timestamp": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine_description(),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        **figures,
    }
    path = out_dir / f"{area}.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=False, default=_jsonable) + "\n")
    return path


def emit_final(figures: dict[str, Any]) -> None:
    """The contract's last stdout line: one JSON object."""
    print(json.dumps(figures, default=_jsonable), flush=True)


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")

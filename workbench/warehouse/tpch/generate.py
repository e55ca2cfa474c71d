"""Generating TPC-H parquet with ``tpchgen-cli`` into a cache directory, once per scale factor.

The cache ``<root>/tpch/sf<SF>/`` holds one parquet file (or a directory of parts) per table and
a ``_manifest.json`` written last, so a directory with a manifest is complete.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .schema import MANIFEST, TABLES, TpchError, parquet_dir, sf_label


def find_tpchgen_cli() -> Path:
    """The ``tpchgen-cli`` binary: next to the running interpreter (venvs), else on ``PATH``."""
    name = "tpchgen-cli.exe" if os.name == "nt" else "tpchgen-cli"
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("tpchgen-cli")
    if found:
        return Path(found)
    raise TpchError(
        "tpchgen-cli not found next to the Python interpreter or on PATH; "
        "install it with `pip install 'workbench[tpch]'` (package tpchgen-cli)"
    )


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def file_lock(target: Path) -> Iterator[None]:
    """Serialise builders of the same target across processes (parallel test sessions)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def progress_bar(enabled: bool):
    """A rich progress bar on stderr (stdout may be piped); `enabled=False` hides it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


def _tpchgen_version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=True)  # noqa: S603  argv list; the binary is the installed tpchgen-cli
    except (OSError, subprocess.CalledProcessError):
        return "tpchgen-cli (unknown version)"
    return out.stdout.strip()


def _table_location(out_dir: Path, table: str, parts: int | None) -> Path:
    # tpchgen-cli's layout: one file per table, or a directory of parts with --parts.
    return out_dir / table if parts else out_dir / f"{table}.parquet"


def parquet_files(location: Path) -> list[Path]:
    """tpchgen writes one file per table, or a directory of parts at larger scales."""
    return sorted(location.glob("*.parquet")) if location.is_dir() else [location]


def _parquet_rows(location: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in parquet_files(location))


def _read_manifest(out_dir: Path) -> dict | None:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _manifest_ok(
    out_dir: Path, sf: str, tables: Iterable[str], parts: int | None | bool = False
) -> bool:
    """The cache at ``out_dir`` is complete for ``sf`` (and ``parts``, unless it is ``False``)."""
    manifest = _read_manifest(out_dir)
    if not manifest or manifest.get("scale_factor") != sf:
        return False
    if parts is not False and manifest.get("parts") != parts:
        return False
    entries = manifest.get("tables", {})
    return all(t in entries and (out_dir / entries[t]["path"]).exists() for t in tables)


# --------------------------------------------------------------------------- parquet


def _bytes_under(directory: Path) -> int:
    total = 0
    for f in directory.rglob("*"):
        with contextlib.suppress(OSError):
            total += f.stat().st_size
    return total


def _run_tpchgen(
    binary: Path,
    label: str,
    out: Path,
    *,
    parts: int | None,
    threads: int | None,
    progress: bool,
) -> None:
    # One invocation for all tables: each tpchgen-cli start costs ~1.5 s, so per-table runs
    # would multiply small builds' time by eight. Progress is the parquet written so far.
    cmd = [str(binary), "parquet", "-s", label, "-o", str(out), "--quiet", "--no-progress"]
    if parts:
        cmd += ["--parts", str(parts)]
    if threads:
        cmd += ["--num-threads", str(threads)]
    with progress_bar(progress) as bar:
        task = bar.add_task(f"TPC-H SF{label}: generating parquet", total=None)
        with subprocess.Popen(  # noqa: S603  argv list; the binary is the installed tpchgen-cli
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                while True:
                    try:
                        _, stderr = proc.communicate(timeout=0.25)
                        break
                    except subprocess.TimeoutExpired:
                        mb = _bytes_under(out) / 1e6
                        bar.update(
                            task,
                            description=f"TPC-H SF{label}: generating parquet "
                            f"({mb:,.1f} MB written)",
                        )
            except BaseException:
                proc.kill()
                raise
        if proc.returncode != 0:
            raise TpchError(
                f"tpchgen-cli failed at SF{label} (exit {proc.returncode}): {stderr.strip()}"
            )
        mb = _bytes_under(out) / 1e6
        bar.update(
            task, total=1, completed=1, description=f"TPC-H SF{label}: parquet ready ({mb:,.1f} MB)"
        )


def generate_parquet(
    sf: float | int | str,
    out_dir: str | os.PathLike | None = None,
    *,
    parts: int | None = None,
    threads: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Generate all eight TPC-H tables as parquet into ``out_dir`` and return it.

    ``out_dir`` defaults to ``.workbench/tpch/sf<SF>/``. Data already generated there (for the
    same scale factor) is reused unless ``overwrite``. ``parts`` splits each table into that many
    files under ``<out_dir>/<table>/`` (useful for Spark at large scale factors). Generation
    goes to a temporary sibling directory and is renamed into place when complete, so a crash
    never leaves a half-written cache, and a file lock lets parallel processes share one cache.
    """
    label = sf_label(sf)
    out = Path(out_dir) if out_dir is not None else parquet_dir(label)
    if parts is not None and parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    if not overwrite and _manifest_ok(out, label, TABLES, parts):
        return out

    binary = find_tpchgen_cli()
    with file_lock(out):
        if not overwrite and _manifest_ok(out, label, TABLES, parts):  # built meanwhile
            return out
        tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            _run_tpchgen(binary, label, tmp, parts=parts, threads=threads, progress=progress)
            entries: dict[str, dict] = {}
            for table in TABLES:
                location = _table_location(tmp, table, parts)
                if not location.exists():
                    raise TpchError(f"tpchgen-cli wrote no output for {table} at {location}")
                entries[table] = {"path": location.name, "rows": _parquet_rows(location)}
            manifest = {
                "scale_factor": label,
                "generator": _tpchgen_version(binary),
                "parts": parts,
                "tables": entries,
            }
            # Written last: its presence marks the directory complete.
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            if out.exists():
                shutil.rmtree(out)
            os.replace(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out


def parquet_paths(
    sf: float | int | str,
    out_dir: str | os.PathLike | None = None,
    *,
    generate: bool = True,
    progress: bool = True,
) -> dict[str, Path]:
    """``{table: path}`` of the parquet for a scale factor, generating it first if needed.

    A path is a ``.parquet`` file, or a directory of part files when generated with ``parts``
    (Spark's ``read.parquet`` takes either; for DuckDB use ``<dir>/*.parquet``).
    """
    label = sf_label(sf)
    out = Path(out_dir) if out_dir is not None else parquet_dir(label)
    if not _manifest_ok(out, label, TABLES):
        if not generate:
            raise TpchError(f"no TPC-H SF{label} parquet at {out}; run generate_parquet first")
        generate_parquet(label, out, progress=progress)
    manifest = _read_manifest(out)
    if manifest is None:  # generate_parquet writes it last; absent means the run did not finish
        raise TpchError(f"no readable manifest in {out} after generating TPC-H SF{label}")
    return {t: (out / manifest["tables"][t]["path"]).resolve() for t in TABLES}


def expected_row_counts(paths: Mapping[str, Path]) -> dict[str, int]:
    out_dirs = {p.parent for p in paths.values()}
    if len(out_dirs) == 1:
        manifest = _read_manifest(next(iter(out_dirs)))
        if manifest:
            return {t: int(manifest["tables"][t]["rows"]) for t in paths}
    return {t: _parquet_rows(p) for t, p in paths.items()}

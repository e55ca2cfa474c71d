"""DuckDB: the embedded default. A file under .workbench/, used through Ibis."""

from __future__ import annotations

import os
import re
from pathlib import Path

import ibis
import pandas as pd

from ..semantic.errors import EngineError
from .base import Engine, first_line
from .capabilities import SupportsCursor
from .errors import EngineUnavailable, WarehouseLocked, WarehousePermissionDenied


class DuckDBEngine(Engine, SupportsCursor):
    """The embedded default: one DuckDB file (`warehouse` in workbench.yml), or memory."""

    name = "duckdb"
    single_process_file = True

    @classmethod
    def from_settings(cls, settings, **overrides) -> DuckDBEngine:
        path = overrides.pop("warehouse", None) or settings.path(settings.warehouse)
        return cls(path=path, read_only=overrides.pop("read_only", False), **overrides)

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        read_only: bool = False,
        threads: int | None = None,
        **options,
    ):
        super().__init__(**options)
        self.path = str(path) if path else ":memory:"
        self.read_only = read_only
        self.threads = threads
        self._bump = 0

    def native_connection(self):
        return self.con.con

    def cursor(self):
        with self._lock:
            return self.con.con.cursor()

    def _connect(self):
        if self.path != ":memory:":
            if not Path(self.path).exists():
                raise EngineUnavailable(
                    f"Warehouse {self.path} does not exist. "
                    "Build it with `workbench seed` (or `make up`)."
                )
        kw = {"read_only": True} if self.read_only and self.path != ":memory:" else {}
        try:
            con = ibis.duckdb.connect(self.path, **kw)
        except Exception as e:
            raise open_error(self.path, e, self.read_only) from None
        if self.threads:
            con.raw_sql(f"SET threads = {int(self.threads)}")
        return con

    def sql_schema(self, sql: str):
        # Ibis 12 reads DESCRIBE's answer with fetch_arrow_table, which DuckDB 2 no longer has,
        # and its failed attempt leaves a pending result on the shared connection (every later
        # lookup then fails with "Resource In Use"). DESCRIBE binds the query without running
        # it; done on a cursor of our own that is always closed, nothing stays open.
        with self._lock:
            cur = self.con.con.cursor()
        try:
            cur.execute(f"DESCRIBE {sql}")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        finally:
            cur.close()
        mapper = self.con.compiler.type_mapper
        return ibis.schema(
            {
                r["column_name"]: mapper.from_string(r["column_type"], nullable=r["null"] == "YES")
                for r in rows
            }
        )

    def execute(self, expr, sql: str | None = None) -> pd.DataFrame:
        # Running the cached SQL text skips Ibis' per-call compilation (milliseconds per query).
        try:
            if sql is not None:
                with self._lock:
                    cur = self.con.con.cursor()
                try:
                    return cur.execute(sql).df()
                finally:
                    cur.close()
            return self.con.execute(expr)
        except EngineError:
            raise
        except Exception as e:
            raise EngineError(f"Query failed on DuckDB: {first_line(e)}") from None

    def data_version(self) -> str:
        if self.path == ":memory:":
            return str(self._bump)
        parts = [str(self._bump)]
        for p in (self.path, self.path + ".wal"):
            try:
                st = os.stat(p)
                parts.append(f"{st.st_mtime_ns}:{st.st_size}")
            except FileNotFoundError:
                parts.append("-")
        return "|".join(parts)

    def invalidate(self) -> None:
        super().invalidate()
        self._bump += 1


_LOCK = re.compile(r"Could not set lock on file \"(?P<file>[^\"]+)\".*?Conflicting lock", re.S)
_PID = re.compile(r"\(PID (\d+)\)")
_SERVER_COMMANDS = {
    "jupyter",
    "jupyter-lab",
    "jupyter-server",
    "jupyter-notebook",
    "jupyterhub",
    "jupyterhub-singleuser",
    "jupyterlab",
    "jupyter_server",
    "workbench.up",
}


def open_error(path: str, error: Exception, read_only: bool = False) -> EngineUnavailable:
    """What a failure to open the DuckDB file `path` means, and what to do about it."""
    text = first_line(error)
    lock = _LOCK.search(str(error))
    if lock:
        found = _PID.search(str(error))
        pid = int(found.group(1)) if found else None
        return WarehouseLocked(lock_message(lock["file"] or path, pid, read_only), path, pid)
    if "Permission denied" in str(error):
        return WarehousePermissionDenied(
            f"Permission denied opening the warehouse {path} ({text}). This user "
            f"({_user()}) needs read access to the file{'' if read_only else ' and write access'}"
            " to it and its folder; fix its permissions or connect as its owner.",
            path,
        )
    if "different configuration" in str(error):
        return EngineUnavailable(
            f"The warehouse {path} is already open in this process with other settings "
            f"({text}). Use the same read_only setting as that connection, or close it first."
        )
    return EngineUnavailable(f"Cannot open the warehouse {path}: {text}")


def lock_message(path: str, pid: int | None, read_only: bool) -> str:
    argv = process_command(pid) if pid else []
    who = f"process {pid}" if pid else "another process"
    if argv:
        command = " ".join(" ".join(argv).split())
        who += f" ({command[:117] + '...' if len(command) > 120 else command})"
    msg = (
        f"The warehouse {path} is locked by {who}. DuckDB lets one process write a file, "
        f"or several processes only read it."
    )
    if is_server(argv):
        return msg + (
            " That process is a Workbench (Jupyter) server, and it owns the warehouse "
            "while it runs: query through it (a notebook opened in that server's "
            "JupyterLab, its apps or its query API), or stop it (Ctrl-C where `make up` "
            "runs) and connect again."
        )
    msg += " Close the warehouse in that process or stop it"
    if not read_only:
        msg += ", or, if both only read, connect with read_only=True in each"
    return msg + "."


def process_command(pid: int) -> list[str]:
    """A process's command line, from /proc (Linux); empty where it cannot be read."""
    try:
        raw = Path(f"/proc/{int(pid)}/cmdline").read_bytes()
    except OSError:
        return []
    return [a for a in raw.decode(errors="replace").split("\0") if a]


def is_server(argv: list[str]) -> bool:
    """Whether a command line is a Jupyter server (what `make up` runs) or `workbench up`."""
    names = [os.path.basename(a) for a in argv[:4]]
    if any(n in _SERVER_COMMANDS for n in names):
        return True
    return any(a == "workbench" and b == "up" for a, b in zip(names, argv[1:5], strict=False))


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        return os.environ.get("USER", "this user")

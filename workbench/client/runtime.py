"""How a process finds the Workbench server that owns a warehouse: a runtime file beside it.

Like Jupyter's own ``jpserver-<pid>.json``: the server writes its URL and a token to a file only
its owner can read (mode 0600, written atomically), and removes it on shutdown.  A file left by a
server that died (its process is gone) is ignored.  The file sits next to the warehouse
(``.workbench/warehouse.duckdb`` -> ``.workbench/warehouse.duckdb.server.json``), so every process
that knows the warehouse path finds the server, whatever its working directory.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, Field

SUFFIX = ".server.json"


class RuntimeInfo(BaseModel):
    """What a client needs to reach the server that owns a warehouse."""

    url: str = Field(
        description="Base URL of the Jupyter server, e.g. http://127.0.0.1:8888/ (ends with /)."
    )
    token: str = Field(
        description="The server's token; the file is mode 0600, so only its owner reads it."
    )
    pid: int = Field(description="Process id of the server; a file whose process is gone is stale.")
    warehouse: str = Field(description="Absolute path of the warehouse the server owns.")
    started: float = Field(
        default_factory=time.time, description="When the server started (epoch seconds)."
    )


def runtime_file(warehouse: str | os.PathLike[str]) -> Path:
    wh = Path(warehouse).expanduser().resolve()
    return wh.with_name(wh.name + SUFFIX)


def write_runtime(info: RuntimeInfo) -> Path:
    """Write ``info`` for its warehouse: atomically, readable and writable by the owner only."""
    path = runtime_file(info.warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(info.model_dump_json())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def remove_runtime(warehouse: str | os.PathLike[str], pid: int | None = None) -> None:
    """Remove the runtime file of ``warehouse`` if it is ours (``pid``, default this process)."""
    path = runtime_file(warehouse)
    info = _read(path)
    if info is not None and info.pid == (pid if pid is not None else os.getpid()):
        path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _read(path: Path) -> RuntimeInfo | None:
    try:
        text = path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        return RuntimeInfo.model_validate(json.loads(text))
    except (ValueError, TypeError):
        return None  # half-written by a crashed server: treated as absent, the server rewrites it


def find_server(warehouse: str | os.PathLike[str]) -> RuntimeInfo | None:
    """The live server that owns ``warehouse``, or ``None`` (no file, a stale one, or not ours).

    A file another user could write is refused: its URL and token would send our queries, and
    our credentials, wherever that user chose.
    """
    path = runtime_file(warehouse)
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return None
    info = _read(path)
    if info is None or info.pid == os.getpid() or not _alive(info.pid):
        return None
    return info

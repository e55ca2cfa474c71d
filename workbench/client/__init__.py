"""The remote session: the same API as :mod:`workbench.semantic` sessions, over the Workbench server.

While a Workbench server owns a warehouse (it holds DuckDB's write lock and runs the pipelines),
``workbench.connect()`` in any other process finds the server through the runtime file the
server writes beside the warehouse (:mod:`.runtime`) and returns a :class:`RemoteWorkbench`.
Results travel as Arrow IPC streams (:mod:`.wire`); the server decides who the caller is.
"""

from .remote import RemoteQuery, RemoteWorkbench, ServerError
from .runtime import RuntimeInfo, find_server, remove_runtime, runtime_file, write_runtime

__all__ = [
    "RemoteQuery",
    "RemoteWorkbench",
    "RuntimeInfo",
    "ServerError",
    "find_server",
    "remove_runtime",
    "runtime_file",
    "write_runtime",
]

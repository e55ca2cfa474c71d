"""Where the quality app reads and writes: the warehouse file, the schema registry, the rules,
and the principal it acts for.

While a Workbench server owns the warehouse (its runtime file beside it, workbench.client), the
app never opens the file: ``server`` is the server's quality API as the person looking
(workbench.ui.quality.remote), and the server lists, decides, checks roles and audits.

Only with no server running (``panel serve apps/quality.py`` alone) does the app open the file.
It then holds no warehouse connection between clicks: DuckDB lets one process write a file at
a time, so a connection is opened per action (read-only to list, read-write to approve) and
closed at once, which keeps the warehouse usable by notebooks and pipelines meanwhile.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.security.principal import Principal
from workbench.ui.quality.remote import QualityServer


class ServerOwnsTheWarehouse(RuntimeError):
    """The file was about to be opened while a server owns it (a bug: go through ``server``)."""


@dataclass
class QualityStore:
    warehouse: Path
    registry_dir: Path
    rules_dir: Path
    principal: Principal | None
    server: QualityServer | None = None

    @contextlib.contextmanager
    def connect(self, write: bool = False) -> Iterator[Any]:
        import duckdb

        if self.server is not None:
            raise ServerOwnsTheWarehouse(
                f"A Workbench server owns {self.warehouse}; the quality "
                "app asks it rather than opening the file."
            )

        con = duckdb.connect(str(self.warehouse), read_only=not write)
        try:
            yield con
        finally:
            con.close()

    def registry(self):
        from workbench.quality.schema.registry import SchemaRegistry

        return SchemaRegistry(self.registry_dir)


def open_store() -> QualityStore:
    """From workbench.yml / $WORKBENCH_WAREHOUSE.  Behind the gateway the app acts for the person
    logged in: the identity the gateway signed for this app (workbench.ui.connection); an app the
    gateway started but reached without one acts for nobody.  Run alone (`panel serve
    apps/quality.py`), or for the server's owner (its token; the server maps the owner's queries
    to principals.yml's default too), it acts for $WORKBENCH_QUALITY_PRINCIPAL, else
    principals.yml's default."""
    from workbench.config import load_settings
    from workbench.security.app_identity import IdentityVerifier
    from workbench.security.principal import load_principals

    settings = load_settings()
    root = Path(settings.root)
    warehouse = settings.path(settings.warehouse)
    pfile = settings.path(settings.principals_file)
    principal = None
    identity = None
    behind_gateway = IdentityVerifier.from_env() is not None
    if behind_gateway:
        from workbench.ui.connection import session_identity

        identity = session_identity()
    server = server_for(warehouse, behind_gateway, identity)
    if behind_gateway and identity is None:  # started by the gateway, reached without it: nobody
        return QualityStore(
            warehouse,
            root / "pipelines" / "schemas",
            root / "pipelines" / "cleansing",
            None,
            server,
        )
    if identity is not None and identity.is_person:
        principal = identity.principal()
    elif pfile.exists():  # alone, or the server's owner (whom the server maps to the default too)
        principals = load_principals(pfile)
        principal = principals.get(os.environ.get("WORKBENCH_QUALITY_PRINCIPAL") or None)
    return QualityStore(
        warehouse,
        root / "pipelines" / "schemas",
        root / "pipelines" / "cleansing",
        principal,
        server,
    )


def server_for(warehouse: Path, behind_gateway: bool, identity: Any) -> QualityServer | None:
    """The server's quality API while a server owns ``warehouse``, else None (open the file).

    Behind the gateway it asks as the person looking (their forwarded credentials), or, with no
    verified identity, not at all: every call says to log in.  Alone beside a running server
    (``panel serve`` by the owner) it asks with the runtime file's token, i.e. as the owner."""
    from workbench.client import RemoteWorkbench, find_server

    info = find_server(warehouse)
    if info is None:
        return None
    if not behind_gateway:
        return QualityServer(RemoteWorkbench(info))
    import panel as pn

    from workbench.ui.connection import LOG_IN_MESSAGE, LOG_IN_TITLE, session_credentials

    creds = session_credentials() if identity is not None else None
    if creds is None:
        return QualityServer(None, f"{LOG_IN_TITLE}. {LOG_IN_MESSAGE}")
    cookies = dict(getattr(pn.state, "cookies", None) or {})
    return QualityServer(RemoteWorkbench(info, credentials=creds.request_headers(cookies)))

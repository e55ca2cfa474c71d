"""Where the quality app reads and writes: the warehouse file, the schema registry, the rules,
and the principal it acts for.

The app holds no warehouse connection between clicks: DuckDB lets one process write a file at
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


@dataclass
class QualityStore:
    warehouse: Path
    registry_dir: Path
    rules_dir: Path
    principal: Principal | None

    @contextlib.contextmanager
    def connect(self, write: bool = False) -> Iterator[Any]:
        import duckdb

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
    pfile = settings.path(settings.principals_file)
    principal = None
    identity = None
    if IdentityVerifier.from_env() is not None:
        from workbench.ui.connection import session_identity

        identity = session_identity()
        if identity is None:  # started by the gateway, reached without it: nobody
            return QualityStore(settings.path(settings.warehouse), root / "pipelines" / "schemas",
                                root / "pipelines" / "cleansing", None)
    if identity is not None and identity.is_person:
        principal = identity.principal()
    elif pfile.exists():  # alone, or the server's owner (whom the server maps to the default too)
        principals = load_principals(pfile)
        principal = principals.get(os.environ.get("WORKBENCH_QUALITY_PRINCIPAL") or None)
    return QualityStore(settings.path(settings.warehouse), root / "pipelines" / "schemas",
                        root / "pipelines" / "cleansing", principal)

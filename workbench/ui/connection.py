"""Open the Workbench for an app, read-only, and turn every way that can fail into a notice a
person can act on (the demo warehouse not built yet, a broken settings or model file, ...).

Paths follow ``workbench.connect()``: workbench.yml at the project root (found from the
working directory or $WORKBENCH_HOME), overridden by $WORKBENCH_WAREHOUSE.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Opened:
    wb: Any = None
    title: str = ""
    message: str = ""  # markdown; empty when wb is usable

    @property
    def ok(self) -> bool:
        return self.wb is not None and not self.message


def warehouse_path() -> Path:
    from workbench.config import load_settings

    settings = load_settings()
    return settings.path(settings.warehouse)


# One read-only workbench per app process, shared by its browser sessions, reopened when the
# warehouse file is replaced (`make seed` swaps it atomically).
_cache: dict[tuple[str, float], Any] = {}


def open_workbench(shared: bool = True) -> Opened:
    from workbench.ui.messages import describe_error

    try:
        import workbench

        where = warehouse_path()
    except Exception as exc:  # noqa: BLE001  a broken workbench.yml, say
        return Opened(title="Couldn't read the Workbench settings", message=describe_error(exc))
    if not where.exists():
        return Opened(
            title="The demo warehouse isn't built yet",
            message=(
                f"There is no warehouse at `{where}`.\n\n"
                "Build it with `make seed` (or start everything with `make up`) in the project "
                "folder, then reload this page."
            ),
        )
    served = _through_the_server(where)
    if served is not None:
        return served
    key = (str(where.resolve()), where.stat().st_mtime)
    if shared and key in _cache:
        return Opened(wb=_cache[key])
    try:
        wb = workbench.connect(read_only=True)
        wb.catalog()  # loads and validates the models now, so a broken file shows here
    except Exception as exc:  # noqa: BLE001  shown to the person, logged by describe_error
        return Opened(title="Couldn't open the Workbench", message=describe_error(exc))
    if shared:
        _cache.clear()
        _cache[key] = wb
    return Opened(wb=wb)


def _through_the_server(where: Path) -> Opened | None:
    """While a Workbench server owns the warehouse, a session on it *as the person looking*: their
    forwarded credentials, never the owner's token.  A request that brings none (someone reaching
    the app without the gateway) gets no data.  ``None``: no server, open the file."""
    from workbench.client import RemoteWorkbench, find_server

    info = find_server(where)
    if info is None:
        return None
    import panel as pn

    from workbench.client.credentials import Credentials

    cookies = dict(getattr(pn.state, "cookies", None) or {})
    creds = Credentials.from_request(
        getattr(pn.state, "headers", None), cookies, getattr(pn.state, "session_args", None)
    )
    if creds.empty:
        return Opened(
            title="Log in to see this app",
            message="This app shows data only to people logged in to the Workbench. "
            "Open it from the Workbench (log in at `/login`).",
        )
    return Opened(wb=RemoteWorkbench(info, credentials=creds.request_headers(cookies)))

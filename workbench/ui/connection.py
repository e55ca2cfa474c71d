"""Open the Workbench for an app, read-only, and turn every way that can fail into a notice a
person can act on (the demo warehouse not built yet, a broken settings or model file, ...).

Paths follow ``workbench.connect()``: workbench.yml at the project root (found from the
working directory or $WORKBENCH_HOME), overridden by $WORKBENCH_WAREHOUSE.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_log = logging.getLogger(__name__)


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
    forwarded credentials, never the owner's token, and only with the identity the gateway
    signed for this app.  A request without one (someone reaching the app without the gateway)
    gets no data.  ``None``: no server, open the file."""
    from workbench.client import RemoteWorkbench, find_server

    info = find_server(where)
    if info is None:
        return None
    import panel as pn

    creds = session_credentials()
    if creds is None:
        return Opened(title=LOG_IN_TITLE, message=LOG_IN_MESSAGE)
    cookies = dict(getattr(pn.state, "cookies", None) or {})
    return Opened(wb=RemoteWorkbench(info, credentials=creds.request_headers(cookies)))


LOG_IN_TITLE = "Log in to see this app"
LOG_IN_MESSAGE = (
    "This app shows data only to people logged in to the Workbench. "
    "Open it from the Workbench (log in at `/login`)."
)

# Checked once per browser session: the identity is short-lived, the session is not (the
# server still checks the person's own credentials on every query).
_identities: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def session_identity() -> Any:
    """The person looking, as the gateway signed it for this app
    (workbench.security.app_identity.AppIdentity), or None: no identity, or not a valid one."""
    import panel as pn

    from workbench.security.app_identity import IDENTITY_HEADER, IdentityRefused, IdentityVerifier

    doc = pn.state.curdoc
    if doc is not None and doc in _identities:
        return _identities[doc]
    headers = {str(k).lower(): v for k, v in (getattr(pn.state, "headers", None) or {}).items()}
    verifier = IdentityVerifier.from_env()
    try:
        if verifier is None:
            raise IdentityRefused("no_verifier")
        identity = verifier.verify(headers.get(IDENTITY_HEADER.lower()))
    except IdentityRefused as refused:
        _log.info("no data for this session: %s (%s)", refused.reason, refused.detail)
        identity = None
    if doc is not None:
        _identities[doc] = identity
    return identity


def session_credentials() -> Any:
    """The person's forwarded credentials (workbench.client.credentials.Credentials) for asking
    the server as them, or None when this session has no verified identity or no credentials."""
    import panel as pn

    from workbench.client.credentials import Credentials

    if session_identity() is None:
        return None
    creds = Credentials.from_request(
        getattr(pn.state, "headers", None),
        dict(getattr(pn.state, "cookies", None) or {}),
        getattr(pn.state, "session_args", None),
    )
    return None if creds.empty else creds


def signed_in_as() -> str:
    """Who the header says is looking: Panel's user (``pn.state.user``), which the app's auth
    module (workbench/ui/app_auth.py) set from the verified identity alone; "" for nobody."""
    import panel as pn

    return str(getattr(pn.state, "user", None) or "")

"""The Panel apps in ``apps/`` that the server publishes through jupyter-server-proxy: one table.

Each row of :data:`APPS` is published the same way, by :func:`server_dict`, and
:func:`proxy_servers` hands them all to jupyter-server-proxy (``c.ServerProxy.servers`` in
jupyter_config/jupyter_server_config.py) as :class:`~workbench.server.app_proxy.WorkbenchAppProcess`,
whose handler passes each request on with a signed identity (workbench.server.app_proxy).  The
proxy starts the app on first request and forwards ``{base_url}<name>/...`` to it unchanged
(``absolute_url``), which is why Panel is told the same ``--prefix``.

**Apps trust no network.**  An app listens on a Unix socket (``panel serve --unix-socket``), mode
0600, in a folder of its own (:func:`private_dir`, 0700, under Jupyter's runtime folder): only
the server's user can connect to it, and nothing on the network can.  Its Bokeh auth module
(workbench/ui/app_auth.py) answers 401 to any request without a valid signed identity for this
app, and the app code checks that identity again before it reads any data
(workbench.ui.connection).  The public keys it verifies with are in the JWKS file beside the
sockets (:func:`jwks_path`), written by the gateway; the app never holds a private key.

Every app is told this server's own loopback URL in ``WORKBENCH_API_URL``: the apps send the
viewer's forwarded credentials only there.  That URL is fixed here, by the server, never taken
from a request.

Websocket origins are restricted to the Jupyter server the browser actually talks to: the
proxy forwards the browser's ``Origin`` header, so Bokeh only has to accept the Jupyter
server's own host:port.  Extra origins (a reverse proxy in front of Jupyter, say) go in
``WORKBENCH_ALLOWED_ORIGINS``, comma separated.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
APPS_DIR = Path(os.environ.get("WORKBENCH_APPS_DIR", PROJECT_DIR / "apps"))
ICONS_DIR = Path(__file__).resolve().parent / "icons"
AUTH_MODULE = PROJECT_DIR / "workbench" / "ui" / "app_auth.py"

# Panel imports hvPlot, Bokeh and the warehouse on start; 5 s (the proxy default) is too
# short on a loaded 2-core machine.
START_TIMEOUT_S = 120

_LOCAL_HOSTS = ("localhost", "127.0.0.1")
# sockaddr_un holds 108 bytes on Linux (104 on macOS); longer socket paths cannot be bound.
_MAX_SOCKET_PATH = 100
_private: dict[str, Path] = {}


@dataclass(frozen=True)
class PublishedApp:
    """One app behind the proxy: ``apps/<script>.py`` served at ``{base_url}<name>/``."""

    name: str
    script: str
    title: str
    icon: str
    description: str


APPS: tuple[PublishedApp, ...] = (
    PublishedApp(
        "workbench-catalog", "catalog", "Metric catalog", "catalog.svg",
        "The metric catalog and query explorer.",
    ),
    PublishedApp(
        "workbench-dashboard", "dashboard", "Live KPI dashboard", "dashboard.svg",
        "The live KPI dashboard; every number is a query to this server's API.",
    ),
    PublishedApp(
        "workbench-quality", "quality", "Data quality", "catalog.svg",
        "Scores, failing checks, SLAs, and schema changes / cleansing rules awaiting approval.",
    ),
    PublishedApp(
        "workbench-audit", "audit", "Audit log", "audit.svg",
        "The audit trail, admins only: search by user, action, time and text; chain verified.",
    ),
)  # fmt: skip


def published(name: str) -> PublishedApp:
    """The row of :data:`APPS` published as ``name``."""
    for app in APPS:
        if app.name == name:
            return app
    known = ", ".join(a.name for a in APPS)
    raise KeyError(f"No published app '{name}'. Published apps: {known}.")


def _jupyter_server():
    """The running Jupyter ServerApp, or None outside a server (a test or a shell)."""
    try:
        from jupyter_server.serverapp import ServerApp

        if ServerApp.initialized():
            return ServerApp.instance()
    except Exception:  # noqa: BLE001, S110  not inside a Jupyter server
        pass
    return None


def _jupyter_port(app) -> int:
    if app is not None and app.port:
        return int(app.port)
    return int(os.environ.get("WORKBENCH_JUPYTER_PORT", "8888"))


def _jupyter_origin_hosts() -> list[str]:
    """host:port pairs under which the running Jupyter server is reached."""
    app = _jupyter_server()
    port = _jupyter_port(app)
    ip = (app.ip or "") if app is not None else ""
    hosts = [f"{host}:{port}" for host in _LOCAL_HOSTS]
    if ip and ip not in ("", "0.0.0.0", "::", "*", *_LOCAL_HOSTS):  # noqa: S104  compares with the wildcard addresses; binds nothing
        hosts.append(f"{ip}:{port}")
    return hosts


def allowed_origins() -> list[str]:
    extra = [o.strip() for o in os.environ.get("WORKBENCH_ALLOWED_ORIGINS", "").split(",")]
    origins = _jupyter_origin_hosts() + [o for o in extra if o]
    return list(dict.fromkeys(origins))


def jupyter_api_url(base_url: str = "/") -> str:
    """``http(s)://127.0.0.1:<port><base_url>`` of the running Jupyter server."""
    app = _jupyter_server()
    scheme = "https" if app is not None and getattr(app, "certfile", None) else "http"
    if app is not None and app.base_url:
        base_url = app.base_url
    port = _jupyter_port(app)
    return f"{scheme}://127.0.0.1:{port}/{base_url.strip('/')}".rstrip("/") + "/"


def private_dir() -> Path:
    """This server's folder for the apps' sockets and the JWKS file: mode 0700, one per server
    process (two servers of one user never share a socket), removed when the server exits."""
    if "dir" not in _private:
        from jupyter_core.paths import jupyter_runtime_dir

        where = Path(jupyter_runtime_dir()) / f"workbench-apps-{os.getpid()}"
        longest = max(len(a.name) for a in APPS) + len("/.sock")
        if len(str(where)) + longest > _MAX_SOCKET_PATH:
            where = Path(tempfile.mkdtemp(prefix="workbench-apps-"))
        where.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(where, 0o700)
        _private["dir"] = where
        atexit.register(shutil.rmtree, where, ignore_errors=True)
    return _private["dir"]


def socket_path(app: PublishedApp) -> Path:
    return private_dir() / f"{app.name}.sock"


def jwks_path() -> Path:
    """The public keys the apps verify their signed identities with (written by the gateway)."""
    return private_dir() / "jwks.json"


def panel_command(app: PublishedApp, unix_socket: str, base_url: str) -> list[str]:
    """The ``panel serve`` command line for ``apps/<script>.py`` published as ``app.name``."""
    script = APPS_DIR / f"{app.script}.py"
    prefix = f"{base_url.rstrip('/')}/{app.name}"
    command = [
        sys.executable,
        "-m",
        "panel",
        "serve",
        str(script),
        "--unix-socket",
        str(unix_socket),
        "--prefix",
        prefix,
        "--index",
        app.script,
        "--num-procs",
        "1",
        # Every request must carry the gateway's signed identity (401 otherwise).
        "--auth-module",
        str(AUTH_MODULE),
        # Bokeh's session tokens carry the page request's headers and cookies to the websocket:
        # signed, so nobody can make one up.
        "--session-ids",
        "signed",
    ]
    for origin in allowed_origins():
        command.append(f"--allow-websocket-origin={origin}")
    return command


def app_environment(app: PublishedApp, base_url: str = "/") -> dict[str, str]:
    """The app process's environment on top of the server's (its working directory and
    workbench.yml are the server's too).  Secrets go here, never on the command line."""
    from workbench.security.app_identity import ENV_APP, ENV_ISSUER, ENV_JWKS

    return {
        "BOKEH_RESOURCES": "server",  # Bokeh's JS is served locally
        "WORKBENCH_API_URL": jupyter_api_url(base_url),
        ENV_APP: app.name,
        ENV_JWKS: str(jwks_path()),
        ENV_ISSUER: _identity_issuer(),
        # Fresh for every start of the app: signs Bokeh's session ids and Panel's user cookie.
        "BOKEH_SECRET_KEY": secrets.token_urlsafe(32),
        "PANEL_COOKIE_SECRET": secrets.token_urlsafe(32),
    }


def _identity_issuer() -> str:
    app = _jupyter_server()
    services = getattr(getattr(app, "identity_provider", None), "services", None)
    if services is not None:
        return str(services.tokens.issuer)
    from workbench.config import load_settings

    return load_settings().auth.issuer


def server_dict(app: PublishedApp) -> dict[str, Any]:
    """The jupyter-server-proxy settings of one published app."""

    def command(unix_socket: str, base_url: str) -> list[str]:
        # Evaluated when the app is first requested, so the Jupyter port is known by then.
        return panel_command(app, unix_socket, base_url)

    def environment(base_url: str = "/") -> dict[str, str]:
        return app_environment(app, base_url)

    icon = app.icon if (ICONS_DIR / app.icon).is_file() else "catalog.svg"
    return {
        "command": command,
        "unix_socket": str(socket_path(app)),
        "absolute_url": True,
        "timeout": START_TIMEOUT_S,
        "environment": environment,
        "launcher_entry": {
            "enabled": True,
            "title": app.title,
            "icon_path": str(ICONS_DIR / icon),
            # JupyterLab's launcher draws an icon from a URL only in the kernel sections
            # (Notebook, Console); in a custom section the tile would have no icon.
            "category": "Notebook",
        },
        "new_browser_tab": True,
    }


def proxy_servers() -> dict[str, Any]:
    """``c.ServerProxy.servers``: every row of :data:`APPS`, proxied with a signed identity."""
    from workbench.server.app_proxy import WorkbenchAppProcess

    return {
        app.name: WorkbenchAppProcess(name=app.name, jwks_path=str(jwks_path()), **server_dict(app))
        for app in APPS
    }

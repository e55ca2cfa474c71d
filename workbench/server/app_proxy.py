"""The gateway's proxy to the published apps: jupyter-server-proxy, plus a signed identity.

jupyter-server-proxy forwards the browser's request headers as they came.  For the apps that is
not enough and too much: a client could send ``X-Workbench-Identity`` (or ``X-Forwarded-User``)
itself, and the refresh-token cookie has no business in an app.  :class:`AppProxyHandler`, the
handler of every row of workbench.server.apps.APPS, therefore

- drops every identity header the client sent (app_identity.CLIENT_IDENTITY_HEADERS);
- forwards the log-in cookies minus the refresh token and Panel's own log-in cookies, with the
  access token the identity provider has just refreshed on this very request, if it did;
- adds the identity of the logged-in person, signed by the server's key ring for this one app
  (workbench.security.app_identity), which the app verifies before it shows anything.

Who may open which app is decided before this runs: login.page_resource maps the path to
``app:<name>`` and the policy decides (jupyter-server-proxy never calls the Authorizer).
"""

from __future__ import annotations

import logging
from typing import Any

from jupyter_server_proxy.config import ServerProcess
from jupyter_server_proxy.handlers import SuperviseAndProxyHandler
from traitlets import Unicode

from workbench.security.app_identity import (
    CLIENT_IDENTITY_HEADERS,
    IDENTITY_HEADER,
    IdentitySigner,
)

_log = logging.getLogger(__name__)

#: Cookies the apps never receive: the refresh token (only the gateway rotates it) and the ones
#: Panel reads as "who is logged in" (the app sets those itself, from the verified identity).
NOT_FORWARDED_COOKIES = ("workbench-refresh", "user", "id_token", "is_guest")
SIGNER_SETTING = "workbench_app_identity_signer"


def signer_for(handler: Any) -> IdentitySigner | None:
    """The server's one identity signer (kept in the tornado settings), or None when the server
    does not run the workbench identity provider."""
    signer = handler.settings.get(SIGNER_SETTING)
    if signer is None:
        services = getattr(handler.identity_provider, "services", None)
        if services is None:
            return None
        signer = IdentitySigner(
            services.keyring, issuer=services.tokens.issuer, jwks_path=handler.jwks_path
        )
        handler.settings[SIGNER_SETTING] = signer
    return signer


def forwarded_cookies(handler: Any) -> str:
    """The request's cookies as the app gets them (see :data:`NOT_FORWARDED_COOKIES`)."""
    jar = {name: morsel.value for name, morsel in handler.request.cookies.items()}
    # A log-in refreshed on this request: its new cookies are on the response, not the request.
    for name, morsel in (getattr(handler, "_new_cookie", None) or {}).items():
        if morsel.value:
            jar[name] = morsel.value
    for name in NOT_FORWARDED_COOKIES:
        jar.pop(name, None)
    return "; ".join(f"{name}={value}" for name, value in jar.items())


class AppProxyHandler(SuperviseAndProxyHandler):
    """jupyter-server-proxy's handler for a started process, with the identity rules above."""

    jwks_path = ""  # set per app from WorkbenchAppProcess.jwks_path

    def proxy_request_headers(self) -> Any:
        headers = super().proxy_request_headers()
        for name in CLIENT_IDENTITY_HEADERS:
            if name in headers:
                del headers[name]
        if "Cookie" in headers:
            del headers["Cookie"]
        cookies = forwarded_cookies(self)
        if cookies:
            headers["Cookie"] = cookies
        user = self.current_user
        signer = signer_for(self) if user is not None else None
        if signer is None:
            _log.warning(
                "%s: no signed identity for this request; the app will refuse it", self.name
            )
            return headers
        headers[IDENTITY_HEADER] = signer.sign(
            self.name,
            user.username,
            roles=getattr(user, "roles", ()),
            attributes=getattr(user, "attributes", None),
            sid=getattr(user, "sid", None),
            via=getattr(user, "via", None),
        )
        return headers


class WorkbenchAppProcess(ServerProcess):
    """A published app: jupyter-server-proxy's ServerProcess, proxied by :class:`AppProxyHandler`."""

    jwks_path = Unicode(help="The JWKS file the gateway keeps for the apps (public keys only).")

    def get_proxy_base_class(self) -> tuple[type | None, dict]:
        if not self.command:
            raise ValueError(f"{self.name}: a published app needs a command")
        if not self.jwks_path:
            raise ValueError(f"{self.name}: a published app needs the jwks_path it verifies with")
        return AppProxyHandler, {"state": {}}

    def get_proxy_attributes(self) -> dict:
        return {**super().get_proxy_attributes(), "jwks_path": self.jwks_path}

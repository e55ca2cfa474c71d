"""Bokeh auth module of the published apps (``panel serve --auth-module``, workbench.server.apps).

Every request to an app, its page, its websocket and its metadata alike, must carry the identity
the Workbench gateway signed for this app (workbench.security.app_identity): without one, or with
an expired, forged or misdirected one, the answer is 403 and a sentence saying why.  The person
it names becomes Panel's user: ``pn.state.user`` is their name and ``pn.state.user_info`` the
identity's claims, through the signed ``user`` / ``id_token`` cookies Panel's own log-in would
set, here set on the request from the verified identity alone (a client's own are dropped).
"""

from __future__ import annotations

import logging
import os

from tornado.web import HTTPError, create_signed_value

from workbench.security.app_identity import IDENTITY_HEADER, IdentityRefused, IdentityVerifier

_log = logging.getLogger("workbench.app_auth")
_VERIFIER = IdentityVerifier.from_env()
_PANEL_LOGIN_COOKIES = ("user", "id_token", "is_guest")


def get_user(request_handler):
    """The person's name, from the gateway's signed identity; 403 for anything else."""
    request = request_handler.request
    values = request.headers.get_list(IDENTITY_HEADER)
    cookies = request.cookies
    for name in _PANEL_LOGIN_COOKIES:
        if name in cookies:
            del cookies[name]
    try:
        if _VERIFIER is None:
            raise IdentityRefused("no_verifier")
        if len(values) > 1:
            raise IdentityRefused("malformed", "several identity headers")
        identity = _VERIFIER.verify(values[0] if values else None)
    except IdentityRefused as refused:
        _log.info(
            "refused %s %s: %s %s", request.method, request.path, refused.reason, refused.detail
        )
        raise HTTPError(403, reason=f"{refused} Open this app from the Workbench.") from None
    from panel.config import config

    secret = config.cookie_secret
    if secret:
        cookies["user"] = create_signed_value(secret, "user", identity.sub).decode()
        cookies["id_token"] = create_signed_value(secret, "id_token", values[0]).decode()
    return identity.sub


def get_login_url(request_handler):
    """Only asked when get_user returns nobody, which it never does: it refuses instead."""
    return os.environ.get("WORKBENCH_API_URL", "/") + "login"

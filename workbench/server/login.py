"""Log-in for the running workbench: a jupyter_server ``IdentityProvider`` over the users store.

Who a request is, in the order tried:

1. ``Authorization: Bearer <access token>``: an RS256 JWT of ours (API clients), or the
   credential of a kernel the server started for a logged-in person (kernel_identity.py);
2. the access-token cookie of a browser that logged in with a name and password; when it has
   expired, the refresh-token cookie rotates it silently (reuse of a rotated one revokes the
   whole session: workbench.security.refresh);
3. the server's own token (``?token=``, ``Authorization: token``): the **owner** who started the
   server (``make up``) and the clients that read its runtime file; roles ``owner_roles``.

Cookies are HttpOnly and SameSite=Lax, Secure under https; a form post carries jupyter_server's
XSRF token.  What a user may then do is the Authorizer's decision (policy_authorizer.py).
"""

from __future__ import annotations

import html
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.auth.login import LoginFormHandler
from jupyter_server.auth.logout import LogoutHandler
from jupyter_server.base.handlers import JupyterHandler
from tornado import web
from traitlets import List, Unicode, default

from workbench.security.auth_errors import LoginFailed, RefreshRejected, TokenRejected
from workbench.security.principal import Principal

from .kernel_identity import PREFIX as KERNEL_PREFIX
from .kernel_identity import REQUEST_USER, grants_of, standing

ACCESS_COOKIE = "workbench-access"
REFRESH_COOKIE = "workbench-refresh"
OWNER_COOKIE = "workbench-owner"
BEARER = re.compile(r"bearer\s+(\S+)\s*$", re.IGNORECASE)

# Pages that are not @authorized handlers (JupyterLab's page, file downloads, the proxied apps,
# jupyter-server-proxy's raw port proxy) still need a decision: the first path segment says
# which resource a page is, and the policy decides as for the APIs.  ``None``: the handler
# decides itself (@authorized APIs) or the page is public (log-in, static files).
PAGE_RESOURCES = {
    "lab": "lab",
    "tree": "lab",
    "notebooks": "lab",
    "edit": "lab",
    "doc": "lab",
    "consoles": "lab",
    "terminals": "terminals",
    "files": "contents",
    "view": "contents",
    "nbconvert": "nbconvert",
    "proxy": "proxy",
}


def page_resource(path: str, base_url: str = "/") -> str | None:
    """The resource a page request is for: ``/lab/...`` is "lab", ``/workbench-catalog/`` "app:catalog"."""
    rel = path[len(base_url) :] if path.startswith(base_url) else path.lstrip("/")
    first = rel.split("/", 1)[0]
    if first.startswith("workbench-"):
        return "app:" + first[len("workbench-") :]
    return PAGE_RESOURCES.get(first)


@dataclass
class WorkbenchUser(User):
    """A jupyter_server ``User`` with the roles and attributes the policies read."""

    roles: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)
    sid: str | None = None
    via: str = "password"  # password | bearer | owner
    pending: dict[str, str] = field(default_factory=dict, repr=False)  # cookies to set after log-in

    def principal(self) -> Principal:
        return Principal.of(self.username, self.roles, **self.attributes)


class WorkbenchIdentityProvider(IdentityProvider):
    """Users from workbench's users store; tokens and sessions from workbench.security."""

    project_root = Unicode(
        "",
        config=True,
        help="Project folder whose workbench.yml names the users "
        "store, keys and audit log (default: found from the cwd).",
    )
    owner_roles = List(
        Unicode(),
        ["admin"],
        config=True,
        help="Roles of whoever holds the server's own token: the person who started it.",
    )

    @default("login_handler_class")
    def _login_handler_default(self) -> type:
        return WorkbenchLoginHandler

    @default("logout_handler_class")
    def _logout_handler_default(self) -> type:
        return WorkbenchLogoutHandler

    # the services, built once ---------------------------------------------------------------
    _services: Any = None

    @property
    def services(self) -> Any:
        if self._services is None:
            from workbench.config import load_settings
            from workbench.security.audit.log import AuditLog
            from workbench.security.services import AuthServices

            settings = load_settings(Path(self.project_root) if self.project_root else None)
            self._services = AuthServices.from_settings(settings, audit_log=AuditLog.open(settings))
        return self._services

    @services.setter
    def services(self, value: Any) -> None:
        self._services = value

    # who is asking ------------------------------------------------------------------------
    async def get_user(self, handler: web.RequestHandler) -> User | None:
        found = super().get_user(handler)
        user = await found if inspect.isawaitable(found) else found
        if user is not None:
            self.gate(handler, user)
        REQUEST_USER.set(user)  # a kernel this request starts acts as this person
        return user

    def gate(self, handler: web.RequestHandler, user: User) -> None:
        """403 (audited) for a page the user's roles may not open: a viewer on /lab, say."""
        resource = page_resource(handler.request.path, getattr(handler, "base_url", "/"))
        if resource is None:
            return
        roles = tuple(getattr(user, "roles", ()))
        if not self.services.policy.allowed(roles, resource, "read"):
            self.services.audit(
                "authz.deny",
                sub=user.username,
                roles=list(roles),
                resource=resource,
                operation="read",
                method=handler.request.method,
                path=handler.request.path,
            )
            handler.current_user = user  # the error page shows who is logged in
            raise web.HTTPError(403, f"{user.username} may not open {resource}")

    def user_from_claims(self, claims: Any, via: str) -> WorkbenchUser:
        return WorkbenchUser(
            claims.sub,
            name=claims.sub,
            display_name=claims.sub,
            roles=tuple(claims.roles),
            attributes=dict(claims.attributes),
            sid=claims.sid,
            via=via,
        )

    def kernel_user(self, handler: web.RequestHandler, credential: str) -> WorkbenchUser | None:
        """The person a kernel's credential stands for, with their current roles and attributes;
        None (audited) once the kernel is gone, the session revoked or the user disabled."""
        grants = grants_of(handler.settings)
        grant = grants.resolve(credential) if grants is not None else None
        if grant is None:
            self.services.audit("token.reject", kind="kernel", reason="unknown_kernel")
            return None
        now = standing(self.services, grant)
        if now.refused:
            self.services.audit(
                "token.reject",
                kind="kernel",
                reason=now.refused,
                sub=grant.sub,
                sid=grant.sid,
                kernel=grant.kernel_id,
            )
            return None
        return WorkbenchUser(
            grant.sub,
            name=grant.sub,
            display_name=grant.sub,
            roles=now.roles,
            attributes=dict(now.attributes or {}),
            sid=grant.sid,
            via="kernel",
        )

    def owner(self) -> WorkbenchUser:
        return WorkbenchUser(
            "owner",
            name="owner",
            display_name="Workbench owner",
            roles=tuple(self.owner_roles),
            via="owner",
        )

    async def get_user_token(self, handler: web.RequestHandler) -> User | None:
        m = BEARER.match(handler.request.headers.get("Authorization", ""))
        if m and m.group(1).startswith(KERNEL_PREFIX):
            return self.kernel_user(handler, m.group(1))
        if m:
            try:
                return self.user_from_claims(self.services.validate_bearer(m.group(1)), "bearer")
            except TokenRejected:
                return None  # audited by the token service, with the reason
        user = await super().get_user_token(handler)
        return self.owner() if user is not None else None

    def get_user_cookie(self, handler: web.RequestHandler) -> User | None:
        if handler.get_secure_cookie(OWNER_COOKIE, max_age_days=1) == b"owner":
            return self.owner()
        access = handler.get_cookie(ACCESS_COOKIE)
        if access:
            try:
                return self.user_from_claims(self.services.tokens.validate(access), "password")
            except TokenRejected:
                pass  # expired or revoked: try the refresh token
        refresh = handler.get_cookie(REFRESH_COOKIE)
        if not refresh:
            return None
        try:
            rotated = self.services.sessions.refresh(refresh)
        except RefreshRejected:
            self.clear_login_cookie(handler)
            return None
        user = self.services.users.get(rotated.sub)
        if user is None:
            return None
        token = self.services.tokens.issue(
            user.name, roles=user.roles, attributes=user.attributes, sid=rotated.sid
        )
        self._set_cookies(handler, {ACCESS_COOKIE: token, REFRESH_COOKIE: rotated.refresh_token})
        return WorkbenchUser(
            user.name,
            name=user.name,
            display_name=user.name,
            roles=tuple(user.roles),
            attributes=dict(user.attributes),
            sid=rotated.sid,
        )

    def identity_model(self, user: User) -> dict[str, Any]:
        model = super().identity_model(user)
        model["roles"] = list(getattr(user, "roles", ()))
        return model

    # log-in and log-out -------------------------------------------------------------------
    def process_login_form(self, handler: web.RequestHandler) -> User | None:
        name = handler.get_body_argument("username", default="").strip()
        password = handler.get_body_argument("password", default="")
        try:
            user = self.services.users.authenticate(name, password)
        except LoginFailed:
            return None  # audited as login.failure with the reason
        session = self.services.sessions.start(user.name)
        token = self.services.tokens.issue(
            user.name, roles=user.roles, attributes=user.attributes, sid=session.sid
        )
        return WorkbenchUser(
            user.name,
            name=user.name,
            display_name=user.name,
            roles=tuple(user.roles),
            attributes=dict(user.attributes),
            sid=session.sid,
            pending={ACCESS_COOKIE: token, REFRESH_COOKIE: session.refresh_token},
        )

    def set_login_cookie(self, handler: web.RequestHandler, user: User) -> None:
        if isinstance(user, WorkbenchUser) and user.via == "owner":
            # A browser that opened ?token= gets a cookie; an API client sending the token in its
            # Authorization header sends it every time and needs none.
            if handler.get_argument("token", ""):
                handler.set_secure_cookie(
                    OWNER_COOKIE, "owner", expires_days=1, **self._cookie_options(handler)
                )
        elif isinstance(user, WorkbenchUser) and user.pending:
            self._set_cookies(handler, user.pending)
        # a bearer-token request sets no cookie: API clients carry their token every time

    def _cookie_options(self, handler: web.RequestHandler) -> dict[str, Any]:
        options: dict[str, Any] = {"httponly": True, "samesite": "Lax", "path": handler.base_url}  # type: ignore[attr-defined]
        options.update(self.cookie_options)
        secure = (
            self.secure_cookie
            if self.secure_cookie is not None
            else handler.request.protocol == "https"
        )
        if secure:
            options["secure"] = True
        return options

    def _set_cookies(self, handler: web.RequestHandler, cookies: dict[str, str]) -> None:
        options = self._cookie_options(handler)
        for name, value in cookies.items():
            handler.set_cookie(name, value, **options)

    def clear_login_cookie(self, handler: web.RequestHandler) -> None:
        super().clear_login_cookie(handler)
        path = handler.base_url  # type: ignore[attr-defined]
        for name in (ACCESS_COOKIE, REFRESH_COOKIE, OWNER_COOKIE):
            handler.clear_cookie(name, path=path)

    def logout(self, handler: web.RequestHandler) -> None:
        """End the browser's session everywhere: its refresh family is revoked, so its access token
        stops working on the next request too (tokens are checked against revocations)."""
        refresh = handler.get_cookie(REFRESH_COOKIE)
        if refresh:
            self.services.sessions.logout(refresh)
        self.clear_login_cookie(handler)

    def get_handlers(self) -> list[tuple[str, object]]:
        return [*super().get_handlers(), (r"/\.well-known/jwks\.json", JWKSHandler)]

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Workbench</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; color: #1f2328; background: #f6f8fa; margin: 0; }}
main {{ max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 8px;
        box-shadow: 0 1px 3px #0002; }}
h1 {{ font-size: 1.4rem; margin-top: 0; }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; font: inherit; padding: .6rem; min-height: 44px;
         border: 1px solid #57606a; border-radius: 6px; }}
button {{ margin-top: 1.5rem; width: 100%; min-height: 44px; font: inherit; font-weight: 600; color: #fff;
          background: #0b5cad; border: 0; border-radius: 6px; cursor: pointer; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #e69f00; outline-offset: 2px; }}
.error {{ color: #8b0000; background: #fff0f0; border-left: 4px solid #8b0000; padding: .5rem .75rem; }}
</style></head>
<body><main>{body}</main></body></html>"""


class WorkbenchLoginHandler(LoginFormHandler):
    """The log-in page: user name and password (the account's, from `workbench users add`)."""

    def _render(self, message: dict[str, str] | None = None) -> None:
        error = ""
        if message and message.get("error"):
            error = (
                '<p class="error" role="alert" id="login-error">Wrong user name or password, '
                "or the account is disabled.</p>"
            )
        nxt = html.escape(self.get_argument("next", default=self.base_url), quote=True)
        body = f"""<h1>Log in to Workbench</h1>{error}
<form method="post" action="{html.escape(self.base_url, quote=True)}login?next={nxt}">
{self.xsrf_form_html()}
<label for="username">User name</label>
<input id="username" name="username" autocomplete="username" required autofocus
 {'aria-describedby="login-error"' if error else ""}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Log in</button>
</form>"""
        self.write(PAGE.format(title="Log in", body=body))


class JWKSHandler(JupyterHandler):
    """``/.well-known/jwks.json``: the public keys that verify our access tokens (current, next and
    retiring), so another service can accept them as a resource server.  Public by design."""

    @allow_unauthenticated
    def get(self) -> None:
        provider = self.identity_provider
        if not isinstance(provider, WorkbenchIdentityProvider):
            raise web.HTTPError(404)
        self.set_header("Content-Type", "application/jwk-set+json")
        self.set_header("Cache-Control", "public, max-age=300")
        self.finish(json.dumps(provider.services.keyring.jwks()))


class WorkbenchLogoutHandler(LogoutHandler):
    """Log-out: revokes the session (every path), clears the cookies, offers to log in again."""

    @allow_unauthenticated
    def get(self) -> None:
        provider = self.identity_provider
        if isinstance(provider, WorkbenchIdentityProvider):
            provider.logout(self)
        else:
            provider.clear_login_cookie(self)
        body = (
            "<h1>Logged out</h1><p>Your session has ended on every page and app.</p>"
            f'<p><a href="{html.escape(self.base_url, quote=True)}login">Log in again</a></p>'
        )
        self.write(PAGE.format(title="Logged out", body=body))

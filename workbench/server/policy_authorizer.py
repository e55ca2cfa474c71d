"""The jupyter_server ``Authorizer`` of the workbench: every ``@authorized`` handler asks it.

jupyter_server's own handlers (kernels, contents, terminals, sessions, ...) and the workbench's
(``workbench:query``, ``workbench:pipelines``, ...) declare a resource; the HTTP method gives the
action (GET read, POST/PUT/PATCH/DELETE write, websockets execute).  The decision is the policy
decision point's (workbench.security.policy, over security/policy/policy.csv), for the roles
the identity provider found.  Every denial is audited.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer
from tornado import web


class WorkbenchAuthorizer(Authorizer):
    """Roles from the logged-in user (login.WorkbenchUser), decision from the policy file."""

    def _services(self) -> Any:
        services = getattr(self.identity_provider, "services", None)
        if services is None:
            raise RuntimeError(
                "WorkbenchAuthorizer needs the WorkbenchIdentityProvider "
                "(c.ServerApp.identity_provider_class)"
            )
        return services

    def is_authorized(
        self, handler: web.RequestHandler, user: Any, action: str, resource: str
    ) -> bool:
        services = self._services()
        roles = tuple(getattr(user, "roles", ()) or ())
        allowed = bool(services.policy.allowed(roles, resource, action))
        if not allowed:
            services.audit(
                "authz.deny",
                sub=getattr(user, "username", None),
                roles=list(roles),
                resource=resource,
                operation=action,
                method=handler.request.method,
                path=handler.request.path,
            )
        return allowed

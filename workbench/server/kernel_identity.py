"""The identity the server hands to the kernels it starts: a notebook queries as its person.

A logged-in analyst's kernel is a separate process that reaches the warehouse through the
server (workbench.client).  Without this, it would find the server's runtime file and ask with
the server's own token, i.e. as the owner, whatever the analyst's row policies say.

So when a logged-in person starts a kernel (a notebook opened in JupyterLab, ``POST
/api/sessions`` or ``/api/kernels``), the kernel manager registers a **kernel grant** (kernel
id, the person, their session) and puts a credential into the kernel's environment
(``WORKBENCH_IDENTITY``).  The client sends it as a Bearer token; the identity provider
resolves it to the person on every request, with the person's *current* roles and attributes
from the users store, and refuses it at once when the person's session is revoked (log-out,
an admin's revoke), the user is disabled, or the kernel has shut down.

Why not an access token in the environment: access tokens live at most 15 minutes and a kernel
lives for days; a refresh token would be rotated by the first request and replayed by the
kernel after a restart (which keeps the environment), which ends the session.  A grant lives
exactly as long as its kernel and its person's session, and only the server's memory holds
its secret's hash.

What it is not: containment against a hostile analyst.  On one machine every kernel runs as
the OS user who started the server and can read the server's runtime file; separate OS users
(JupyterHub's spawners) are the boundary for that.  The grant makes the default path honest.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

from workbench.client.credentials import KERNEL_IDENTITY_ENV as ENV_VAR

PREFIX = "wbk1."

# Who the request being handled is, set by the identity provider once it knows: the kernel
# manager runs inside that request (the handler awaits it in the same task), so it reads the
# person from here rather than from a global.
REQUEST_USER: ContextVar[Any] = ContextVar("workbench_request_user", default=None)


@dataclass(frozen=True)
class KernelGrant:
    kernel_id: str
    sub: str
    sid: str | None      # the log-in session (None for an external IdP's token: no session here)
    roles: tuple[str, ...]
    attributes: dict[str, Any]
    digest: str          # sha256 of the secret; the secret itself is only in the kernel's env
    granted_at: float


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KernelGrants:
    """Kernel id -> grant, in the server's memory (kernels do not outlive their server)."""

    def __init__(self) -> None:
        self._grants: dict[str, KernelGrant] = {}
        self._lock = threading.Lock()

    def grant(self, kernel_id: str, user: Any) -> str:
        """A new credential for ``kernel_id`` acting as ``user`` (a WorkbenchUser) in its session."""
        secret = secrets.token_urlsafe(32)
        found = KernelGrant(kernel_id, user.username, getattr(user, "sid", None) or None,
                            tuple(getattr(user, "roles", ())), dict(getattr(user, "attributes", {})),
                            _digest(secret), time.time())
        with self._lock:
            self._grants[kernel_id] = found
        return f"{PREFIX}{kernel_id}.{secret}"

    def resolve(self, credential: str) -> KernelGrant | None:
        """The grant a credential proves, or None (malformed, unknown kernel, wrong secret)."""
        if not credential.startswith(PREFIX):
            return None
        kernel_id, _, secret = credential[len(PREFIX):].partition(".")
        with self._lock:
            found = self._grants.get(kernel_id)
        if found is None or not secret or not hmac.compare_digest(found.digest, _digest(secret)):
            return None
        return found

    def forget(self, kernel_id: str) -> None:
        with self._lock:
            self._grants.pop(kernel_id, None)

    def __len__(self) -> int:
        return len(self._grants)


def grants_of(settings: dict[str, Any]) -> KernelGrants | None:
    """The grants of a server, from a handler's ``settings`` (None when another kernel manager
    class is configured: then no kernel credential is valid)."""
    found = getattr(settings.get("kernel_manager"), "grants", None)
    return found if isinstance(found, KernelGrants) else None


class WorkbenchKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager, plus a grant for each kernel a logged-in person starts.

    Kernels the owner starts (the server token, ``make up``'s URL) get no grant: they ask with
    the server's token, as the owner, as before."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grants = KernelGrants()

    # The async manager's start_kernel is a coroutine; mypy sees jupyter_client's sync base signature.
    async def start_kernel(self, *, kernel_name: str | None = None, **kwargs: Any) -> str:  # type: ignore[override]
        user = REQUEST_USER.get()
        if user is not None and getattr(user, "via", "owner") != "owner":
            kernel_id = kwargs.get("kernel_id") or str(uuid.uuid4())
            kwargs["kernel_id"] = kernel_id
            env = dict(kwargs.get("env") or os.environ)
            env[ENV_VAR] = self.grants.grant(kernel_id, user)
            kwargs["env"] = env
            self._audit("kernel.grant", sub=user.username, sid=getattr(user, "sid", None), kernel=kernel_id)
        else:
            # the owner's kernel, or one started outside a request: never inherit a credential
            env = dict(kwargs.get("env") or os.environ)
            if env.pop(ENV_VAR, None) is not None:
                kwargs["env"] = env
        started: str = await super().start_kernel(kernel_name=kernel_name, **kwargs)
        return started

    def remove_kernel(self, kernel_id: str) -> Any:
        """Called when a kernel is shut down (not on restart) or found dead: its grant goes too."""
        self.grants.forget(kernel_id)
        return super().remove_kernel(kernel_id)

    def _audit(self, action: str, **fields: Any) -> None:
        provider = getattr(self.parent, "identity_provider", None)
        services = getattr(provider, "services", None)
        if services is not None:
            services.audit(action, **fields)

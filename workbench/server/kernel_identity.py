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

from jupyter_core.utils import ensure_async
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.ioloop import PeriodicCallback
from traitlets import Float

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
    sid: str | None  # the log-in session (None for an external IdP's token: no session here)
    roles: tuple[str, ...]
    attributes: dict[str, Any]
    digest: str  # sha256 of the secret; the secret itself is only in the kernel's env
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
        found = KernelGrant(
            kernel_id,
            user.username,
            getattr(user, "sid", None) or None,
            tuple(getattr(user, "roles", ())),
            dict(getattr(user, "attributes", {})),
            _digest(secret),
            time.time(),
        )
        with self._lock:
            self._grants[kernel_id] = found
        return f"{PREFIX}{kernel_id}.{secret}"

    def resolve(self, credential: str) -> KernelGrant | None:
        """The grant a credential proves, or None (malformed, unknown kernel, wrong secret)."""
        if not credential.startswith(PREFIX):
            return None
        kernel_id, _, secret = credential[len(PREFIX) :].partition(".")
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

    def all(self) -> list[KernelGrant]:
        with self._lock:
            return list(self._grants.values())


@dataclass(frozen=True)
class Standing:
    """What a grant stands for now: the person's roles and attributes, or why it no longer does."""

    roles: tuple[str, ...] = ()
    attributes: dict[str, Any] | None = None
    refused: str | None = None


def standing(services: Any, grant: KernelGrant) -> Standing:
    """Whether ``grant``'s person may still act, with their *current* roles and attributes: a
    local user's from the users store (disabled: refused), an external IdP's user's from their
    token at the start; a revoked log-in session refuses either."""
    why = None
    if grant.sid is not None:
        why = services.sessions.revoked_reason(
            sid=grant.sid, jti=None, sub=grant.sub, iat=grant.granted_at
        )
    stored = services.users.get(grant.sub)
    if stored is not None:
        if why is None and not services.users.is_active(grant.sub):
            why = "user_disabled"
        return (
            Standing(refused=why) if why else Standing(tuple(stored.roles), dict(stored.attributes))
        )
    if grant.sid is not None and why is None:
        # a session of ours for a user the store no longer has: the account was deleted
        why = "unknown_user"
    return Standing(refused=why) if why else Standing(grant.roles, dict(grant.attributes))


def grants_of(settings: dict[str, Any]) -> KernelGrants | None:
    """The grants of a server, from a handler's ``settings`` (None when another kernel manager
    class is configured: then no kernel credential is valid)."""
    found = getattr(settings.get("kernel_manager"), "grants", None)
    return found if isinstance(found, KernelGrants) else None


class WorkbenchKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager, plus a grant for each kernel a logged-in person starts.

    Kernels the owner starts (the server token, ``make up``'s URL) get no grant: they ask with
    the server's token, as the owner, as before.  Every ``revocation_check_s`` the grants are
    checked: a kernel whose person logged out, was revoked or disabled is shut down (audited as
    ``kernel.revoke``), which also closes the browser's websocket to it: revocation reaches the
    kernels within seconds, not only their next query."""

    revocation_check_s = Float(
        2.0,
        config=True,
        help="Seconds between checks that each kernel's "
        "person may still act; 0 turns the check off (queries are still refused).",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.grants = KernelGrants()
        self._sweeper: PeriodicCallback | None = None

    # The async manager's start_kernel is a coroutine; mypy sees jupyter_client's sync base signature.
    async def start_kernel(self, *, kernel_name: str | None = None, **kwargs: Any) -> str:  # type: ignore[override]
        user = REQUEST_USER.get()
        if user is not None and getattr(user, "via", "owner") != "owner":
            kernel_id = kwargs.get("kernel_id") or str(uuid.uuid4())
            kwargs["kernel_id"] = kernel_id
            env = dict(kwargs.get("env") or os.environ)
            env[ENV_VAR] = self.grants.grant(kernel_id, user)
            kwargs["env"] = env
            self._audit(
                "kernel.grant", sub=user.username, sid=getattr(user, "sid", None), kernel=kernel_id
            )
            self._start_sweeper()
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

    def _services(self) -> Any:
        return getattr(getattr(self.parent, "identity_provider", None), "services", None)

    def _audit(self, action: str, **fields: Any) -> None:
        services = self._services()
        if services is not None:
            services.audit(action, **fields)

    def _start_sweeper(self) -> None:
        if self._sweeper is None and self.revocation_check_s > 0:
            self._sweeper = PeriodicCallback(self.sweep, self.revocation_check_s * 1000)
            self._sweeper.start()

    async def sweep(self) -> list[str]:
        """Shut down the kernels whose person may no longer act; their ids."""
        services = self._services()
        if services is None:
            return []
        ended = []
        for grant in self.grants.all():
            why = standing(services, grant).refused
            if why is None or grant.kernel_id not in self:
                continue
            self.grants.forget(grant.kernel_id)
            self._audit(
                "kernel.revoke", sub=grant.sub, sid=grant.sid, kernel=grant.kernel_id, reason=why
            )
            try:
                await self.shutdown_kernel(grant.kernel_id, now=True)
            except Exception as exc:  # noqa: BLE001  already gone: the grant is gone either way
                self.log.warning(
                    "workbench: could not shut down kernel %s of %s: %s",
                    grant.kernel_id,
                    grant.sub,
                    exc,
                )
            ended.append(grant.kernel_id)
        return ended

    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]  # async here, as start_kernel
        if self._sweeper is not None:
            self._sweeper.stop()
            self._sweeper = None
        await ensure_async(super().shutdown_all(now=now))

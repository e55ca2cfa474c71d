"""The authorization seam: every handler the extension registers declares its resource and its
action per HTTP method, and the base handler is the one place that asks the Authorizer.

Walked over the routes of the running extension (not a hand-kept list): each class is checked
as declared, then each route and method is requested with an Authorizer that refuses
everything, and with no log-in at all; both must be 403, and the Authorizer must have been asked
for exactly the declared (action, resource).
"""

from __future__ import annotations

import re

import pytest
from tornado.httpclient import HTTPClientError

from workbench.server.handlers.base import WorkbenchHandler

ACTIONS = {"read", "write", "execute"}
HTTP_METHODS = ("get", "head", "post", "put", "patch", "delete")
# Values for path parameters (others get "x"; the refusal comes before any lookup, and the
# path is checked to match its route).
SAMPLES = {"name": "fake_orders", "suite": "orders", "incident_id": "1"}
NO_LOGIN = {"Authorization": "token not-the-token"}


def problems(cls: type) -> list[str]:
    """What is wrong with a handler class's declarations (empty: nothing)."""
    if not (isinstance(cls, type) and issubclass(cls, WorkbenchHandler)):
        return [f"{cls!r} is not a WorkbenchHandler, so nothing asks the Authorizer for it"]
    out = []
    if not re.fullmatch(r"workbench:[a-z_]+", cls.auth_resource or ""):
        out.append(f"{cls.__name__} declares no namespaced auth_resource ({cls.auth_resource!r})")
    served = {
        m.upper() for m in HTTP_METHODS if getattr(cls, m) is not getattr(WorkbenchHandler, m, None)
    }
    if not served:
        out.append(f"{cls.__name__} serves no HTTP method")
    for method in sorted(served):
        action = cls.auth_actions.get(method)
        if action not in ACTIONS:
            out.append(f"{cls.__name__}.{method.lower()} declares no action ({action!r})")
    extra = set(cls.auth_actions) - served
    if extra:
        out.append(
            f"{cls.__name__} declares actions for methods it does not serve: {sorted(extra)}"
        )
    for hook in ("prepare", "authorize"):
        if getattr(cls, hook) is not getattr(WorkbenchHandler, hook):
            out.append(f"{cls.__name__} overrides {hook}(), the one place that asks the Authorizer")
    return out


def sample_path(pattern: str) -> str:
    """A request path the route ``pattern`` matches: each group gets its first literal
    alternative (``start|stop`` -> start) or a sample value."""

    def value(m: re.Match) -> str:
        name, body = m.group(1), m.group(2)
        if re.fullmatch(r"[a-z]+(\|[a-z]+)*", body):
            return body.split("|")[0]
        return SAMPLES.get(name, "x")

    path = re.sub(r"\(\?P<(\w+)>((?:[^()\\]|\\.)*)\)", value, pattern)
    path = path.removesuffix("/?")
    assert re.fullmatch(pattern, path), (pattern, path)
    return path


def routes(jp_serverapp) -> list[tuple[str, type]]:
    ext = jp_serverapp.extension_manager.extension_points["workbench"].app
    found = [(h[0], h[1]) for h in ext.handlers]
    assert len(found) >= 14, found  # the whole API (14 routes today), not an empty walk
    return found


def requests(jp_serverapp):
    for pattern, cls in routes(jp_serverapp):
        for method, action in sorted(cls.auth_actions.items()):
            yield cls, method, action, sample_path(pattern)


def test_the_checks_find_a_handler_that_declares_nothing_or_skips_the_seam():
    class Undeclared(WorkbenchHandler):
        async def get(self):
            pass

    class Skips(WorkbenchHandler):
        auth_resource = "workbench:query"
        auth_actions = {"GET": "read", "POST": "write"}

        async def prepare(self):
            pass

        async def get(self):
            pass

    assert any("auth_resource" in p for p in problems(Undeclared))
    assert any("get declares no action" in p for p in problems(Undeclared))
    assert any("overrides prepare" in p for p in problems(Skips))
    assert any("does not serve" in p for p in problems(Skips))
    assert problems(object)


def test_every_registered_handler_declares_its_resource_and_actions(jp_serverapp):
    found = [p for _, cls in routes(jp_serverapp) for p in problems(cls)]
    assert not found, "\n".join(found)


async def test_every_route_asks_the_authorizer_for_its_declared_action(jp_fetch, jp_serverapp):
    authorizer = jp_serverapp.web_app.settings["authorizer"]
    original = authorizer.is_authorized
    asked: list[tuple[str, str, str]] = []

    def refuse(handler, user, action, resource):
        asked.append((handler.request.path, action, resource))
        return False

    authorizer.is_authorized = refuse
    try:
        for cls, method, action, path in requests(jp_serverapp):
            asked.clear()
            with pytest.raises(HTTPClientError) as err:
                await jp_fetch(
                    *path.strip("/").split("/"),
                    method=method,
                    body="{}" if method == "POST" else None,
                )
            assert err.value.code == 403, (method, path, err.value.response.body)
            assert [(a, r) for _, a, r in asked] == [(action, cls.auth_resource)], (method, path)
            assert "message" in err.value.response.body.decode()
    finally:
        authorizer.is_authorized = original


async def test_every_route_refuses_a_caller_who_is_not_logged_in(jp_fetch, jp_serverapp):
    for _, method, _, path in requests(jp_serverapp):
        with pytest.raises(HTTPClientError) as err:
            await jp_fetch(
                *path.strip("/").split("/"),
                method=method,
                body="{}" if method == "POST" else None,
                headers=NO_LOGIN,
            )
        assert err.value.code == 403, (method, path)

"""Log-in and authorization in a real jupyter_server (pytest-jupyter's in-process ServerApp),
with the workbench IdentityProvider and Authorizer over a scratch project's users and keys."""

from __future__ import annotations

import pytest
from pytest_jupyter.jupyter_core import *  # noqa: F401,F403
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403

PASSWORDS = {
    "vera": "viewer-pass-123",
    "anna": "analyst-pass-123",
    "dora": "scientist-pass-1",
    "adam": "admin-pass-1234",
}
ROLES = {
    "vera": ("viewer", {"region": "North"}),
    "anna": ("analyst", {}),
    "dora": ("data_scientist", {}),
    "adam": ("admin", {}),
}


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "workbench.yml").write_text("auth:\n  access_token_s: 60\n")
    from workbench.config import load_settings
    from workbench.security.users import UserStore

    settings = load_settings(root)
    users = UserStore(settings.path(settings.auth.users_db))
    for name, (role, attrs) in ROLES.items():
        users.add(name, PASSWORDS[name], [role], attrs)
    return root


@pytest.fixture
def jp_server_config(project):
    from traitlets.config import Config

    return Config(
        {
            "ServerApp": {
                "identity_provider_class": "workbench.server.login.WorkbenchIdentityProvider",
                "authorizer_class": "workbench.server.policy_authorizer.WorkbenchAuthorizer",
            },
            "WorkbenchIdentityProvider": {"project_root": str(project)},
        }
    )


@pytest.fixture
def jp_auth_header():
    """No token by default: each test says who it is."""
    return {}


@pytest.fixture
def services(jp_serverapp):
    return jp_serverapp.identity_provider.services

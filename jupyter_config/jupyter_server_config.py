"""Jupyter server settings for Workbench.

Loaded because `workbench up` (and `make up`, and tests/ui) put this folder first on
JUPYTER_CONFIG_PATH.  The JSON files in jupyter_server_config.d/ only enable server extensions
(one file per extension, read by jupyter_server for `jpserver_extensions` alone); every other
setting lives here.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821  (injected by traitlets)

PROJECT_DIR = Path(os.environ.get("WORKBENCH_PROJECT_DIR", Path(__file__).resolve().parent.parent))

# Local by default: the proxied apps and the kernels are only reachable from this machine.
# Listening elsewhere is an explicit `--ip` on the command line.
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.open_browser = False
c.ServerApp.root_dir = str(PROJECT_DIR)
c.ServerApp.allow_remote_access = False

# The demo token is generated once by `workbench up` into .workbench/ (gitignored).  An
# explicit JUPYTER_TOKEN or --IdentityProvider.token wins over it; without either Jupyter
# makes up a random one and prints it, which is also safe.
_token_file = PROJECT_DIR / ".workbench" / "jupyter_token"
if "JUPYTER_TOKEN" not in os.environ and _token_file.is_file():
    c.IdentityProvider.token = _token_file.read_text().strip()


# Log-in: people with a name and password from the users store (`workbench users add`, the demo
# users `make up` makes), API clients with a Bearer token; the server token above is the owner.
# Every @authorized handler asks the policy file (security/policy/policy.csv) through the
# Authorizer; docs/security.md, "Roles and policies".
c.ServerApp.identity_provider_class = "workbench.server.login.WorkbenchIdentityProvider"
c.ServerApp.authorizer_class = "workbench.server.policy_authorizer.WorkbenchAuthorizer"
c.WorkbenchIdentityProvider.project_root = str(PROJECT_DIR)
# A kernel started by a logged-in person gets that person's identity (a kernel grant in its
# environment), so a notebook queries as its person, not as the owner (docs/security.md).
c.ServerApp.kernel_manager_class = "workbench.server.kernel_identity.WorkbenchKernelManager"

# The apps behind jupyter-server-proxy run on this machine; the proxy may reach nothing else.
c.ServerProxy.host_allowlist = ["localhost", "127.0.0.1"]
# The published apps (one table, workbench/server/apps.py): each on a Unix socket only this
# user can open, proxied with the logged-in person's signed identity (docs/gateway.md, "The apps").
from workbench.server.apps import proxy_servers  # noqa: E402

c.ServerProxy.servers = proxy_servers()

# Nothing is fetched at run time: no extension-manager searches of PyPI, no news or update
# checks.
c.LabApp.extension_manager = "readonly"
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.news_url = None

"""Start the Workbench server the way `make up` does (jupyter_config/, the workbench extension,
the proxied apps), over a given warehouse, as a subprocess in its own process group.

Used by the browser tests, the gateway tests and benchmarks/gateway.py, so each starts the same
product rather than a harness of its own.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.support.dashboard_probe import stop_process_group

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120


@dataclass
class RunningServer:
    url: str  # http://127.0.0.1:<port> (no trailing slash)
    token: str
    log: Path
    process: subprocess.Popen

    def at(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.url}/{path.lstrip('/')}{sep}token={self.token}"

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        stop_process_group(self.process, grace_s=20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(server: RunningServer, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"the server exited with {server.process.returncode}:\n{server.log_tail()}"
            )
        try:
            with urllib.request.urlopen(server.at("api/status"), timeout=2) as r:  # noqa: S310  loopback URL we built
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"the server was not ready in {timeout_s:.0f} s:\n{server.log_tail()}")


def start_server(
    warehouse: Path,
    home: Path,
    *,
    lab: bool = True,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> RunningServer:
    """JupyterLab (or the bare jupyter_server, ``lab=False``) with the Workbench configuration."""
    home.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(16)
    port = free_port()
    full_env = dict(os.environ)
    full_env.pop("JUPYTER_TOKEN", None)
    full_env.update(
        {
            "JUPYTER_CONFIG_PATH": str(REPO / "jupyter_config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "WORKBENCH_PROJECT_DIR": str(REPO),
            "WORKBENCH_WAREHOUSE": str(warehouse),
            "WORKBENCH_JUPYTER_PORT": str(port),
            **(env or {}),
        }
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab" if lab else "jupyter_server",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        "--no-browser",
        f"--IdentityProvider.token={token}",
        *(extra_args or []),
    ]
    if lab:
        # Each server its own JupyterLab workspaces: a layout saved by one test (a notebook left
        # open) must not be restored in another's, nor in the developer's own ~/.jupyter.
        cmd.append(f"--LabApp.workspaces_dir={home / 'workspaces'}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = home / "server.log"
    with open(log, "wb") as out:
        # Own session, so stop() ends the server and the apps it spawned together.
        process = subprocess.Popen(
            cmd,
            cwd=REPO,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,  # noqa: S603  argv list we built
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", token, log, process)
    try:
        wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server

"""``workbench up`` / ``make up``: build the demo warehouse if missing, make the demo log-in once,
print where everything is, then replace this process with JupyterLab running the Workbench
configuration (``jupyter_config/``) and the published apps.

Nothing here downloads anything: the warehouse is generated locally and the token is random.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
TOKEN_FILE = Path(".workbench") / "jupyter_token"


def published_apps() -> dict[str, str]:
    """{title: path} of every app the server publishes (the one table, workbench.server.apps), so
    a newly published app is printed without editing this file."""
    from workbench.server.apps import APPS

    return {app.title: f"{app.name}/" for app in APPS}


def project_dir() -> Path:
    from workbench.config import project_root

    return project_root()


def config_dir(project: Path) -> Path:
    """jupyter_config/ of the project, else the one shipped beside this package."""
    for candidate in (project / "jupyter_config", REPO_DIR / "jupyter_config"):
        if (candidate / "jupyter_server_config.py").is_file():
            return candidate
    raise SystemExit(f"jupyter_config/ not found under {project} or {REPO_DIR}")


def ensure_warehouse(project: Path, scale: float = 1.0) -> tuple[Path, bool]:
    """Build the demo warehouse unless it exists. Returns (path, built_now)."""
    from workbench.config import load_settings

    settings = load_settings(project)
    path = settings.path(settings.warehouse)
    if path.exists():
        return path, False
    from workbench.warehouse.seed import build_demo_warehouse

    print(f"Building the demo warehouse at {path} (scale {scale}); this happens once.", flush=True)
    build_demo_warehouse(path, scale=scale, progress=True)
    return path, True


def ensure_token(project: Path) -> tuple[str, bool]:
    """The demo Jupyter token: generated once, kept in .workbench/ (gitignored), mode 0600."""
    path = project / TOKEN_FILE
    if path.is_file() and path.read_text().strip():
        return path.read_text().strip(), False
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, True


def ensure_demo_users(project: Path) -> tuple[dict[str, str], list[str]]:
    """One demo user per role (viewer, analyst, data_scientist, admin), made once with random
    passwords.  Returns ({name: password} made just now, to print once; names that already existed)."""
    from workbench.config import load_settings
    from workbench.security.users import DEMO_USERS, UserStore, create_demo_users

    settings = load_settings(project)
    store = UserStore(
        settings.path(settings.auth.users_db), min_password_length=settings.auth.min_password_length
    )
    made = create_demo_users(store)
    return made, [n for n in DEMO_USERS if n not in made and store.get(n) is not None]


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_port(preferred: int) -> int:
    for port in range(preferred, preferred + 50):
        if port_is_free(port):
            return port
    raise SystemExit(f"No free port in {preferred}..{preferred + 49}; pass --port.")


def banner(
    port: int,
    token: str,
    new_token: bool,
    warehouse: Path,
    built: bool,
    pipelines: list[str] | None = None,
    users: dict[str, str] | None = None,
    existing_users: list[str] | None = None,
) -> str:
    base = f"http://127.0.0.1:{port}"
    lines = ["", "Workbench is starting.", f"  Log in          {base}/login"]
    apps = published_apps()
    width = max([15, *map(len, apps)])
    lines[-1] = f"  {'Log in':<{width}} {base}/login"
    lines.append(f"  {'JupyterLab':<{width}} {base}/lab")
    for title, path in apps.items():
        lines.append(f"  {title:<{width}} {base}/{path}")
    if users:
        lines += [
            "",
            "Demo log-ins, one per role (shown this once; `workbench users passwd NAME` sets a new one):",
        ]
        lines += [f"  {name:<15} {password}" for name, password in users.items()]
    if existing_users:
        lines += [
            "",
            f"Demo users {', '.join(existing_users)} exist already (their passwords were shown when "
            "they were made; `workbench users passwd NAME` sets a new one).",
        ]
    lines += [
        "",
        "As the owner (admin, the person who started this server), a link with the server token logs in too:",
        f"  {base}/lab?token={token}",
        f"  The token is kept in {TOKEN_FILE} (never committed; delete it for a new one)"
        + (" - generated just now." if new_token else "."),
        f"Warehouse: {warehouse}" + (" (built just now)" if built else ""),
        *(
            [
                f"Pipelines started with the server: {', '.join(pipelines)} (live orders into the "
                "live_* gold views; anomaly detection watches them)"
            ]
            if pipelines
            else []
        ),
        "The apps are also tiles in the JupyterLab launcher. Stop with Ctrl-C.",
        "",
    ]
    return "\n".join(lines)


DEMO_PIPELINES = ("demo_orders",)


def demo_pipelines(project: Path) -> list[str]:
    """The demo pipelines `make up` starts inside the Jupyter server: those the project has."""
    return [n for n in DEMO_PIPELINES if (project / "pipelines" / f"{n}.yml").is_file()]


def jupyter_command(port: int, open_browser: bool, extra: list[str] | None = None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.open_browser={open_browser}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        # CI and the demo machines run as root; the server still listens on 127.0.0.1 only.
        cmd.append("--allow-root")
    return cmd + list(extra or [])


def jupyter_env(project: Path) -> dict[str, str]:
    env = dict(os.environ)
    conf = str(config_dir(project))
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
        p for p in (conf, env.get("JUPYTER_CONFIG_PATH", "")) if p
    )
    env["WORKBENCH_PROJECT_DIR"] = str(project)
    # The workbench server extension starts these with the server (its `autostart` default
    # reads this variable; the test servers, which share jupyter_config/, set none).
    started = demo_pipelines(project)
    if started:
        env.setdefault("WORKBENCH_AUTOSTART", ",".join(started))
    env.pop("JUPYTER_TOKEN", None)  # the demo token file is the one log-in
    return env


def run_up(
    port: int = 8888,
    scale: float = 1.0,
    open_browser: bool = False,
    build: bool = True,
    extra_args: list[str] | None = None,
    dry_run: bool = False,
) -> list[str]:
    project = project_dir()
    os.chdir(project)  # kernels and the proxied apps find workbench.yml from here
    if build:
        warehouse, built = ensure_warehouse(project, scale)
    else:
        from workbench.config import load_settings

        settings = load_settings(project)
        warehouse, built = settings.path(settings.warehouse), False
    token, new_token = ensure_token(project)
    users, existing_users = ensure_demo_users(project)
    chosen = pick_port(port)
    if chosen != port:
        print(f"Port {port} is taken; using {chosen}.", flush=True)
    env = jupyter_env(project)
    auto = [n for n in env.get("WORKBENCH_AUTOSTART", "").split(",") if n.strip()]
    print(
        banner(chosen, token, new_token, warehouse, built, auto, users, existing_users), flush=True
    )
    cmd = jupyter_command(chosen, open_browser, extra_args)
    if dry_run:
        return cmd
    os.execve(cmd[0], cmd, env)  # noqa: S606  argv list from jupyter_command(), no shell; exec replaces this process
    return cmd  # not reached


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="workbench up", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("WORKBENCH_PORT", 8888)))
    parser.add_argument("--scale", type=float, default=1.0, help="demo warehouse scale if built")
    parser.add_argument("--no-build", action="store_true", help="don't build a missing warehouse")
    parser.add_argument("--browser", action="store_true", help="open a browser")
    parser.add_argument("--dry-run", action="store_true", help="print, don't start Jupyter")
    args, extra = parser.parse_known_args(argv)
    cmd = run_up(
        port=args.port,
        scale=args.scale,
        open_browser=args.browser,
        build=not args.no_build,
        extra_args=extra,
        dry_run=args.dry_run,
    )
    if args.dry_run:
        print(" ".join(cmd))


if __name__ == "__main__":
    main()

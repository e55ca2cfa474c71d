"""The Workbench server extension, ``workbench``: it owns the warehouse inside the Jupyter server.

DuckDB lets one process hold a warehouse file open for writing, and no other process may open
it meanwhile.  So this one extension both runs the streaming pipelines (which write) and answers
the semantic queries of the apps, kernels and CLI (which read), through the warehouse host
(host.py), over REST under ``/workbench/api/`` (handlers/):

    GET  pipelines                 list, with each one's status
    POST pipelines/{name}/start    start one
    POST pipelines/{name}/stop     stop one
    GET  pipelines/{name}/status   one's status
    GET/POST query                 a governed semantic query -> records + sql + freshness
    GET  catalog                   metrics, dimensions and models the caller may see
    GET  metrics                   Prometheus exposition
    GET  incidents                 incidents (?status=, ?since=, ?limit=)
    GET  incidents/{id}            one, with its anomalies, insight, history and notifications
    POST incidents/{id}/acknowledge|resolve   role-gated (incident_roles)
    GET  detection                 the live detection loop's status (workbench.anomaly.detection_loop)
    POST quality/{suite}/validate  run a quality suite; GET quality, quality/{suite}/runs,
         quality/scores read the stored runs

Enabled by ``jupyter_config/jupyter_server_config.d/workbench_server.json`` (module
``workbench.server``); configured with ``c.WorkbenchApp.*`` (the traits below, docs/server-api.md).
Formerly ``workbench.server.pipelines_ext`` with ``c.WorkbenchPipelines.*``: settings under that
class name still apply (the server warns to rename them).
"""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Int, List, Unicode, default

from .host import WarehouseHost
from .identity import PrincipalMapper

API_PREFIX = "/workbench/api"
# The configuration section of the extension's former name (workbench.server.pipelines_ext).
LEGACY_SECTION = "WorkbenchPipelines"


class WorkbenchApp(ExtensionApp):
    """Runs the streaming pipelines and serves semantic queries, owning the warehouse."""

    name = "workbench"
    # No pages of its own: REST only, so no static or template folders.
    load_other_extensions = True

    warehouse = Unicode(
        "", config=True, help="DuckDB warehouse file; empty: workbench.yml / $WORKBENCH_WAREHOUSE."
    )
    project_root = Unicode(
        "", config=True, help="Project folder with workbench.yml; empty: found from the cwd."
    )
    pipelines_dir = Unicode(
        "", config=True, help="Folder of pipeline specs; empty: <project>/pipelines."
    )
    autostart = List(
        Unicode(),
        config=True,
        help="Pipelines started when the server starts, e.g. ['demo_orders']. "
        "Default: $WORKBENCH_AUTOSTART (comma separated), else none.",
    )

    @default("autostart")
    def _autostart_default(self) -> list[str]:
        # An environment default, so `make up` can start the demo pipeline while the test
        # servers, which share jupyter_config/, start none.
        env = os.environ.get("WORKBENCH_AUTOSTART", "")
        return [n.strip() for n in env.split(",") if n.strip()]

    principal_map = Dict(
        default_value={},
        config=True,
        help="Jupyter user name -> principal in principals.yml; '*' for all others.",
    )
    default_principal = Unicode(
        "",
        config=True,
        help="Principal for users not in principal_map; empty: the default of principals.yml.",
    )
    pipeline_loader = Unicode(
        "workbench.streaming:load_pipeline",
        config=True,
        help="module:function(name, warehouse=...) returning a Pipeline.",
    )
    pipeline_lister = Unicode(
        "workbench.streaming:list_pipelines",
        config=True,
        help="module:function() returning pipeline names.",
    )
    query_workers = Int(4, config=True, help="Threads running queries off the event loop.")
    max_rows = Int(50_000, config=True, help="Most rows one query response returns.")
    query_timeout = Float(60.0, config=True, help="Seconds before a query request gives up.")

    detection = Bool(
        None,
        allow_none=True,
        config=True,
        help="Run live anomaly detection in the server; None: workbench.yml "
        "anomaly.live.enabled (on in the demo).",
    )
    detection_interval = Float(
        None,
        allow_none=True,
        config=True,
        help="Seconds between detection cycles (<= 15); None: workbench.yml "
        "anomaly.live.interval_s.",
    )
    detection_settle = Float(
        None,
        allow_none=True,
        config=True,
        help="Seconds after a bucket ends before it is scored; None: "
        "workbench.yml anomaly.live.settle_s.",
    )
    alerts_dir = Unicode(
        "", config=True, help="Folder of alert rules; empty: workbench.yml anomaly.alerts_dir."
    )
    incidents_db = Unicode(
        "", config=True, help="Incident store (sqlite); empty: workbench.yml anomaly.incidents_db."
    )
    detection_state_dir = Unicode(
        "", config=True, help="Detection job state folder; empty: workbench.yml anomaly.state_dir."
    )
    incident_roles = List(
        Unicode(),
        default_value=["admin", "analyst"],
        config=True,
        help="Roles (principals.yml) that may acknowledge and resolve incidents; "
        "every logged-in user may read them.",
    )

    host: WarehouseHost | None = None
    detection_loop = None

    @classmethod
    def section_names(cls) -> list[str]:
        # c.WorkbenchPipelines.* written for the former extension still applies; where both are
        # set, c.WorkbenchApp.* wins (later sections override earlier ones).
        names = super().section_names()
        return [*names[:-1], LEGACY_SECTION, names[-1]]

    def initialize_settings(self) -> None:
        if LEGACY_SECTION in self.config:
            self.log.warning(
                "workbench: c.%s.* is the former name of these settings; they "
                "still apply, but rename them to c.%s.*",
                LEGACY_SECTION,
                type(self).__name__,
            )
        self.host = WarehouseHost(
            warehouse=self.warehouse,
            root=self.project_root,
            pipelines_dir=self.pipelines_dir,
            loader=self.pipeline_loader,
            lister=self.pipeline_lister,
            mapper=PrincipalMapper(dict(self.principal_map), self.default_principal),
            query_workers=self.query_workers,
            log=self.log,
            audit_source=self._audit_log,
        )
        from workbench.anomaly.detection_loop import build_loop

        self.detection_loop = build_loop(
            self.host,
            self.log,
            enabled=self.detection,
            interval=self.detection_interval,
            settle=self.detection_settle,
            alerts_dir=self.alerts_dir,
            incidents_db=self.incidents_db,
            state_dir=self.detection_state_dir,
        )
        # Started here, not in _start_jupyter_server_extension: it is a plain thread (no event
        # loop needed), idle until the warehouse is open, and so it runs under jupyter_server's
        # pytest plugin too, which never calls the start hooks.
        self.detection_loop.start()
        st = self.detection_loop.status()
        self.log.info(
            "workbench: live detection %s (every %ss, namespaces %s)",
            "on" if st["enabled"] else "off",
            st["interval_s"],
            st["namespaces"],
        )
        self.settings.update(
            {
                "workbench_host": self.host,
                "workbench_max_rows": self.max_rows,
                "workbench_query_timeout": self.query_timeout,
                "workbench_detection": self.detection_loop,
                "workbench_incident_roles": list(self.incident_roles),
            }
        )

    def initialize_handlers(self) -> None:
        from .handlers import api_handlers

        self.handlers.extend(api_handlers(API_PREFIX))

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        import asyncio

        self._publish_runtime(serverapp)
        host = self.host
        if host is None:  # initialize_settings did not run: nothing to start
            return
        loop = asyncio.get_running_loop()
        for name in self.autostart:
            try:
                await loop.run_in_executor(host.executor, host.start, name)
                self.log.info("workbench: started pipeline %s", name)
            except Exception as exc:  # noqa: BLE001  the server stays up; status shows why
                self.log.error("workbench: could not start pipeline %s: %s", name, exc)

    def _audit_log(self):
        """The audit log of the server's identity provider (workbench.server.login), if it has one."""
        services = (
            getattr(self.serverapp.identity_provider, "services", None) if self.serverapp else None
        )
        return getattr(services, "audit_log", None)

    def _publish_runtime(self, serverapp) -> None:
        """Tell other processes (kernels, apps, the CLI) that this server owns the warehouse: the
        runtime file beside it (workbench.client.runtime; mode 0600, removed at shutdown).  Only
        an embedded DuckDB file has one owning process."""
        from workbench.client import RuntimeInfo, write_runtime

        if self.host is None or self.host.settings().engine != "duckdb":
            return
        self._runtime_for = self.host.warehouse_path()
        write_runtime(
            RuntimeInfo(
                url=serverapp.connection_url,
                token=serverapp.identity_provider.token,
                pid=os.getpid(),
                warehouse=str(self._runtime_for),
            )
        )
        self.log.info(
            "workbench: owns %s; clients find this server through %s.server.json",
            self._runtime_for,
            self._runtime_for,
        )

    async def stop_extension(self) -> None:
        from workbench.client import remove_runtime

        if getattr(self, "_runtime_for", None) is not None:
            remove_runtime(self._runtime_for)
        if self.detection_loop is not None:
            self.detection_loop.stop()
        if self.host is not None:
            self.host.close()

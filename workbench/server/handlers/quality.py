"""REST handlers for data quality: run a Great Expectations suite and read the stored runs.

    GET  quality                         the suites, each with its latest run
    POST quality/{suite}/validate        validate now -> the run (verdicts, score, alerts)
    GET  quality/{suite}/runs            the suite's runs, newest first (?limit=20)
    GET  quality/scores                  what the quality app shows: current scores, history,
                                         failing checks with sample rows, SLA status

The approval queue and the cleansing lineage (``quality/approvals...``, ``quality/lineage...``)
are in :mod:`.quality_approvals`; their routes are listed here with these.

Validation goes through the extension's :class:`~workbench.server.host.WarehouseHost`: DuckDB
lets one process write a warehouse file and the host already holds it read-write, so the run
(workbench.quality.service.api_validate) reads the target and writes ``quality_*`` tables on the
host's own workbench rather than opening the file a second time.  Runs are serialised in this
process (they create and append to the same tables).  Resource ``workbench:quality``: reading is
``read``, validating ``write``.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from workbench.client.wire import json_records

from .base import READ, WRITE, BadRequest, WorkbenchHandler
from .quality_approvals import approval_handlers

# What the server can validate on. Spark and PostgreSQL runs read other stores and are started
# from notebooks or the CLI; over REST the warehouse the host owns is the one checked.
ENGINES = ("duckdb",)
_SUITE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_ALLOWED = {"engine", "data_docs"}
_RUN_LOCK = threading.Lock()


def suite_name(suite: str) -> str:
    if not _SUITE.match(suite):
        raise BadRequest(f"'{suite}' is not a suite name (letters, digits, '_' and '-').")
    return suite


def parse_options(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise BadRequest(
            f"Unknown field(s): {', '.join(unknown)}. Allowed: {', '.join(sorted(_ALLOWED))}."
        )
    engine = data.get("engine") or "duckdb"
    if engine not in ENGINES:
        raise BadRequest(
            f"Engine '{engine}' can't be validated on over REST; use "
            f"{', '.join(ENGINES)} (Spark and PostgreSQL: `workbench validate`)."
        )
    docs = data.get("data_docs", False)
    if not isinstance(docs, bool):
        raise BadRequest("'data_docs' must be true or false.")
    return {"engine": engine, "data_docs": docs}


class QualityService:
    """The quality library (workbench.quality) on the host's warehouse, run off the event loop;
    what it answers is JSON-ready."""

    def __init__(self, host):
        self.host = host

    def _wb(self):
        return self.host.workbench()

    def suites_dir(self):
        return self._wb().settings.path("pipelines/quality")

    def known(self) -> list[str]:
        from workbench.quality.suite_spec import list_suites

        return list_suites(self.suites_dir())

    def _check_known(self, suite: str) -> None:
        known = self.known()
        if suite not in known:
            raise BadRequest(
                f"Unknown quality suite '{suite}'. Known suites: {', '.join(known) or 'none'}."
            )

    def validate(self, suite: str, options: dict[str, Any]) -> dict:
        from workbench.quality.service import api_validate
        from workbench.semantic.errors import SemanticError

        self._check_known(suite)
        with _RUN_LOCK:
            try:
                run = api_validate(
                    suite,
                    options["engine"],
                    warehouse=self._wb(),
                    suites_dir=self.suites_dir(),
                    data_docs=options["data_docs"],
                )
            except SemanticError as exc:  # a suite file that does not parse: name, line
                raise BadRequest(str(exc)) from None
            except ValueError as exc:  # e.g. a proposed suite nobody has accepted
                raise BadRequest(str(exc)) from None
        self.host.tables_changed()  # the quality_* tables changed under the queries
        return run

    def _read(self, fn, *args, **kw):
        cur = self._wb().engine.cursor()  # SupportsCursor: the host's engine is DuckDB
        try:
            return fn(cur, *args, **kw)
        finally:
            cur.close()

    def runs(self, suite: str, limit: int) -> dict:
        from workbench.quality import scores

        self._check_known(suite)
        return {"suite": suite, "runs": json_records(self._read(scores.suite_runs, suite, limit))}

    def overview(self) -> dict:
        from workbench.quality import scores

        def read(cur):
            return {
                "current": json_records(scores.current_scores(cur)),
                "history": json_records(scores.score_history(cur)),
                "failing": json_records(scores.failing_checks(cur)),
                "sla": json_records(scores.sla_status(cur, suites_dir=self.suites_dir())),
                "quarantine": json_records(scores.quarantine(cur)),
            }

        return self._read(read)

    def suites(self) -> dict:
        from workbench.quality import scores

        current = {r["suite"]: r for r in json_records(self._read(scores.current_scores))}
        return {"suites": [{"suite": s, "latest": current.get(s)} for s in self.known()]}


class QualityHandler(WorkbenchHandler):
    auth_resource = "workbench:quality"

    @property
    def quality(self) -> QualityService:
        return QualityService(self.host)


class QualitySuitesHandler(QualityHandler):
    """GET quality: the suites, each with its latest run."""

    auth_actions = READ
    endpoint = "quality"

    async def get(self) -> None:
        self.reply(await self.run(self.quality.suites))


class QualityValidateHandler(QualityHandler):
    """POST quality/{suite}/validate: run the suite now."""

    auth_actions = WRITE
    endpoint = "quality.validate"

    async def post(self, suite: str) -> None:
        name = suite_name(suite)
        options = parse_options(self.body_json())
        out = await self.run(self.quality.validate, name, options)
        self.log.info(
            "workbench: quality suite %s validated by %s: %s",
            name,
            self.username,
            "passed" if out["passed"] else f"failed {out['failed_checks']}",
        )
        self.reply(out)


class QualityRunsHandler(QualityHandler):
    """GET quality/{suite}/runs?limit=20: the suite's runs, newest first."""

    auth_actions = READ
    endpoint = "quality.runs"

    async def get(self, suite: str) -> None:
        raw = self.get_argument("limit", "20")
        try:
            limit = int(raw)
        except ValueError:
            raise BadRequest(f"'limit' must be a whole number, not {raw!r}.") from None
        if not 1 <= limit <= 1000:
            raise BadRequest("'limit' must be between 1 and 1000.")
        self.reply(await self.run(self.quality.runs, suite_name(suite), limit))


class QualityScoresHandler(QualityHandler):
    """GET quality/scores: what the quality app shows."""

    auth_actions = READ
    endpoint = "quality.scores"

    async def get(self) -> None:
        self.reply(await self.run(self.quality.overview))


def quality_handlers(prefix: str) -> list[tuple[str, type[WorkbenchHandler]]]:
    suite = r"(?P<suite>[^/]+)"
    # The approvals and lineage routes first: "approvals" and "lineage" are not suites.
    return approval_handlers(prefix) + [
        (rf"{prefix}/quality/?", QualitySuitesHandler),
        (rf"{prefix}/quality/scores/?", QualityScoresHandler),
        (rf"{prefix}/quality/{suite}/validate/?", QualityValidateHandler),
        (rf"{prefix}/quality/{suite}/runs/?", QualityRunsHandler),
    ]

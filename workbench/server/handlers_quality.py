"""REST handlers for data quality: run a Great Expectations suite and read the stored runs.

    GET  quality                         the suites, each with its latest run
    POST quality/{suite}/validate        validate now -> the run (verdicts, score, alerts)
    GET  quality/{suite}/runs            the suite's runs, newest first (?limit=20)
    GET  quality/scores                  what the quality app shows: current scores, history,
                                         failing checks with sample rows, SLA status

Validation goes through the extension's :class:`~.host.WarehouseHost`: DuckDB lets one
process write a warehouse file and the host already holds it read-write, so the run reads the
target and writes ``quality_*`` tables on cursors of the host's own connection rather than
opening the file a second time. Runs are serialised in this process (they create and append to
the same tables). Every handler is ``@tornado.web.authenticated`` + ``@authorized`` on
``workbench:quality``; bad requests are 400 with a message, never a traceback.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from .handlers import BadRequest, WorkbenchAPIHandler
from .handlers_query import _cell

# What the server can validate on. Spark and PostgreSQL runs read other stores and are started
# from notebooks or the CLI; over REST the warehouse the host owns is the one checked.
ENGINES = ("duckdb",)
_SUITE = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_ALLOWED = {"engine", "data_docs"}
_RUN_LOCK = threading.Lock()


def _records(df) -> list[dict[str, Any]]:
    if df is None or df.empty:
        return []
    return [{k: _cell(v) for k, v in row.items()} for row in df.to_dict("records")]


def _suite_name(suite: str) -> str:
    if not _SUITE.match(suite):
        raise BadRequest(f"'{suite}' is not a suite name (letters, digits, '_' and '-').")
    return suite


class QualityService:
    """Quality work on the host's warehouse connection, run off the event loop."""

    def __init__(self, host):
        self.host = host

    def _wb(self):
        return self.host.workbench()

    def suites_dir(self):
        s = self._wb().settings
        return s.path("pipelines/quality")

    def known(self) -> list[str]:
        from workbench.quality.suite_spec import list_suites

        return list_suites(self.suites_dir())

    def _check_known(self, suite: str) -> None:
        known = self.known()
        if suite not in known:
            raise BadRequest(f"Unknown quality suite '{suite}'. Known suites: "
                             f"{', '.join(known) or 'none'}.")

    def validate(self, suite: str, options: dict[str, Any]) -> dict:
        from workbench.quality.runner import validate
        from workbench.semantic.errors import SemanticError

        self._check_known(suite)
        with _RUN_LOCK:
            try:
                run = validate(self._wb(), suite, options["engine"],
                               suites_dir=self.suites_dir(), data_docs=options["data_docs"])
            except SemanticError as exc:      # a suite file that does not parse: name, line
                raise BadRequest(str(exc)) from None
            except ValueError as exc:         # e.g. a proposed suite nobody has accepted
                raise BadRequest(str(exc)) from None
        self.host.tables_changed()             # the quality_* tables changed under the queries
        return run.to_dict()

    def _read(self, fn, *args, **kw):
        cur = self._wb().engine.cursor()   # SupportsCursor: the host's engine is DuckDB
        try:
            return fn(cur, *args, **kw)
        finally:
            cur.close()

    def runs(self, suite: str, limit: int) -> dict:
        from workbench.quality import scores

        self._check_known(suite)

        def read(cur):
            if not scores.has_tables(cur, "quality_runs"):
                return []
            runs = cur.execute(
                "SELECT run_id, engine, started_at, seconds, success AS passed, checks, "
                "failed_checks, rows, quarantined, score FROM quality_runs WHERE suite = ? "
                "ORDER BY started_at DESC, run_id DESC LIMIT ?", [suite, limit]).df()
            return _records(runs)

        return {"suite": suite, "runs": self._read(read)}

    def overview(self) -> dict:
        from workbench.quality import scores

        def read(cur):
            return {"current": _records(scores.current_scores(cur)),
                    "history": _records(scores.score_history(cur)),
                    "failing": _records(scores.failing_checks(cur)),
                    "sla": _records(scores.sla_status(cur, suites_dir=self.suites_dir())),
                    "quarantine": _records(scores.quarantine(cur))}

        return self._read(read)

    def suites(self) -> dict:
        from workbench.quality import scores

        current = {r["suite"]: r for r in _records(self._read(scores.current_scores))}
        return {"suites": [{"suite": s, "latest": current.get(s)} for s in self.known()]}


def parse_options(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - _ALLOWED)
    if unknown:
        raise BadRequest(f"Unknown field(s): {', '.join(unknown)}. "
                         f"Allowed: {', '.join(sorted(_ALLOWED))}.")
    engine = data.get("engine") or "duckdb"
    if engine not in ENGINES:
        raise BadRequest(f"Engine '{engine}' can't be validated on over REST; use "
                         f"{', '.join(ENGINES)} (Spark and PostgreSQL: `workbench validate`).")
    docs = data.get("data_docs", False)
    if not isinstance(docs, bool):
        raise BadRequest("'data_docs' must be true or false.")
    return {"engine": engine, "data_docs": docs}


class QualityAPIHandler(WorkbenchAPIHandler):
    auth_resource = "workbench:quality"

    @property
    def quality(self) -> QualityService:
        return QualityService(self.host)


class QualitySuitesHandler(QualityAPIHandler):
    endpoint = "quality"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        async def go():
            self.reply(await self.run(self.quality.suites))

        await self.guarded(go)


class QualityValidateHandler(QualityAPIHandler):
    endpoint = "quality.validate"

    @tornado.web.authenticated
    @authorized
    async def post(self, suite: str) -> None:
        async def go():
            name = _suite_name(suite)
            options = parse_options(self.body_json())
            out = await self.run(self.quality.validate, name, options)
            self.log.info("workbench_pipelines: quality suite %s validated by %s: %s", name,
                          getattr(self.current_user, "username", "?"),
                          "passed" if out["passed"] else f"failed {out['failed_checks']}")
            self.reply(out)

        await self.guarded(go)


class QualityRunsHandler(QualityAPIHandler):
    endpoint = "quality.runs"

    @tornado.web.authenticated
    @authorized
    async def get(self, suite: str) -> None:
        async def go():
            raw = self.get_argument("limit", "20")
            try:
                limit = int(raw)
            except ValueError:
                raise BadRequest(f"'limit' must be a whole number, not {raw!r}.") from None
            if not 1 <= limit <= 1000:
                raise BadRequest("'limit' must be between 1 and 1000.")
            self.reply(await self.run(self.quality.runs, _suite_name(suite), limit))

        await self.guarded(go)


class QualityScoresHandler(QualityAPIHandler):
    endpoint = "quality.scores"

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        async def go():
            self.reply(await self.run(self.quality.overview))

        await self.guarded(go)


def quality_handlers(prefix: str) -> list[tuple[str, type]]:
    suite = r"(?P<suite>[^/]+)"
    return [
        (rf"{prefix}/quality/?", QualitySuitesHandler),
        (rf"{prefix}/quality/scores/?", QualityScoresHandler),
        (rf"{prefix}/quality/{suite}/validate/?", QualityValidateHandler),
        (rf"{prefix}/quality/{suite}/runs/?", QualityRunsHandler),
    ]

"""``RemoteWorkbench``: the session API of :class:`workbench.api.Workbench`, answered by the server.

The server runs every query as the principal the caller's identity maps to, so a client never
chooses who it is: ``connect(principal=...)`` against a server is refused rather than ignored.
Queries are lazy as locally: ``q.sql()`` and ``q.df`` cost one request, made once.
"""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlencode, urlsplit

import pandas as pd

from ..errors import WorkbenchError
from ..security.principal import Principal
from . import wire
from .credentials import process_headers
from .runtime import RuntimeInfo

API = "workbench/api/"


class ServerError(WorkbenchError):
    """The server refused or failed a request; the message is the server's, for people."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    """One HTTP answer, read whole."""

    status: int
    reason: str
    headers: dict[str, str]
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content or b"null")


class RemoteWorkbench:
    """A session on the Workbench server at ``info.url`` (see :func:`workbench.connect`)."""

    def __init__(
        self, info: RuntimeInfo, timeout: float = 300.0, credentials: dict[str, str] | None = None
    ):
        """``credentials``: request headers that say who is asking (an app forwarding the person's
        ``Authorization`` or log-in ``Cookie`` with its ``X-XSRFToken``); default: the runtime
        file's token, i.e. the owner who started the server, or the kernel's person when the server
        started this kernel for someone who logged in (credentials.process_headers)."""
        self.info, self.timeout = info, timeout
        url = urlsplit(info.url)
        self._scheme, self._host, self._port = url.scheme, url.hostname or "127.0.0.1", url.port
        self._base = url.path if url.path.endswith("/") else url.path + "/"
        self._auth = dict(credentials) if credentials else process_headers(info.token)
        # One keep-alive connection, used by one request at a time.  http.client rather than
        # requests: about a millisecond less per call, which is most of a cached query's cost.
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._whoami: str | None = None
        self.last_format = ""  # how the last result came: "arrow" or "json"

    # transport --------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def request(
        self,
        method: str,
        endpoint: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Response:
        """One request to ``workbench/api/<endpoint>``; a refusal is a :class:`ServerError` with its message."""
        path = self._base + API + endpoint + (("?" + urlencode(params)) if params else "")
        head = {**self._auth, **(headers or {})}
        with self._lock:
            for attempt in (1, 2):  # a kept-alive connection the server closed: reconnect once
                conn = self._connection()
                try:
                    conn.request(method, path, body=body, headers=head)
                    r = conn.getresponse()
                    answer = Response(
                        r.status, r.reason, {k.lower(): v for k, v in r.getheaders()}, r.read()
                    )
                    break
                except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                    conn.close()
                    self._conn = None
                    if attempt == 2:
                        raise self._down(e) from None
                except OSError as e:
                    conn.close()
                    self._conn = None
                    raise self._down(e) from None
        if answer.status >= 400:
            raise ServerError(self._message(answer), answer.status)
        return answer

    def _down(self, e: BaseException) -> ServerError:
        return ServerError(
            f"The Workbench server at {self.info.url} (pid {self.info.pid}) does not answer: "
            f"{e.__class__.__name__}. Is it still running? `make up` starts it."
        )

    @staticmethod
    def _message(r: Response) -> str:
        try:
            body = r.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        msg = body.get("message") or body.get("error") or r.reason
        return f"{msg} (server answered {r.status})"

    # the session API ----------------------------------------------------------------------
    def query(
        self,
        target: str,
        metrics: str | list[Any] | None = None,
        dimensions: str | list[Any] | None = None,
        **kw: Any,
    ) -> RemoteQuery:
        """Build a governed query, run by the server; same arguments as ``Workbench.query``."""
        if kw.get("as_"):
            raise ServerError(
                "as_= is not available through the server: it runs every query as you."
            )
        body: dict[str, Any] = {"namespace": target}
        if metrics:
            body["metrics"] = [metrics] if isinstance(metrics, str) else list(metrics)
        if dimensions:
            body["dimensions"] = [dimensions] if isinstance(dimensions, str) else list(dimensions)
        for key, value in kw.items():
            if key == "as_" or value is None or value is False:
                continue
            body[key] = (
                str(value)
                if key == "today"
                else ([value] if key == "where" and isinstance(value, str) else value)
            )
        return RemoteQuery(self, body)

    def run(self, body: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
        """POST one query; the rows as a frame and the facts the server sent with them."""
        r = self.request(
            "POST",
            "query",
            json.dumps(body).encode(),
            {"Accept": wire.MEDIA_TYPE, "Content-Type": "application/json"},
        )
        if r.headers.get("content-type", "").startswith(wire.MEDIA_TYPE):
            table, facts = wire.decode(r.content)
            self.last_format = "arrow"
            return wire.to_frame(table), facts
        self.last_format = "json"
        facts = r.json()  # a server without Arrow answers JSON rows
        return pd.DataFrame(facts.pop("records"), columns=facts.get("columns")), facts

    def _catalog(self, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.request(
            "GET", "catalog", params={k: v for k, v in params.items() if v is not None}
        ).json()
        return answer

    def namespaces(self) -> list[str]:
        return list(self._catalog(limit=1, q=None)["namespaces"])

    def catalog(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return list(self._catalog(namespace=namespace)["entries"])

    def search(
        self, text: str, limit: int = 20, namespace: str | None = None
    ) -> list[dict[str, Any]]:
        return list(self._catalog(q=text, limit=limit, namespace=namespace)["entries"])

    @property
    def principal(self) -> Principal:
        """Who the server runs this session's queries as (name only: its policies stay there)."""
        return Principal.of(self.user)

    def describe(self, spec: Any) -> dict[str, Any]:
        """Column metadata (labels, formats) of a query this session ran: ``wb.describe(q.spec)``."""
        if isinstance(spec, RemoteQuery):
            return dict(spec.facts.get("meta") or {})
        raise ServerError(
            "describe() takes a query run through the server (q.spec of a RemoteQuery)."
        )

    @property
    def user(self) -> str:
        """The principal the server runs this session's queries as."""
        if self._whoami is None:
            self._whoami = str(self._catalog(limit=1)["principal"])
        return self._whoami

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> RemoteWorkbench:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RemoteWorkbench {self.info.url} warehouse={self.info.warehouse}>"


class RemoteQuery:
    """A query the server runs: ``.df``, ``.sql()``, ``.chart()`` as locally; no Ibis expression."""

    def __init__(self, wb: RemoteWorkbench, body: dict[str, Any]):
        self.wb, self.body = wb, body

    @cached_property
    def _result(self) -> tuple[pd.DataFrame, dict[str, Any]]:
        return self.wb.run(dict(self.body))

    @property
    def df(self) -> pd.DataFrame:
        return self._result[0]

    @property
    def spec(self) -> RemoteQuery:
        """Stands in for the local query spec where callers pass it back (``wb.describe(q.spec)``)."""
        return self

    def to_pandas(self) -> pd.DataFrame:
        return self.df

    def to_pyarrow(self) -> Any:
        import pyarrow as pa

        return pa.Table.from_pandas(self.df, preserve_index=False)

    @property
    def facts(self) -> dict[str, Any]:
        """What the server said about the result: principal, SQL, freshness, cached, milliseconds."""
        return self._result[1]

    @property
    def cached(self) -> bool:
        return bool(self.facts.get("cached"))

    @property
    def truncated(self) -> bool:
        return bool(self.facts.get("truncated"))

    def sql(self, pretty: bool = True) -> str:
        return str(self.facts.get("sql", ""))

    def to_ibis(self) -> Any:
        raise ServerError(
            f"q.to_ibis() needs the warehouse in this process, and the Workbench server at {self.wb.info.url} "
            "owns it. Use q.sql() for the SQL and q.df for the rows; or stop the server to work on the file "
            "directly."
        )

    def chart(self, kind: str | None = None, **opts: Any) -> Any:
        """The same chart a local query gives (workbench.ui.charts)."""
        from ..ui.charts import auto_chart

        chart = auto_chart(
            self.df,
            list(self.body.get("metrics", [])),
            list(self.body.get("dimensions", [])),
            kind=kind,
            **opts,
        )
        if chart is None:
            import hvplot.pandas  # noqa: F401

            return self.df.hvplot.table()
        return chart

    def __len__(self) -> int:
        return len(self.df)

    def _repr_html_(self) -> str:
        return str(self.df._repr_html_())

    def __repr__(self) -> str:
        return (
            f"<RemoteQuery {self.body.get('namespace')} metrics={self.body.get('metrics', [])} "
            f"dimensions={self.body.get('dimensions', [])} via {self.wb.info.url}>"
        )

"""The typed description of one semantic query, normalised so equal queries hash equally."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field

from .errors import QueryError


def _tuple(v) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        return tuple(x.strip() for x in v.split(",") if x.strip())
    return tuple(str(x).strip() for x in v if str(x).strip())


@dataclass(frozen=True)
class QuerySpec:
    namespace: str
    model: str | None = None                # preferred model for unqualified names
    metrics: tuple[str, ...] = ()
    dimensions: tuple[str, ...] = ()
    grain: str | None = None
    where: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    time_range: str | None = None
    time_dimension: str | None = None
    order: tuple[str, ...] = ()
    limit: int | None = None
    distinct: bool = False                  # detail queries: one row per distinct combination
    today: dt.date | None = field(default=None)   # anchor for relative time ranges

    @classmethod
    def build(cls, target: str, metrics=None, dimensions=None, where=None, segments=None,
              order=None, **kw) -> "QuerySpec":
        namespace, _, model = target.partition(".")
        limit = kw.get("limit")
        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise QueryError(f"limit must be a non-negative whole number, not {limit!r}.")
        where_t = (where,) if isinstance(where, str) else tuple(where or ())
        spec = cls(namespace=namespace, model=model or kw.pop("model", None),
                   metrics=_tuple(metrics), dimensions=_tuple(dimensions),
                   where=tuple(w for w in where_t if w and w.strip()),
                   segments=_tuple(segments), order=_tuple(order), **kw)
        if not spec.metrics and not spec.dimensions:
            raise QueryError("A query needs at least one metric or dimension.")
        return spec

    def key(self) -> str:
        blob = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]

    @property
    def is_detail(self) -> bool:
        return not self.metrics

"""PostgreSQL through Ibis: the same models on the production database."""
from __future__ import annotations

import ibis

from ..semantic.errors import EngineError
from .base import Engine, register_engine


@register_engine
class PostgresEngine(Engine):
    name = "postgres"

    def __init__(self, url: str | None = None, **options):
        super().__init__(**options)
        self.url = url or "postgres://postgres@127.0.0.1:5432/postgres"

    def _connect(self):
        try:
            return ibis.connect(self.url)
        except Exception as e:
            raise EngineError(f"Cannot connect to PostgreSQL at {self.url}: "
                              f"{str(e).splitlines()[0]}") from None

    def data_version(self) -> str:
        return str(getattr(self, "_bump", 0))

    def invalidate(self) -> None:
        super().invalidate()
        self._bump = getattr(self, "_bump", 0) + 1

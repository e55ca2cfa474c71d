"""Redis Streams carrying Debezium JSON (e.g. Debezium Server's Redis sink).

Each entry holds the event in one field (`field`, or the entry's only field when unset, as
Debezium Server writes `{record key: record value}`). The position is the entry id; it is kept
in the warehouse checkpoint, so no consumer group is needed and restarts resume exactly after
the last committed entry.
"""
from __future__ import annotations

from pydantic import Field

from ..events import RawEvent
from .base import Source, SourceOptions, register_source


class RedisOptions(SourceOptions):
    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL.")
    stream: str = Field(..., description="Stream key.")
    field: str | None = Field(None, description="Field holding the event (default: the entry's only field).")
    trim_on_commit: bool = Field(False, description="XTRIM MINID past committed entries (the stream is a queue).")


@register_source
class RedisStreamSource(Source):
    kind = "redis"
    Options = RedisOptions

    def open(self, after):
        import redis
        self.r = redis.Redis.from_url(self.options.url)
        self.r.ping()
        self.last = f"{after[0]}-{after[1]}" if after else "0-0"

    def poll(self, max_events, timeout):
        res = self.r.xread({self.options.stream: self.last}, count=max_events, block=max(1, int(timeout * 1000)))
        out = []
        for _key, entries in res or []:
            for eid, fields in entries:
                sid = eid.decode()
                ms, _, seq = sid.partition("-")
                if self.options.field is not None:
                    raw = fields.get(self.options.field.encode())
                else:
                    raw = next(iter(fields.values())) if len(fields) == 1 else fields.get(b"value")
                payload = raw.decode("utf-8", "replace") if raw is not None else ""
                out.append(RawEvent(int(ms), int(seq), sid, payload))
                self.last = sid
        return out

    def commit(self, position):
        if self.options.trim_on_commit:
            self.r.xtrim(self.options.stream, minid=f"{position[0]}-{position[1] + 1}", approximate=False)

    def lag(self):
        try:
            info = self.r.xinfo_stream(self.options.stream)
            last = info.get("last-generated-id", b"0-0")
            last = last.decode() if isinstance(last, bytes) else str(last)
            if last == self.last:
                return 0
            return len(self.r.xrange(self.options.stream, min=f"({self.last}", count=100_000))
        except Exception:
            return None

    def close(self):
        try:
            self.r.close()
        except Exception:
            pass


def publish(url: str, stream: str, payloads: list[str], field: str = "value", chunk: int = 5000) -> None:
    """XADD payloads (tests, benchmarks, demos)."""
    import redis
    r = redis.Redis.from_url(url)
    for i in range(0, len(payloads), chunk):
        p = r.pipeline(transaction=False)
        for pl in payloads[i:i + chunk]:
            p.xadd(stream, {field: pl})
        p.execute()
    r.close()

"""Redis Streams carrying Debezium JSON (e.g. Debezium Server's Redis sink).

Each entry holds the event in one field (`field`, or the entry's only field when unset, as
Debezium Server writes `{record key: record value}`). The position is the entry id; it is kept
in the warehouse checkpoint, so no consumer group is needed and restarts resume exactly after
the last committed entry.
"""

from __future__ import annotations

from pydantic import Field

from .base import Source, SourceOptions


class RedisOptions(SourceOptions):
    url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL.")
    stream: str = Field(..., description="Stream key.")
    field: str | None = Field(
        None, description="Field holding the event (default: the entry's only field)."
    )
    trim_on_commit: bool = Field(
        False, description="XTRIM MINID past committed entries (the stream is a queue)."
    )


class RedisStreamSource(Source):
    """A Redis stream of Debezium JSON (see the module docstring)."""

    kind = "redis"
    Options = RedisOptions

    def open(self, after):
        import redis

        self.r = redis.Redis.from_url(self.options.url)
        self.r.ping()
        self.last = f"{after[0]}-{after[1]}" if after else "0-0"
        # lag = entries added - entries before our start - entries read (XINFO's entries-added,
        # Redis >= 7): calibrated now when reading from the start, else once caught up
        self._read = 0
        self._base = None
        if after is None:
            try:
                info = self.r.xinfo_stream(self.options.stream)
                if info.get("entries-added") is not None:
                    self._base = int(info["entries-added"]) - int(info["length"])
            except Exception:  # the stream does not exist yet
                self._base = 0

    def poll(self, max_events, timeout):
        res = self.r.xread(
            {self.options.stream: self.last}, count=max_events, block=max(1, int(timeout * 1000))
        )
        out = []
        field = self.options.field.encode() if self.options.field is not None else None
        for _key, entries in res or []:
            # plain (hi, lo, position, payload) tuples: this loop runs once per event
            for eid, fields in entries:
                ms, _, seq = eid.partition(b"-")
                if field is not None:
                    raw = fields.get(field)
                else:
                    raw = next(iter(fields.values())) if len(fields) == 1 else fields.get(b"value")
                out.append(
                    (
                        int(ms),
                        int(seq),
                        eid.decode(),
                        raw.decode("utf-8", "replace") if raw is not None else "",
                    )
                )
        if out:
            self.last = out[-1][2]
        self._read += len(out)
        return out

    def commit(self, position):
        if self.options.trim_on_commit:
            self.r.xtrim(
                self.options.stream, minid=f"{position[0]}-{position[1] + 1}", approximate=False
            )

    def lag(self):
        """Entries not read yet, from XINFO STREAM alone (no scan of the backlog)."""
        try:
            info = self.r.xinfo_stream(self.options.stream)
        except Exception:
            return None
        last = info.get("last-generated-id", b"0-0")
        last = last.decode() if isinstance(last, bytes) else str(last)
        added = info.get("entries-added")
        if _id(last) <= _id(self.last):
            if added is not None:
                self._base = int(added) - self._read
            return 0
        if added is None or self._base is None:
            return None
        return max(0, int(added) - self._base - self._read)

    def close(self):
        try:
            self.r.close()
        except Exception:  # noqa: S110  closing: a connection that is already gone is closed
            pass


def _id(sid: str) -> tuple[int, int]:
    ms, _, seq = sid.partition("-")
    return int(ms), int(seq or 0)


def publish(
    url: str, stream: str, payloads: list[str], field: str = "value", chunk: int = 5000
) -> None:
    """XADD payloads (tests, benchmarks, demos)."""
    import redis

    r = redis.Redis.from_url(url)
    for i in range(0, len(payloads), chunk):
        p = r.pipeline(transaction=False)
        for pl in payloads[i : i + chunk]:
            p.xadd(stream, {field: pl})
        p.execute()
    r.close()

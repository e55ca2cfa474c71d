"""RabbitMQ Streams (rstream) carrying Debezium JSON.

The consumer runs on its own asyncio loop thread and hands messages over through a bounded
buffer; when the buffer is full the callback waits, so the broker's credit-based flow control
holds the backlog (backpressure). The position is the stream offset, kept in the warehouse
checkpoint; a restart subscribes at the next offset.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import Literal

from pydantic import Field

from ..events import RawEvent
from .base import Source, SourceOptions


class RabbitMQOptions(SourceOptions):
    host: str = Field("127.0.0.1", description="RabbitMQ host.")
    port: int = Field(
        5552, description="RabbitMQ Streams port (the stream protocol, not AMQP's 5672)."
    )
    username: str = Field("guest", description="RabbitMQ user.")
    password: str = Field(  # noqa: S105  RabbitMQ's stock local account; workbench.yml overrides it
        "guest", description="RabbitMQ password (the stock local account's by default)."
    )
    vhost: str = Field("/", description="RabbitMQ virtual host.")
    stream: str = Field(..., description="Stream name (created if missing).")
    encoding: Literal["amqp", "raw"] = Field(
        "amqp", description="AMQP 1.0 messages (Debezium, most clients) or raw bytes."
    )
    buffer: int = Field(
        50_000, description="Messages buffered before the consumer waits (backpressure)."
    )


class RabbitMQStreamSource(Source):
    """A RabbitMQ stream of Debezium JSON (see the module docstring)."""

    kind = "rabbitmq"
    Options = RabbitMQOptions
    options: RabbitMQOptions

    def open(self, after):
        self.buf: collections.deque = collections.deque()
        self.after = after[0] if after else -1
        self.error: Exception | None = None
        self.ready = threading.Event()
        self.closing = False
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self._run, name=f"rstream-{self.pipeline}", daemon=True
        )
        self.thread.start()
        if not self.ready.wait(30):
            raise RuntimeError("RabbitMQ stream consumer did not start within 30 s")
        if self.error:
            raise self.error

    def _run(self):
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._consume())
        except Exception as e:
            self.error = e
            self.ready.set()

    async def _consume(self):
        from rstream import (  # noqa: F401
            AMQPMessage,
            Consumer,
            ConsumerOffsetSpecification,
            OffsetType,
            amqp_decoder,
        )

        o = self.options
        self.stop_evt = asyncio.Event()
        self.consumer = Consumer(
            o.host, o.port, username=o.username, password=o.password, vhost=o.vhost
        )
        await self.consumer.start()
        if not await self.consumer.stream_exists(o.stream):
            await self.consumer.create_stream(o.stream, exists_ok=True)
        buf, limit, after = self.buf, o.buffer, self.after

        async def on_message(msg, ctx):
            if ctx.offset <= after:
                return
            while len(buf) >= limit and not self.closing:
                await asyncio.sleep(0.005)
            body = msg.body if o.encoding == "amqp" else msg
            if isinstance(body, list):
                body = b"".join(body)
            payload = (
                body.decode("utf-8", "replace")
                if isinstance(body, (bytes, bytearray))
                else str(body)
            )
            buf.append(RawEvent(ctx.offset, 0, str(ctx.offset), payload))

        spec = (
            ConsumerOffsetSpecification(OffsetType.OFFSET, after + 1)
            if after >= 0
            else ConsumerOffsetSpecification(OffsetType.FIRST, None)
        )
        await self.consumer.subscribe(
            o.stream,
            on_message,
            decoder=amqp_decoder if o.encoding == "amqp" else None,
            offset_specification=spec,
            initial_credit=50,
        )
        self.ready.set()
        await self.stop_evt.wait()
        await self.consumer.close()

    def poll(self, max_events, timeout):
        if self.error:
            raise self.error
        deadline = time.monotonic() + timeout
        while not self.buf and time.monotonic() < deadline:
            time.sleep(0.005)
        out = []
        while self.buf and len(out) < max_events:
            out.append(self.buf.popleft())
        return out

    def lag(self):
        return None

    def close(self):
        self.closing = True
        try:
            self.loop.call_soon_threadsafe(self.stop_evt.set)
        except Exception:  # noqa: S110  the loop has already stopped: nothing is left to wake
            pass
        self.thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


def publish(
    stream: str,
    payloads: list[str],
    host: str = "127.0.0.1",
    port: int = 5552,
    username: str = "guest",
    password: str = "guest",  # noqa: S107  RabbitMQ's stock local account (tests, demos)
    chunk: int = 2000,
) -> None:
    """Send payloads as AMQP 1.0 messages (tests, benchmarks, demos)."""
    from rstream import AMQPMessage, Producer

    async def go():
        async with Producer(host, port, username=username, password=password) as p:
            await p.create_stream(stream, exists_ok=True)
            for i in range(0, len(payloads), chunk):
                await p.send_batch(
                    stream, [AMQPMessage(body=x.encode()) for x in payloads[i : i + chunk]]
                )

    asyncio.run(go())


def delete_stream(
    stream: str,
    host: str = "127.0.0.1",
    port: int = 5552,
    username: str = "guest",
    password: str = "guest",  # noqa: S107  RabbitMQ's stock local account (tests, demos)
) -> None:
    from rstream import Producer

    async def go():
        async with Producer(host, port, username=username, password=password) as p:
            await p.delete_stream(stream, missing_ok=True)

    asyncio.run(go())

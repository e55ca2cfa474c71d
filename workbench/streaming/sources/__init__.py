"""Event sources: PostgreSQL logical decoding, RabbitMQ Streams, Redis Streams, embedded outbox."""

from .base import Source, SourceOptions, get_source_class, register_source, source_kinds

__all__ = ["Source", "SourceOptions", "get_source_class", "register_source", "source_kinds"]

"""The public face of the audit trail: open a log, record entries, verify, export.

log = AuditLog.open(settings)            # workbench Settings, AuditSettings, URL or path
log.record("semantic.query", actor=principal, resource="retail", outcome="success",
           source="10.0.0.7", namespace="retail", members=[...], rows=12, ms=8.1)
report = log.verify(public_key_path)      # the public key only
"""

from __future__ import annotations

import atexit
import datetime as dt
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..audit_hook import AuditHook
from .chain import Entry, new_body, seal
from .checkpoints import Checkpoint, CheckpointPolicy, sign
from .errors import AuditError
from .keys import load_or_create_private_key, load_public_key, public_path
from .store import AuditStore, SQLiteStore
from .verify import VerifyReport, verify_entries
from .writer import BufferedWriter

MAX_TRIES = 1000  # each lost race means another writer appended; this bounds a livelock only


class AuditLog:
    def __init__(
        self,
        store: AuditStore,
        key_path: Path | None,
        checkpoint_every: int = 100,
        checkpoint_minutes: float = 5.0,
        buffer_ms: float = 0.0,
    ):
        if checkpoint_every < 1 or checkpoint_minutes <= 0 or buffer_ms < 0:
            raise AuditError(
                "checkpoint_every must be >= 1, checkpoint_minutes > 0, buffer_ms >= 0"
            )
        self.store = store
        self.key_path = None if key_path is None else Path(key_path)
        # loaded on the first record(), so a reader never needs it
        self._key: Ed25519PrivateKey | None = None
        self._policy = CheckpointPolicy(checkpoint_every, checkpoint_minutes)
        self._lock = threading.Lock()
        self._last: tuple[int, str] | None = None
        self._writer: BufferedWriter | None = None
        if buffer_ms > 0:
            self._writer = BufferedWriter(self._append, buffer_ms)
            atexit.register(self.flush_quietly)

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, target: Any = None, *, key_path: str | Path | None = None) -> AuditLog:
        """A log from workbench `Settings` (its `audit` section), `AuditSettings`, a
        postgresql:// URL, or an SQLite file path. None reads workbench.yml.

        The signing key is `key_path`, else the settings' `audit.key_path`; for a bare URL,
        the project's configured key; for a bare file path, `keys/audit_ed25519.pem` beside
        the file, so a scratch log never signs with (or creates) the project's key."""
        from ...config import AuditSettings, Settings, load_settings

        if target is None:
            target = load_settings()
        if isinstance(target, Settings):
            a, resolve = target.audit, target.path
        elif isinstance(target, AuditSettings):
            a, resolve = target, Path
        elif isinstance(target, (str, Path)):
            text = str(target)
            if text.startswith(("postgresql://", "postgres://")):
                project = load_settings()
                a = AuditSettings(url=text, key_path=str(project.path(project.audit.key_path)))
            else:
                a = AuditSettings(
                    path=text, key_path=str(Path(text).parent / "keys" / "audit_ed25519.pem")
                )
            resolve = Path
        else:
            raise AuditError(
                f"AuditLog.open takes Settings, AuditSettings, a URL or a path, "
                f"not {type(target).__name__}"
            )
        if a.url:
            from .pg_store import PostgresStore

            store: AuditStore = PostgresStore(a.url, a.pg_schema, a.synchronous)
        else:
            store = SQLiteStore(resolve(a.path), a.synchronous)
        key = Path(key_path) if key_path is not None else resolve(a.key_path)
        return cls(store, key, a.checkpoint_every, a.checkpoint_minutes, a.buffer_ms)

    # -- writing ------------------------------------------------------------------------------
    def record(
        self,
        action: str,
        *,
        actor: Any = None,
        resource: str | None = None,
        outcome: str = "success",
        source: str | None = None,
        **details: Any,
    ) -> Entry | None:
        """Append one entry and return it; raises AuditError if it could not be stored.
        With `buffer_ms` > 0 the entry is queued and None returned (see writer.py)."""
        body = new_body(action, actor, resource, outcome, source, details)
        if self._writer is not None:
            self._writer.put(body)
            return None
        return self._append([body])[0]

    def flush(self) -> None:
        """Store every queued entry now (buffered logs); raises AuditError if that fails."""
        if self._writer is not None:
            self._writer.flush()

    def flush_quietly(self) -> None:
        """At interpreter exit: store what is queued; a failure there has nobody to tell."""
        try:
            self.flush()
        except AuditError:
            pass

    def _append(self, bodies: list[dict[str, Any]]) -> list[Entry]:
        with self._lock:
            if self._key is None and self.key_path is not None:
                # on the first write, so a writer's public key exists from its first entry on
                # and a bad key fails before anything is appended that could not be signed
                self._key = load_or_create_private_key(self.key_path)
            last = self._last or self.store.last()
            for _ in range(MAX_TRIES):
                entries, prev = [], last
                for body in bodies:
                    entries.append(seal(body, prev[0] + 1, prev[1]))
                    prev = (entries[-1].seq, entries[-1].hash)
                ok = (
                    self.store.try_append(entries[0])
                    if len(entries) == 1
                    else self.store.try_append_many(entries)
                )
                if ok:
                    break
                last = self.store.last()  # another writer took this seq: follow its entry
            else:
                raise AuditError(
                    f"{self.store.where}: could not append after {MAX_TRIES} "
                    "attempts (too many concurrent writers)"
                )
            self._last = prev
            signed_last = False
            for e in entries:  # every multiple of N, as with single appends
                if e.seq % self._policy.every == 0:
                    self._checkpoint(e)
                    signed_last = e is entries[-1]
            if not signed_last and self._policy.due(entries[-1].seq):  # the M-minute rule
                self._checkpoint(entries[-1])
        return entries

    def hook(self, source: str | None = None) -> AuditHook:
        """An `audit(action, **details)` callable for the security services
        (workbench/security/audit_hook.py). The actor is the `actor` detail, else `sub`, else
        for log-ins the `user` logging in; in `user.*` events `user` is the account changed,
        not who changed it. The outcome follows the action's name. Errors propagate, so those
        services fail closed."""

        def audit(action: str, **details: Any) -> None:
            actor = (
                details.pop("actor", None)
                or details.get("sub")
                or (details.get("user") if action.startswith(("login.", "auth.")) else None)
            )
            self.record(
                action,
                actor=actor,
                outcome=outcome_of(action),
                source=details.pop("source", source),
                **details,
            )

        return audit

    def checkpoint(self) -> None:
        """Sign the newest entry now (e.g. at shutdown, so the tail is pinned too)."""
        with self._lock:
            seq, hash_ = self.store.last()
            if seq:
                self._checkpoint_at(seq, hash_)

    def _checkpoint(self, entry: Entry) -> None:
        self._checkpoint_at(entry.seq, entry.hash)

    def _checkpoint_at(self, seq: int, hash_: str) -> None:
        if self.key_path is None:
            return
        if self._key is None:
            self._key = load_or_create_private_key(self.key_path)
        self.store.add_checkpoint(sign(self._key, seq, hash_))
        self._policy.done()

    # -- reading ------------------------------------------------------------------------------
    @property
    def public_key_path(self) -> Path | None:
        return None if self.key_path is None else public_path(self.key_path)

    def verify(self, public_key: Any = None, anchors: Iterable[Checkpoint] = ()) -> VerifyReport:
        """Check the whole log. Needs only the public key (a path, PEM or key object);
        defaults to the .pub file beside this log's signing key. `anchors` are checkpoints kept
        outside the store (`checkpoints.read_anchors`): with them, a tail removed together with
        its checkpoints, or a history forked after they were taken, is caught too."""
        if public_key is None:
            if self.public_key_path is None:
                raise AuditError("verify needs the audit public key")
            public_key = self.public_key_path
        key = load_public_key(public_key)
        anchors = list(anchors)
        # checkpoints first: each is written after its entry, so the entries read next include
        # every entry they cover even while writers go on (else a live log looks truncated)
        checkpoints = self.store.checkpoints() + anchors
        report = verify_entries(self.store.entries(), checkpoints, key)
        report.anchors = len(anchors)
        return report

    def entries(
        self,
        since: str | None = None,
        until: str | None = None,
        user: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> Iterator[Entry]:
        """Entries in order; since/until are ISO times or datetimes, action may end with '.'
        to match a family (auth.)."""
        return self.store.entries(_time_text(since), _time_text(until), user, action, limit)

    def export(self, since: Any = None, format: str = "ocsf") -> Iterator[str]:
        """One line per entry since `since`: OCSF JSON or CEF text."""
        from .siem import export_lines

        return export_lines(self.entries(since=since), format)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            atexit.unregister(self.flush_quietly)
        self.store.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


FAILURE_WORDS = ("failure", "reject", "reuse", "error")


def outcome_of(action: str) -> str:
    """The outcome a hook event implies: login.failure, token.reject, token.reuse and
    oidc.jwks_error are failures, authz.deny a denial, the rest successes."""
    last = action.rsplit(".", 1)[-1]
    if last == "deny":
        return "denied"
    return "failure" if any(w in last for w in FAILURE_WORDS) else "success"


def _time_text(value: Any) -> str | None:
    """Times as the stores keep them: fixed-width UTC text, so comparison is text order."""
    if value is None:
        return None
    if isinstance(value, str):
        from .timeparse import parse_since

        value = parse_since(value)
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    else:
        raise AuditError(
            f"audit time {value!r} must be an ISO time, a duration (15m, 24h, 7d), "
            "a date or a datetime"
        )
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

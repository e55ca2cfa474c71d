"""Signed checkpoints: every N entries or M minutes, the signer signs (seq, hash, time).

The hash chain alone shows edits only to someone who trusts the newest hash: whoever can write
the store can also re-hash everything after an edit, or cut the tail. A checkpoint signed with
a key the store's writer does not hold pins the chain up to its seq, so a re-hashed chain, a
removed tail or a second history for the same positions no longer matches a signature.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .chain import canonical_json, utc_now_text
from .errors import AuditError
from .keys import key_id


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    time: str
    key_id: str
    signature: str  # hex of the 64-byte Ed25519 signature over `signed_text`

    @property
    def signed_text(self) -> str:
        return signed_text(self.seq, self.hash, self.time, self.key_id)

    def valid_for(self, public_key: Ed25519PublicKey) -> bool:
        try:
            public_key.verify(bytes.fromhex(self.signature), self.signed_text.encode())
            return True
        except (InvalidSignature, ValueError):
            return False


def to_json(cp: Checkpoint) -> str:
    """One JSON line: what `workbench audit checkpoints` prints, to keep outside the store."""
    return canonical_json(asdict(cp))


def read_anchors(lines: Iterable[str], where: str) -> list[Checkpoint]:
    """Checkpoints kept elsewhere (JSON lines). Their signatures make them trustworthy whoever
    held them; a bad line is refused naming `where` and the line."""
    names = [f.name for f in fields(Checkpoint)]
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            if sorted(d) != sorted(names):
                raise ValueError(f"expected the keys {', '.join(names)}")
            out.append(
                Checkpoint(
                    int(d["seq"]),
                    str(d["hash"]),
                    str(d["time"]),
                    str(d["key_id"]),
                    str(d["signature"]),
                )
            )
        except (ValueError, TypeError, AttributeError) as e:
            raise AuditError(f"{where}:{n}: not a checkpoint line ({e})") from None
    return out


def signed_text(seq: int, hash_: str, time_: str, kid: str) -> str:
    return canonical_json(
        {
            "hash": hash_,
            "key_id": kid,
            "seq": seq,
            "time": time_,
            "type": "workbench.audit.checkpoint",
        }
    )


def sign(private_key: Ed25519PrivateKey, seq: int, hash_: str) -> Checkpoint:
    kid = key_id(private_key.public_key())
    now = utc_now_text()
    sig = private_key.sign(signed_text(seq, hash_, now, kid).encode()).hex()
    return Checkpoint(seq, hash_, now, kid, sig)


class CheckpointPolicy:
    """When the next checkpoint is due: at every multiple of `every` (so with several writer
    processes exactly one signs each such position), or when `minutes` have passed since this
    process last signed, so a quiet log is still pinned within M minutes of its last entry."""

    def __init__(self, every: int, minutes: float):
        self.every, self.seconds = every, minutes * 60.0
        self.last = time.monotonic()

    def due(self, seq: int) -> bool:
        return seq % self.every == 0 or time.monotonic() - self.last >= self.seconds

    def done(self) -> None:
        self.last = time.monotonic()

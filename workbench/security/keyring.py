"""The RS256 signing key ring, with rotation that never breaks a token in flight.

Each key is a PEM file ``<kid>.pem`` (mode 0600, folder 0700) whose kid is its RFC 7638 JWK
thumbprint; ``ring.json`` (0600) says each key's state:

- ``next``: published in JWKS, not yet signing, so verifiers that cache JWKS learn it before
  the first token it signs reaches them;
- ``current``: signs new tokens (exactly one);
- ``retired``: no longer signs, still in JWKS until every token it signed has expired, then removed.

``rotate()`` makes next current, current retired, and a fresh key next. Several processes may
share the folder: changes take a file lock and every read notices a changed ``ring.json``.
Key material never appears in a repr, a log line or an error message.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from .audit_hook import Audit, no_audit
from .auth_errors import KeyRingError

KID_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # base64url of a SHA-256 digest, no padding
#: Longest access-token lifetime any configuration may set (AuthSettings.access_token_s, le=900).
ACCESS_TOKEN_MAX_S = 900


def jwk_thumbprint(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint. Hand-written because neither PyJWT nor cryptography offers it; it is
    SHA-256 over the required members (e, kty, n) in lexicographic order, without whitespace."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps(
        {"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"), sort_keys=True
    )
    return (
        base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    )


@dataclass
class RingKey:
    kid: str
    state: str
    created_at: float
    retired_at: float | None = None
    drop_after: float | None = None
    # Every key of a ring has its private key (generated or loaded): never None.
    private_key: rsa.RSAPrivateKey = field(repr=False, compare=False, kw_only=True)

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def meta(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "state": self.state,
            "created_at": self.created_at,
            "retired_at": self.retired_at,
            "drop_after": self.drop_after,
        }


class KeyRing:
    def __init__(
        self,
        directory: str | Path,
        *,
        key_bits: int = 2048,
        leeway_s: float = 30,
        publish_lead_s: float = 300,
        audit: Audit | None = None,
        clock: Callable[[], float] = time.time,
    ):
        if key_bits < 2048:
            raise KeyRingError(
                "RSA keys shorter than 2048 bits are refused (RFC 7518 §3.3).", "weak_key"
            )
        self.directory = Path(directory)
        self.key_bits, self.leeway_s, self.publish_lead_s = key_bits, leeway_s, publish_lead_s
        self.audit = audit or no_audit
        self.clock = clock
        self._keys: dict[str, RingKey] = {}
        self._stamp: tuple[int, ...] | None = None
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.directory, 0o700)
        created = False
        with self._locked():
            self._load()
            if not any(k.state == "current" for k in self._keys.values()):
                # A brand-new ring: nobody holds a token yet, so the first key may sign at once.
                self._add_key("current")
                self._add_key("next")
                self._save()
                created = True
        if created:
            self.audit("key.create", kid=self.current_kid, next_kid=self.next_kid)

    def __repr__(self) -> str:
        return f"KeyRing({str(self.directory)!r}, {', '.join(f'{k.state}={k.kid[:8]}' for k in self._keys.values())})"

    # ---- files ----------------------------------------------------------------------------
    @property
    def _meta_path(self) -> Path:
        return self.directory / "ring.json"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.directory / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _refresh(self) -> None:
        """Re-read ring.json if another process changed it (a rotation elsewhere)."""
        try:
            st = self._meta_path.stat()
        except FileNotFoundError:
            return
        if self._stamp_of(st) != self._stamp:
            with self._locked():
                self._load()

    def _load(self) -> None:
        if not self._meta_path.exists():
            self._keys, self._stamp = {}, None
            return
        self._check_mode(self._meta_path)
        try:
            meta = json.loads(self._meta_path.read_text())["keys"]
        except (ValueError, KeyError, TypeError) as e:
            raise KeyRingError(
                f"{self._meta_path}: not a key ring file ({type(e).__name__}).", "bad_ring"
            ) from None
        keys = {}
        for m in meta:
            kid = m.get("kid", "")
            if not KID_RE.match(str(kid)) or m.get("state") not in ("next", "current", "retired"):
                raise KeyRingError(f"{self._meta_path}: bad entry (kid or state).", "bad_ring")
            pem = self.directory / f"{kid}.pem"
            self._check_mode(pem)
            try:
                private = serialization.load_pem_private_key(pem.read_bytes(), password=None)
            except (ValueError, TypeError):
                raise KeyRingError(
                    f"{pem}: not an unencrypted PEM private key.", "bad_key"
                ) from None
            if (
                not isinstance(private, rsa.RSAPrivateKey)
                or jwk_thumbprint(private.public_key()) != kid
            ):
                raise KeyRingError(f"{pem}: key does not match its kid.", "bad_key")
            keys[kid] = RingKey(
                kid,
                m["state"],
                m["created_at"],
                m.get("retired_at"),
                m.get("drop_after"),
                private_key=private,
            )
        st = self._meta_path.stat()
        self._keys, self._stamp = keys, self._stamp_of(st)

    @staticmethod
    def _stamp_of(st: os.stat_result) -> tuple[int, ...]:
        # The inode changes with every os.replace, so a change within the file system's coarse
        # timestamp granularity is still noticed.
        return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)

    @staticmethod
    def _check_mode(path: Path) -> None:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            raise KeyRingError(f"{path}: missing from the key ring.", "bad_ring") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyRingError(
                f"{path}: readable by others (mode {stat.S_IMODE(mode):o}); run chmod 600 on it.",
                "bad_mode",
            )

    def _save(self) -> None:
        tmp = self.directory / ".ring.json.tmp"
        fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"keys": [k.meta() for k in self._keys.values()]}, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self._meta_path)
        self._stamp = self._stamp_of(self._meta_path.stat())

    def _add_key(self, state: str) -> RingKey:
        private = rsa.generate_private_key(public_exponent=65537, key_size=self.key_bits)
        kid = jwk_thumbprint(private.public_key())
        pem = private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # O_EXCL + 0600 at creation: the key is never on disk with wider permissions.
        fd = os.open(self.directory / f"{kid}.pem", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        key = RingKey(kid, state, self.clock(), private_key=private)
        self._keys[kid] = key
        return key

    # ---- use ------------------------------------------------------------------------------
    def _one(self, state: str) -> RingKey:
        self._refresh()
        for k in self._keys.values():
            if k.state == state:
                return k
        raise KeyRingError(f"{self._meta_path}: no {state} key.", "bad_ring")

    @property
    def current_kid(self) -> str:
        return self._one("current").kid

    @property
    def next_kid(self) -> str:
        return self._one("next").kid

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        key = self._one("current")
        return key.kid, key.private_key

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key for a kid, if it is published now. A plain dictionary look-up: a kid
        from a token never reaches the file system."""
        if not isinstance(kid, str) or not KID_RE.match(kid):
            return None
        self._refresh()
        key = self._keys.get(kid)
        if key is None or (key.drop_after is not None and key.drop_after <= self.clock()):
            return None
        return key.public_key

    def states(self) -> dict[str, str]:
        self._refresh()
        return {k.kid: k.state for k in self._keys.values()}

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document, for /.well-known/jwks.json: next, current and unexpired
        retired keys, each with kid, use=sig and alg=RS256."""
        self.prune()
        keys = []
        for k in sorted(self._keys.values(), key=lambda k: k.created_at):
            jwk = RSAAlgorithm.to_jwk(k.public_key, as_dict=True)
            keys.append(
                {
                    "kty": "RSA",
                    "use": "sig",
                    "alg": "RS256",
                    "kid": k.kid,
                    "n": jwk["n"],
                    "e": jwk["e"],
                }
            )
        return {"keys": keys}

    def rotate(self, *, force: bool = False) -> str:
        """next -> current, current -> retired, a fresh next. Refuses (unless ``force``) while the
        next key has been published for less than ``publish_lead_s``, because verifiers that
        cached the JWKS before it appeared would reject its tokens. Returns the new current kid."""
        with self._locked():
            self._load()
            nxt = next(k for k in self._keys.values() if k.state == "next")
            cur = next(k for k in self._keys.values() if k.state == "current")
            now = self.clock()
            age = now - nxt.created_at
            if age < self.publish_lead_s and not force:
                raise KeyRingError(
                    f"The next key has been published for {age:.0f}s only; rotate "
                    f"after {self.publish_lead_s:.0f}s (or force).",
                    "too_early",
                )
            cur.state, cur.retired_at = "retired", now
            # Every token this key signed expires by now + the longest lifetime; verifiers allow leeway.
            cur.drop_after = now + ACCESS_TOKEN_MAX_S + self.leeway_s
            nxt.state = "current"
            new = self._add_key("next")
            self._save()
        self.audit("key.rotate", kid=nxt.kid, retired_kid=cur.kid, next_kid=new.kid, forced=force)
        self.prune()
        return nxt.kid

    @staticmethod
    def _expired(key: RingKey, now: float) -> bool:
        """A retired key whose tokens have all expired (rotate() always sets drop_after)."""
        return key.state == "retired" and key.drop_after is not None and key.drop_after <= now

    def prune(self) -> list[str]:
        """Remove retired keys whose tokens have all expired. Returns their kids."""
        self._refresh()
        now = self.clock()
        if not any(self._expired(k, now) for k in self._keys.values()):
            return []
        with self._locked():
            self._load()
            gone = [k for k in self._keys.values() if self._expired(k, now)]
            for k in gone:
                del self._keys[k.kid]
            self._save()
            for k in gone:
                (self.directory / f"{k.kid}.pem").unlink(missing_ok=True)
        for k in gone:
            self.audit("key.remove", kid=k.kid)
        return [k.kid for k in gone]

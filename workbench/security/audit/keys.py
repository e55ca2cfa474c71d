"""The Ed25519 key pair that signs checkpoints.

The private key is a PKCS#8 PEM file created with mode 0600 (in a 0700 folder) the first time a
log needs it; a key file that others may read is refused, as ssh does. The public key sits
beside it as `<name>.pub` and is all that verification needs. Neither is ever logged: errors
name the file, never its content.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import AuditError


def public_path(private_path: Path) -> Path:
    return private_path.with_name(private_path.name + ".pub")


def key_id(public_key: Ed25519PublicKey) -> str:
    """Short fingerprint naming the key in each checkpoint, so a rotated key is recognisable."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    path = Path(path)
    if not path.exists():
        return _create(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuditError(
            f"audit signing key {path} has mode {mode:04o}; it must be readable by "
            f"its owner only (chmod 600 {path})"
        )
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as e:
        raise AuditError(
            f"audit signing key {path} is not a PEM private key ({type(e).__name__})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"audit signing key {path} is not an Ed25519 key")
    return key


def _create(path: Path) -> Ed25519PrivateKey:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:  # O_EXCL: two processes starting at once must not each write a different key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_private_key(path)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = public_path(path)
    tmp = pub.with_name(pub.name + f".{os.getpid()}.tmp")
    tmp.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    os.chmod(tmp, 0o644)
    os.replace(tmp, pub)
    return key


def load_public_key(
    source: Ed25519PublicKey | Ed25519PrivateKey | bytes | str | os.PathLike[str],
) -> Ed25519PublicKey:
    """An Ed25519 public key from a key object, PEM bytes or text, or a file path."""
    if isinstance(source, Ed25519PublicKey):
        return source
    if isinstance(source, Ed25519PrivateKey):
        return source.public_key()
    where = "the given public key"
    if isinstance(source, bytes):  # bytes are key content, never a path
        data = source
    elif isinstance(source, str) and "-----BEGIN" in source:
        data = source.encode()
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise AuditError(
                f"audit public key {path} does not exist (it is written beside the "
                "signing key as <key>.pub)"
            )
        data = path.read_bytes()
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise AuditError(f"{where} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError(f"{where} is not an Ed25519 public key")
    return key

"""Property: flipping any one bit of any stored field of any entry is caught by verification
(embedded store; each example edits a fresh copy of one signed log)."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.config import AuditSettings
from workbench.security.audit import AuditLog

from .audit_support import fill

N = 12
FIELDS = ["body", "hash", "prev_hash", "user_name", "action", "outcome", "time"]


@pytest.fixture(scope="module")
def signed_log(tmp_path_factory):
    d = tmp_path_factory.mktemp("bitflips")
    log = AuditLog.open(
        AuditSettings(path=str(d / "a.sqlite"), checkpoint_every=4, key_path=str(d / "k.pem"))
    )
    fill(log, N)
    log.checkpoint()
    log.close()
    # fold the WAL into the file so a plain copy is the whole log
    conn = sqlite3.connect(d / "a.sqlite")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return d


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seq=st.integers(1, N),
    field=st.sampled_from(FIELDS),
    where=st.floats(0, 1, exclude_max=True),
    bit=st.integers(0, 6),
)
def test_any_single_bit_flip_is_detected(signed_log, seq, field, where, bit):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.sqlite"
        shutil.copy(signed_log / "a.sqlite", path)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("DROP TRIGGER audit_entries_no_update")
        (value,) = conn.execute(
            f"SELECT {field} FROM audit_entries WHERE seq = ?", (seq,)
        ).fetchone()
        i = int(where * len(value))
        flipped = value[:i] + chr(ord(value[i]) ^ (1 << bit)) + value[i + 1 :]
        conn.execute(f"UPDATE audit_entries SET {field} = ? WHERE seq = ?", (flipped, seq))
        conn.close()
        log = AuditLog.open(AuditSettings(path=str(path)))
        report = log.verify(signed_log / "k.pem.pub")
        log.close()
        assert not report.ok, (seq, field, i, bit)
        assert "altered" in report.kinds

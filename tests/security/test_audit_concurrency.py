"""Several threads and several processes append at once; the chain stays one line: seqs
1..N with no gap or duplicate, every entry present once, verification clean."""

from __future__ import annotations

import collections
import subprocess
import sys
import threading

import pytest

from .audit_support import STORES

WRITER = """
import sys
from workbench.config import AuditSettings
from workbench.security.audit import AuditLog
kind, target, schema, key, name, n = sys.argv[1:]
s = (AuditSettings(path=target, key_path=key, checkpoint_every=7) if kind == "sqlite" else
     AuditSettings(url=target, pg_schema=schema, key_path=key, checkpoint_every=7))
log = AuditLog.open(s)
for i in range(int(n)):
    log.record("semantic.query", actor=name, resource="retail", i=i)
log.close()
"""


@pytest.mark.slow
@pytest.mark.parametrize("audit_env", STORES, indirect=True)
def test_threads_and_processes_append_one_linear_chain(audit_env, tmp_path):
    log, attacker = audit_env(checkpoint_every=7)
    a = attacker()
    target = a.target
    per_thread, per_process, threads, processes = 60, 60, 4, 3
    log.record("pipeline.start", actor="setup")  # creates the key pair the others share
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                audit_env.kind,
                target,
                a.schema or "",
                str(log.key_path),
                f"proc{j}",
                str(per_process),
            ]
        )
        for j in range(processes)
    ]

    def work(name):
        for i in range(per_thread):
            log.record("semantic.query", actor=name, resource="retail", i=i)

    live_reports = []
    done = threading.Event()

    def verify_while_writing():  # a live log must never look tampered (e.g. truncated)
        while not done.is_set():
            live_reports.append(log.verify())

    ts = [threading.Thread(target=work, args=(f"thread{j}",)) for j in range(threads)]
    checker = threading.Thread(target=verify_while_writing)
    checker.start()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    done.set()
    checker.join()
    assert live_reports and all(r.ok for r in live_reports), next(
        r.problems[:3] for r in live_reports if not r.ok
    )
    assert [p.wait(timeout=120) for p in procs] == [0] * processes

    total = threads * per_thread + processes * per_process + 1
    seqs = [r[0] for r in a.run("SELECT seq FROM {e} ORDER BY seq")]
    assert seqs == list(range(1, total + 1))
    counts = collections.Counter((e.user, e.data["details"].get("i")) for e in log.entries())
    assert len(counts) == total and set(counts.values()) == {1}
    report = log.verify()
    assert report.ok, report.problems[:5]
    assert report.last_checkpoint >= total - total % 7 - 7

"""The tamper suite: each way of editing a stored audit log is caught by verification, on the
embedded store and on PostgreSQL. The attacker has the database's rights but not the signing
key; every forged hash below is computed here with hashlib, independently of the code."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from workbench.security.audit.checkpoints import sign
from workbench.security.audit.keys import load_or_create_private_key

from .audit_support import STORES, canonical, fill, sha256_link

pytestmark = pytest.mark.parametrize("audit_env", STORES, indirect=True)


@pytest.fixture
def filled(audit_env):
    """25 entries, checkpoints at 10 and 20; the clean log verifies."""
    log, attacker = audit_env(checkpoint_every=10)
    fill(log, 25)
    report = log.verify()
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.last_checkpoint) == (25, 2, 20)
    return log, attacker()


def kinds(log) -> set[str]:
    report = log.verify()
    assert not report.ok
    return report.kinds


def test_flipped_byte_in_content(filled):
    log, a = filled
    body = a.row(7)["body"]
    i = body.index('"user":"') + len('"user":"')
    flipped = body[:i] + chr(ord(body[i]) ^ 1) + body[i + 1 :]
    a.run("UPDATE {e} SET body = {p} WHERE seq = 7", (flipped,))
    report = log.verify()
    assert report.kinds == {"altered"}
    assert [p.seq for p in report.problems] == [7]


def test_flipped_byte_in_stored_hash(filled):
    log, a = filled
    h = a.row(12)["hash"]
    a.run("UPDATE {e} SET hash = {p} WHERE seq = 12", (h[:-1] + ("0" if h[-1] != "0" else "1"),))
    assert kinds(log) == {"altered"}


def test_search_column_edited_without_content(filled):
    log, a = filled
    a.run("UPDATE {e} SET user_name = 'mallory' WHERE seq = 3")
    assert kinds(log) == {"altered"}


def test_deleted_entry(filled):
    log, a = filled
    a.run("DELETE FROM {e} WHERE seq = 5")
    report = log.verify()
    assert report.kinds == {"missing"}
    assert report.problems[0].seq == 5


def test_reordered_entries(filled):
    log, a = filled
    a.run("UPDATE {e} SET seq = -1 WHERE seq = 3")
    a.run("UPDATE {e} SET seq = 3 WHERE seq = 4")
    a.run("UPDATE {e} SET seq = 4 WHERE seq = -1")
    k = kinds(log)
    assert "reordered" in k and "missing" not in k


def test_truncated_tail(filled):
    log, a = filled
    a.run("DELETE FROM {e} WHERE seq > 15")
    report = log.verify()
    assert report.kinds == {"truncated"}
    assert report.problems[0].seq == 20


def test_tail_after_the_last_checkpoint_is_pinned_by_an_explicit_checkpoint(filled):
    log, a = filled
    assert log.verify().unsigned_tail == 5
    log.checkpoint()  # e.g. at server shutdown
    assert log.verify().unsigned_tail == 0
    a.run("DELETE FROM {e} WHERE seq = 25")
    assert kinds(log) == {"truncated"}


def test_inserted_entry(filled):
    log, a = filled
    before = a.row(5)
    # make room at 6 (two steps so the primary key never collides), then forge a valid entry
    a.run("UPDATE {e} SET seq = seq + 1000 WHERE seq > 5")
    a.run("UPDATE {e} SET seq = seq - 999 WHERE seq > 1000")
    data = json.loads(before["body"])
    data.update(seq=6, action="admin.user.add", details={"user": "mallory"})
    body = canonical(data)
    a.insert(
        {
            "seq": 6,
            "time": data["time"],
            "user_name": data["actor"]["user"],
            "action": data["action"],
            "outcome": data["outcome"],
            "body": body,
            "prev_hash": before["hash"],
            "hash": sha256_link(before["hash"], body),
        }
    )
    k = kinds(log)
    assert "inserted" in k and "missing" not in k and "altered" not in k


def test_rehashed_chain_without_the_key(filled):
    log, a = filled
    rows = [a.row(s) for s in range(1, 26)]
    data = json.loads(rows[4]["body"])
    data["actor"]["user"] = "mallory"
    rows[4]["body"], rows[4]["user_name"] = canonical(data), "mallory"
    prev = rows[3]["hash"]
    for r in rows[4:]:  # a perfectly consistent chain from entry 5 on
        r["prev_hash"], r["hash"] = prev, sha256_link(prev, r["body"])
        prev = r["hash"]
        a.run(
            "UPDATE {e} SET body = {p}, user_name = {p}, prev_hash = {p}, hash = {p} WHERE seq = {p}",
            (r["body"], r["user_name"], r["prev_hash"], r["hash"], r["seq"]),
        )
    assert kinds(log) == {"checkpoint-mismatch"}
    # moving the checkpoints along breaks their signatures ...
    a.run("UPDATE {c} SET hash = {p} WHERE seq = 10", (rows[9]["hash"],))
    a.run("UPDATE {c} SET hash = {p} WHERE seq = 20", (rows[19]["hash"],))
    assert kinds(log) == {"signature"}
    # ... and signing them again with another key is no better
    own = Ed25519PrivateKey.generate()
    a.run("DELETE FROM {c}")
    for s in (10, 20):
        cp = sign(own, s, rows[s - 1]["hash"])
        a.insert(
            {
                "seq": cp.seq,
                "hash": cp.hash,
                "time": cp.time,
                "key_id": cp.key_id,
                "signature": cp.signature,
            },
            table="c",
        )
    assert kinds(log) == {"signature"}


def test_forked_history_two_entries_claim_one_seq(filled):
    log, a = filled
    a.drop_unique_seq("audit_entries")
    prev = a.row(11)["hash"]
    data = json.loads(a.row(12)["body"])
    data["details"] = {"i": "the other history"}
    body = canonical(data)
    a.insert(
        {
            "seq": 12,
            "time": data["time"],
            "user_name": data["actor"]["user"],
            "action": data["action"],
            "outcome": data["outcome"],
            "body": body,
            "prev_hash": prev,
            "hash": sha256_link(prev, body),
        }
    )
    assert len(a.run("SELECT seq FROM {e} WHERE seq = 12")) == 2
    report = log.verify()
    assert report.kinds == {"fork"}
    assert report.problems[0].seq == 12


def test_forked_history_two_signed_checkpoints_disagree(filled, tmp_path):
    log, a = filled
    # the signer signed a second history for seq 20 (e.g. a restored backup that went on)
    key = load_or_create_private_key(log.key_path)
    other = sign(key, 20, sha256_link(a.row(19)["hash"], a.row(20)["body"].replace("ann", "anm")))
    a.drop_unique_seq("audit_checkpoints")
    a.insert(
        {
            "seq": 20,
            "hash": other.hash,
            "time": other.time,
            "key_id": other.key_id,
            "signature": other.signature,
        },
        table="c",
    )
    assert kinds(log) == {"fork"}


def test_wrong_public_key_fails_every_checkpoint(filled):
    log, _ = filled
    report = log.verify(Ed25519PrivateKey.generate().public_key())
    assert report.kinds == {"signature"} and len(report.problems) == 2


def test_anchored_checkpoints_catch_a_tail_removed_with_its_checkpoints(filled):
    from workbench.security.audit.checkpoints import read_anchors, to_json

    log, a = filled
    kept = [to_json(cp) for cp in log.store.checkpoints()]  # shipped elsewhere earlier
    a.run("DELETE FROM {e} WHERE seq > 12")
    a.run("DELETE FROM {c} WHERE seq > 12")
    assert log.verify().ok  # the store alone cannot tell: a clean, shorter chain
    report = log.verify(anchors=read_anchors(kept, "anchors.jsonl"))
    assert report.kinds == {"truncated"} and report.anchors == 2


def test_anchored_checkpoints_catch_a_history_forked_after_them(filled, audit_env):
    from workbench.security.audit.checkpoints import read_anchors, to_json

    log, a = filled
    kept = [to_json(cp) for cp in log.store.checkpoints()]
    # a restored backup of entries 1..15 that went on writing: same key, another history
    a.run("DELETE FROM {e} WHERE seq > 15")
    a.run("DELETE FROM {c} WHERE seq > 15")
    restarted, _ = audit_env(checkpoint_every=10)  # a server started on the restored store
    for i in range(10):
        restarted.record("export", actor="mallory", i=i)
    assert log.verify().ok  # self-consistent, and signed by the real key
    assert log.verify(anchors=read_anchors(kept, "anchors.jsonl")).kinds == {"fork"}


def test_a_deleted_run_of_entries_is_reported_once_as_a_range(filled):
    log, a = filled
    a.run("DELETE FROM {e} WHERE seq IN (5, 6, 7)")
    report = log.verify()
    assert report.kinds == {"missing"}
    assert [(p.seq, p.message) for p in report.problems] == [
        (5, "entries 5..7 are not in the store (deleted)")
    ]


def test_a_self_consistent_entry_that_does_not_follow_its_predecessor(filled):
    """Entry 8 replaced by one whose hash is right for its own content and prev_hash, but whose
    prev_hash is not entry 7's hash: the chain is broken there (and entry 9 no longer follows)."""
    log, a = filled
    row = a.row(8)
    forged_prev = sha256_link("11" * 32, "elsewhere")
    a.run(
        "UPDATE {e} SET prev_hash = {p}, hash = {p} WHERE seq = 8",
        (forged_prev, sha256_link(forged_prev, row["body"])),
    )
    report = log.verify()
    assert ("broken-link", 8) in {(p.kind, p.seq) for p in report.problems}
    assert "entry 8 does not follow entry 7" in [p.message for p in report.problems]

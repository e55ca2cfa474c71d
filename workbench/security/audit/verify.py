"""Verification: re-hash every stored entry, rebuild the chain from the positions the entries
themselves claim (their hashed seq), and check every checkpoint's signature and hash.

The storage order (the seq column) is trusted for nothing; it is only compared with the chain
at the end, which is how reordering and renumbering show up.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .chain import GENESIS, Entry, entry_hash
from .checkpoints import Checkpoint
from .keys import key_id

KINDS = {
    "altered": "an entry's content no longer matches its hash (or its search columns)",
    "missing": "an entry of the chain is not in the store (deleted)",
    "reordered": "entries are stored out of their chain order",
    "renumbered": "entries are stored under another seq than they were written with",
    "inserted": "an entry that is not part of the chain was put into it",
    "broken-link": "an entry does not follow the one before it",
    "fork": "two different entries or checkpoints claim the same seq",
    "truncated": "a signed checkpoint covers entries that are not in the store",
    "checkpoint-mismatch": "the chain differs from what a signed checkpoint pinned (re-hashed)",
    "signature": "a checkpoint's signature is not valid for the public key",
}


@dataclass(frozen=True)
class Problem:
    kind: str
    seq: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass
class VerifyReport:
    entries: int = 0
    checkpoints: int = 0
    last_checkpoint: int = 0  # highest seq pinned by a valid checkpoint
    last_seq: int = 0
    anchors: int = 0  # of the checkpoints, how many came from outside the store
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    @property
    def unsigned_tail(self) -> int:
        """Entries after the last checkpoint: only as trustworthy as the store until the next one."""
        return max(0, self.last_seq - self.last_checkpoint)

    def add(self, kind: str, seq: int | None, message: str) -> None:
        self.problems.append(Problem(kind, seq, message))

    def summary(self) -> str:
        anchored = f" ({self.anchors} from anchors)" if self.anchors else ""
        head = (
            f"{self.entries} entries, {self.checkpoints} checkpoints{anchored}, signed up to seq "
            f"{self.last_checkpoint}, {self.unsigned_tail} newer entries not yet signed"
        )
        if self.ok:
            return "ok: " + head
        return f"TAMPERED: {len(self.problems)} problem(s) in {head}"


@dataclass(slots=True)
class _Row:
    """What verification keeps of an entry once its content is checked (no body: a large log
    costs a few hundred bytes per entry)."""

    seq: int  # the row's seq column
    order: int  # position in storage order
    claimed: int  # the seq inside the hashed JSON (the row's seq column if unreadable)
    valid: bool  # stored hash == recomputed hash
    prev_hash: str
    hash: str
    recomputed: str | None


def _check_row(e: Entry, order: int, report: VerifyReport) -> _Row:
    recomputed = entry_hash(e.prev_hash, e.body) if _is_hex(e.prev_hash) else None
    valid = recomputed == e.hash
    try:
        data = json.loads(e.body)
        claimed = int(data["seq"])
        columns = {"time": e.time, "user": e.user, "action": e.action, "outcome": e.outcome}
        written = {
            "time": data["time"],
            "user": data["actor"]["user"],
            "action": data["action"],
            "outcome": data["outcome"],
        }
    except (ValueError, KeyError, TypeError):
        claimed, columns, written = e.seq, {}, {}
        valid = False
    if not valid:
        report.add("altered", e.seq, f"entry {e.seq}: its content does not match its hash")
    else:
        changed = sorted(k for k in columns if columns[k] != written[k])
        if changed:
            report.add(
                "altered",
                e.seq,
                f"entry {e.seq}: column(s) {', '.join(changed)} differ from the hashed content",
            )
    return _Row(e.seq, order, claimed, valid, e.prev_hash, e.hash, recomputed)


def _is_hex(text: str) -> bool:
    """64 lower-case hex digits exactly: fromhex alone would take "AB" for "ab", and a hash
    whose case was flipped would then still verify while its link text no longer matched."""
    try:
        return isinstance(text, str) and bytes.fromhex(text).hex() == text and len(text) == 64
    except ValueError:
        return False


def _links(row: _Row, prev: _Row | None) -> bool:
    """Whether `row` follows `prev`: by prev's stored hash, or by its recomputed one, so a
    flipped byte in one hash column is reported once, as that entry's alteration."""
    if prev is None:
        return row.prev_hash == GENESIS
    return row.prev_hash == prev.hash or (
        prev.recomputed is not None and row.prev_hash == prev.recomputed
    )


def verify_entries(
    entries: Iterable[Entry], checkpoints: list[Checkpoint], public_key: Ed25519PublicKey
) -> VerifyReport:
    report = VerifyReport()
    rows = [_check_row(e, i, report) for i, e in enumerate(entries)]
    report.entries = len(rows)
    by_claim: dict[int, list[_Row]] = defaultdict(list)
    for r in rows:
        by_claim[r.claimed].append(r)
    chain = _walk(by_claim, report)
    _storage_order(chain, report)
    report.last_seq = max(by_claim, default=0)
    _checkpoints(checkpoints, {r.claimed: r for r in chain}, public_key, report)
    return report


def _walk(by_claim: dict[int, list[_Row]], report: VerifyReport) -> list[_Row]:
    """The chain from genesis, one entry per claimed position."""
    chain: list[_Row] = []
    prev: _Row | None = None
    top = max(by_claim, default=0)
    pos = 1
    while pos <= top:
        cands = by_claim.get(pos, [])
        if not cands:
            end = pos
            while end + 1 <= top and not by_claim.get(end + 1):
                end += 1
            span = f"entry {pos} is" if end == pos else f"entries {pos}..{end} are"
            report.add("missing", pos, f"{span} not in the store (deleted)")
            pos = end + 1
            prev = _pick(by_claim[pos], by_claim.get(pos + 1, []), None)
            chain.append(prev)
            pos += 1
            continue
        linked = [c for c in cands if _links(c, prev)]
        if not linked:
            chosen = _pick(cands, by_claim.get(pos + 1, []), None)
            if chosen.valid:  # a changed prev_hash already shows as a hash mismatch
                report.add("broken-link", pos, f"entry {pos} does not follow entry {pos - 1}")
        else:
            chosen = _pick(linked, by_claim.get(pos + 1, []), prev)
            for other in linked:
                if other is chosen:
                    continue
                if other.seq == chosen.seq:
                    report.add(
                        "fork",
                        pos,
                        f"two different entries claim seq {pos} after the same "
                        f"entry {pos - 1} (forked history)",
                    )
                else:
                    report.add(
                        "inserted",
                        pos,
                        f"an entry claiming seq {pos} (stored as "
                        f"{other.seq}) is not part of the chain: nothing follows it",
                    )
        for other in cands:
            if other is not chosen and other not in linked:
                report.add(
                    "fork",
                    pos,
                    f"entry stored as seq {other.seq} claims seq {pos} but "
                    "belongs to another history",
                )
        chain.append(chosen)
        prev = chosen
        pos += 1
    return chain


def _pick(cands: list[_Row], successors: list[_Row], prev: _Row | None) -> _Row:
    """Of several candidates for one position, the one the next entry follows."""
    for c in cands:
        if any(_links(s, c) for s in successors):
            return c
    return cands[0]


def _storage_order(chain: list[_Row], report: VerifyReport) -> None:
    moved = [r for r in chain if r.seq != r.claimed]
    if not moved:
        return
    orders = [r.order for r in chain]
    if any(b < a for a, b in pairwise(orders)):
        out = [r.claimed for r, nxt in pairwise(chain) if nxt.order < r.order]
        report.add(
            "reordered",
            out[0],
            f"entries are stored out of chain order (first at seq {out[0]}); "
            f"{len(moved)} entries sit under another seq than they were written with",
        )
    else:
        report.add(
            "renumbered",
            moved[0].claimed,
            f"{len(moved)} entries, from seq "
            f"{moved[0].claimed}, are stored under another seq than they were written with",
        )


def _checkpoints(
    cps: list[Checkpoint],
    chain: dict[int, _Row],
    public_key: Ed25519PublicKey,
    report: VerifyReport,
) -> None:
    report.checkpoints = len(cps)
    kid = key_id(public_key)
    good: dict[int, Checkpoint] = {}
    for cp in cps:
        if cp.key_id != kid or not cp.valid_for(public_key):
            report.add(
                "signature", cp.seq, f"checkpoint at seq {cp.seq} is not signed by key {kid}"
            )
            continue
        if cp.seq in good:  # the same checkpoint twice (store and anchor) is checked once
            if good[cp.seq].hash != cp.hash:
                report.add(
                    "fork",
                    cp.seq,
                    f"two signed checkpoints disagree about entry {cp.seq} (forked history)",
                )
            continue
        good[cp.seq] = cp
        row = chain.get(cp.seq)
        if row is None:
            if cp.seq > report.last_seq:
                report.add(
                    "truncated",
                    cp.seq,
                    f"a signed checkpoint covers seq {cp.seq}, but the "
                    f"store ends at seq {report.last_seq} (its tail was removed)",
                )
            continue  # a missing entry in the middle is already reported
        if row.hash != cp.hash:
            report.add(
                "checkpoint-mismatch",
                cp.seq,
                f"entry {cp.seq} differs from the signed "
                "checkpoint: the chain up to it was rewritten (re-hashed)",
            )
        else:
            report.last_checkpoint = max(report.last_checkpoint, cp.seq)

"""Choosing among the readings of a span: the same words may name a measure, an entity, a
dimension or a stored value; the question's cue words, the entity it is about and the join
graph decide which (used by resolve.py)."""

from __future__ import annotations

import re

from .lexicon import Match
from .parser import Reading
from .text import fold
from .text import words as words_of


def home(r: Reading) -> tuple[str | None, str | None]:
    """(model of the first metric named, model of the first entity named)."""
    metric = next(
        (
            m.entry.model
            for m in r.picks
            if m.entry.kind in ("metric", "measure") and m.score >= 0.5
        ),
        None,
    )
    entity = None
    for i, m in enumerate(r.picks):
        ents = [
            a
            for a in [m] + r.alts.get(i, [])
            if a.entry.kind == "model" and a.score >= m.score - 0.05
        ]
        if ents:
            entity = ents[0].entry.model
            break
    return metric, entity


def prefer_readings(r: Reading, consumed: set[int]) -> None:
    """Among equally good readings of a span, the member nearest the question's subject:
    a value held by several dimensions goes to the one joined closest to the metric (then the
    plainest label); a dimension named beside an entity ('stores with their city') to the
    entity's own. 'online vs store': both sides become values of the dimension holding both."""
    kn = r.kn
    metric_home, entity = home(r)
    anchor = entity or metric_home
    for i, m in enumerate(r.picks):
        if i in consumed:
            continue
        alts = r.alts.get(i, [])
        if m.how == "value":
            same = [m] + [a for a in alts if a.how == "value" and str(a.value) == str(m.value)]
            if metric_home:
                reach = [a for a in same if kn.hops(metric_home, a.entry.model) < 99]
                same = reach or same
            beside = [
                k
                for k in (i - 1, i + 1)
                if 0 <= k < len(r.picks)
                and min(abs(r.picks[k].start - m.end), abs(r.picks[k].end - m.start)) <= 1
            ]
            for k in beside:
                ents = {
                    a.entry.model
                    for a in [r.picks[k]] + r.alts.get(k, [])
                    if a.entry.kind == "model"
                }
                if not ents or len(same) < 2:
                    continue
                dist = {id(a): min(kn.hops(x, a.entry.model) for x in ents) for a in same}
                best = min(dist.values())
                own = [a for a in same if dist[id(a)] == best]
                if best < 99 and len({a.entry.qualified for a in own}) == 1:
                    same = own[:1]  # Berlin stores: the city of the stores; suppliers in JAPAN

            if len({a.entry.qualified for a in same}) > 1:

                def within(a, same=same):
                    return sum(
                        set(words_of(a.entry.label)) < set(words_of(b.entry.label)) for b in same
                    )

                most = max(within(a) for a in same)
                plain = [a for a in same if within(a) == most] if most else []
                if len(plain) == 1:
                    same = plain[:1]
                else:
                    r.value_ambiguity.append(same)
            if same[0] is not m:
                r.alts[i] = [x for x in [m] + alts if x is not same[0]]
                r.picks[i] = same[0]
        elif m.entry.kind == "dimension" and entity:
            near = [
                a for a in [m] + alts if a.entry.kind == "dimension" and a.score >= m.score - 0.45
            ]
            near.sort(key=lambda a: (kn.hops(entity, a.entry.model), -a.score))
            if (
                near
                and near[0] is not m
                and kn.hops(entity, near[0].entry.model) < kn.hops(entity, m.entry.model)
            ):
                r.alts[i] = [x for x in [m] + alts if x is not near[0]]
                r.picks[i] = near[0]
    for c in r.cues:
        if c.concept != "compare":
            continue
        left = next((k for k in range(len(r.picks) - 1, -1, -1) if r.picks[k].end <= c.start), None)
        right = next((k for k in range(len(r.picks)) if r.picks[k].start >= c.end), None)
        if left is None or right is None:
            continue
        lv = {
            a.entry.qualified: a for a in [r.picks[left]] + r.alts.get(left, []) if a.how == "value"
        }
        rv = {
            a.entry.qualified: a
            for a in [r.picks[right]] + r.alts.get(right, [])
            if a.how == "value"
        }
        common = sorted(
            set(lv) & set(rv), key=lambda q: kn.hops(anchor, lv[q].entry.model) if anchor else 0
        )
        if common:
            r.picks[left], r.picks[right] = lv[common[0]], rv[common[0]]
            r.alts[left], r.alts[right] = [], []
            r.compared = common[0]


def by_context(r: Reading, i: int, m: Match, grouped: bool) -> Match:
    """The same words name a measure, an entity and a dimension ('suppliers'): the cue before
    them decides - 'how many' counts, 'by' groups, 'list' lists, otherwise a measure."""
    if m.how == "value" and not grouped:
        return m
    same = [m] + [
        a
        for a in r.alts.get(i, [])
        if a.score >= m.score - 0.05 and (a.how != "value" or not grouped)
    ]
    if len(same) == 1:
        return m
    if r.cue_at("count", m.start, gap=2):
        order = {"measure": 0, "metric": 0, "model": 1, "dimension": 2, "segment": 3}
    elif r.cue_at("with", m.start, gap=2) and r.has("detail"):
        order = {
            "dimension": 0,
            "model": 1,
            "measure": 2,
            "metric": 2,
            "segment": 3,
        }  # 'with their region'
        same = [a for a in same if a.how != "value"] or same
    elif grouped:
        order = {"dimension": 0, "model": 1, "measure": 2, "metric": 2, "segment": 3}
        same = [a for a in same if a.how != "value"] or same
    elif (
        r.cue_at("detail", m.start, gap=2)
        or (
            r.has("detail")
            and not r.has("top")
            and not r.has("count")
            and any(a.entry.kind == "model" for a in same)
        )
    ) and not any(x.entry.kind in ("metric", "measure") and x is not m for x in r.picks):
        order = {"model": 0, "dimension": 1, "measure": 2, "metric": 2, "segment": 3}
    elif (
        (r.has("top") or r.has("bottom"))
        and any(a.entry.kind == "model" for a in same)
        and not _amount_of(r, m)
        and not any(x.entry.kind in ("metric", "measure") and x is not m for x in r.picks)
    ):
        order = {"dimension": 0, "model": 1, "segment": 2, "measure": 3, "metric": 3}
    else:
        order = {"metric": 0, "measure": 0, "segment": 1, "dimension": 2, "model": 3}
    best = min(same, key=lambda a: (order.get(a.entry.kind, 9), a is not m, -a.score))
    if best is not m and best.entry.kind != m.entry.kind:
        r.alts[i] = [a for a in [m] + r.alts.get(i, []) if a is not best]
        r.picks[i] = best
        return best
    return m


def bare_label(label: str) -> str:
    """'Revenue (line level)' -> 'revenue'."""
    return fold(re.sub(r"\s*\(.*?\)\s*", " ", label)).strip()


def _amount_of(r: Reading, m: Match) -> bool:
    """'the most loans', 'highest revenue': what follows a superlative of amount is measured."""
    amounts = {p[0] for p in r.table.phrases("amount_superlatives") if len(p) == 1}
    prev = [
        w
        for w in r.toks.low[max(0, m.start - 2) : m.start]
        if w not in r.table.stopwords or w in amounts
    ]
    return bool(prev) and prev[-1] in amounts

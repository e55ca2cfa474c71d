"""A question read against one namespace: time phrases, cue words ('by', 'top', 'how many') and
the members and values its spans name, chosen so that the longest, best matches win."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .i18n import WordTable
from .knowledge import Knowledge
from .lexicon import Match
from .text import Tokens, stem
from .timeparse import TimeHit, TimeReader

CUES = (
    "more_than",
    "less_than",
    "at_least",
    "at_most",
    "negative",
    "per",
    "remove",
    "group_by",
    "top",
    "bottom",
    "desc",
    "asc",
    "sort",
    "count",
    "average",
    "share",
    "detail",
    "with",
    "only",
    "exclude",
    "followup",
    "add",
    "why",
    "compare",
    "derive_is",
    "sum_of",
    "divided",
    "minus",
    "plus",
    "times",
)
_NUM = re.compile(r"\d+(?:[.,]\d+)?")


@dataclass
class Cue:
    concept: str
    start: int
    end: int


@dataclass
class Reading:
    toks: Tokens
    language: str
    kn: Knowledge
    table: WordTable
    time: list[TimeHit]
    cues: list[Cue]
    picks: list[Match]
    alts: dict[int, list[Match]]
    leftovers: list[int]
    numbers: dict[int, float] = field(default_factory=dict)
    compared: str | None = None  # 'online vs store': the dimension both sides are values of
    value_ambiguity: list = field(default_factory=list)  # a value several dimensions hold

    def cue_at(self, concept: str, end: int, gap: int = 1) -> Cue | None:
        """A cue of that concept ending at `end` (or up to `gap` filler tokens before)."""
        for c in self.cues:
            if (
                c.concept == concept or (concept == "group_by" and c.concept == "per")
            ) and end - gap <= c.end <= end:
                fill = self.toks.low[c.end : end]
                if all(w in self.table.stopwords for w in fill):
                    return c
        return None

    def has(self, concept: str) -> bool:
        return any(c.concept == concept for c in self.cues)

    def covered(self) -> set[int]:
        out: set[int] = set()
        for m in self.picks:
            out.update(range(m.start, m.end))
        for h in self.time:
            out.update(range(h.start, h.end))
        for c in self.cues:
            out.update(range(c.start, c.end))
        return out


def find_cues(toks: Tokens, table: WordTable) -> list[Cue]:
    out = []
    phrases = [(c, p) for c in CUES for p in table.phrases(c)]
    phrases.sort(key=lambda cp: -len(cp[1]))
    taken: set[int] = set()
    for concept, ph in phrases:
        n = len(ph)
        for i in range(len(toks) - n + 1):
            if toks.low[i : i + n] == ph and not any(k in taken for k in range(i, i + n)):
                out.append(Cue(concept, i, i + n))
                taken.update(range(i, i + n))
    out.sort(key=lambda c: (c.start, c.end))
    return out


def _choose(cands: list[Match], n: int) -> tuple[list[Match], dict[int, list[Match]]]:
    """Non-overlapping spans with the most matched words (weighted by score): a small DP."""
    by_span: dict[tuple[int, int], list[Match]] = {}
    for m in cands:
        by_span.setdefault((m.start, m.end), []).append(m)
    best_of = {}
    for span, ms in by_span.items():
        ms.sort(key=lambda m: -m.score)
        best_of[span] = ms
    starts: dict[int, list[tuple[int, int]]] = {}
    for span in best_of:
        starts.setdefault(span[0], []).append(span)
    best = [0.0] * (n + 1)
    choice: list[tuple[int, int] | None] = [None] * (n + 1)
    for i in range(n - 1, -1, -1):
        best[i], choice[i] = best[i + 1], None
        for span in starts.get(i, ()):
            m = best_of[span][0]
            w = (span[1] - span[0]) ** 1.2 * m.score + best[span[1]]
            if w > best[i] + 1e-9:
                best[i], choice[i] = w, span
    picks: list[Match] = []
    alts: dict[int, list[Match]] = {}
    i = 0
    while i < n:
        chosen = choice[i]
        if chosen is None:
            i += 1
            continue
        ms = best_of[chosen]
        top = ms[0]
        seen = {top.entry.qualified}
        others = []
        for m in ms[1:]:
            if m.entry.qualified not in seen:
                seen.add(m.entry.qualified)
                others.append(m)
        alts[len(picks)] = others
        picks.append(top)
        i = chosen[1]
    return picks, alts


def _compounds(toks: Tokens, kn: Knowledge, taken: set[int]) -> list[Match]:
    """German compounds: 'Gesamtumsatz' ends with 'umsatz', a word the model knows."""
    index = kn.lexicon.index["de"]
    out = []
    for i, w in enumerate(toks.low):
        if i in taken or len(w) < 8 or not w.isalpha():
            continue
        for cut in range(3, len(w) - 3):
            key = (stem(w[cut:], "de"),)
            if key in index:
                out += [Match(i, i + 1, e, 0.85 * weight, "exact") for e, weight in index[key]]
                break
    return out


def read(
    toks: Tokens, language: str, kn: Knowledge, table: WordTable, times: TimeReader
) -> Reading:
    time = times.read(toks.low)
    cues = find_cues(toks, table)
    compare_ends = {
        c.end for c in cues if c.concept in ("more_than", "less_than", "at_least", "at_most")
    }
    time = [
        h for h in time if not (h.start in compare_ends and h.value.isdigit())
    ]  # 'above 2000 euros'
    blocked = {k for h in time for k in range(h.start, h.end)}
    cue_words = {k for c in cues for k in range(c.start, c.end)}
    stop = table.stopwords
    cands = kn.lexicon.exact(toks, language, blocked)
    cands += kn.values.match(toks, language, stop, kn.lexicon.member_words)
    cands = [m for m in cands if not any(k in blocked for k in range(m.start, m.end))]
    exact_spans = {(m.start, m.end) for m in cands}
    covered_exact = {k for m in cands for k in range(m.start, m.end)}
    fuzzy = kn.lexicon.fuzzy(toks, language, blocked | covered_exact | cue_words, stop)
    cands += [m for m in fuzzy if (m.start, m.end) not in exact_spans]
    for m in cands:
        if (
            m.length == 1
            and (toks.low[m.start] in stop or m.start in cue_words)
            and m.how != "value"
        ):
            m.score *= 0.45  # 'count', 'total', 'date' alone say little
        if m.how == "value" and m.length == 1 and toks.low[m.start] in stop:
            m.score *= 0.45
    if language == "de":
        cands += _compounds(toks, kn, covered_exact | blocked)
    for i, w in enumerate(toks.low):  # 'what did we sell': the model's 'sales'
        noun = table.mapping("verb_nouns").get(w)
        listing = any(c.concept == "detail" for c in cues) and not any(
            c.concept in ("top", "bottom") for c in cues
        )
        if noun and i not in covered_exact and not listing:
            from .text import phrase_key

            cands += [
                Match(i, i + 1, e, 0.8 * weight, "exact")
                for e, weight in kn.lexicon.index[language].get(phrase_key(str(noun), language), ())
            ]
    picks, alts = _choose(cands, len(toks))
    taken = {k for m in picks for k in range(m.start, m.end)}
    cues = [c for c in cues if not any(k in taken for k in range(c.start, c.end))]
    numbers = {}
    for i, w in enumerate(toks.low):
        if i in blocked or i in taken:
            continue
        if _NUM.fullmatch(w):
            numbers[i] = (
                float(w.replace(",", ""))
                if "," in w and "." not in w
                else float(w.replace(",", "."))
            )
        elif w in times.numbers and w not in stop:
            numbers[i] = float(times.numbers[w])
    used = taken | blocked | {k for c in cues for k in range(c.start, c.end)} | set(numbers)
    leftovers = [
        i
        for i, w in enumerate(toks.low)
        if i not in used
        and w not in stop
        and w not in ("?", "%")
        and not w.isdigit()
        and len(w) > 1
    ]
    return Reading(toks, language, kn, table, time, cues, picks, alts, leftovers, numbers)

"""What a model can be asked about: every visible member and model with the phrases that name it
(name, label, synonyms, language packs), and matching of question spans against them.

Only the model's own metadata is used: nothing here knows any domain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .i18n import LANGUAGES, SynonymPack, function_words
from .text import Tokens, fold, phrase_key, stem, words

MAX_SPAN = 6
_GENERIC = {
    "id",
    "key",
    "name",
    "code",
    "date",
    "number",
    "count",
    "total",
    "value",
    "type",
    "status",
    "amount",
    "rate",
    "flag",
    "comment",
    "description",
}


@dataclass
class Entry:
    """A member (or a model, kind 'model') as the engine knows it."""

    namespace: str
    model: str
    name: str
    kind: str  # metric | measure | dimension | segment | model
    label: str
    description: str = ""
    dtype: str | None = None  # dimension type or measure aggregation or metric type
    fmt: str | None = None
    unit: str | None = None
    primary_key: bool = False
    query_name: str = ""  # the name wb.query takes (short when unique, else model.name)
    phrases: set[str] = field(default_factory=set)
    spec: object = None
    spec_model_title: str | None = None  # the label of the member's model

    @property
    def qualified(self) -> str:
        return f"{self.model}.{self.name}" if self.kind != "model" else self.model

    @property
    def is_time(self) -> bool:
        return self.kind == "dimension" and self.dtype == "time"

    @property
    def is_measure_like(self) -> bool:
        return self.kind in ("metric", "measure")


@dataclass
class Match:
    start: int
    end: int
    entry: Entry
    score: float  # 1.0 exact phrase; lower for partial or fuzzy
    how: str  # exact | fuzzy | embedding | value
    value: object = None  # for value matches: the stored value

    @property
    def length(self) -> int:
        return self.end - self.start


def _split_name(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").strip()


def entity_words(label: str) -> set[str]:
    """'Order lines' -> {'order lines', 'order line'}: a model's label, singular and plural."""
    out = {fold(label)}
    for lang in LANGUAGES:
        out.add(" ".join(stem(w, lang) for w in words(label)))
    return out


class Lexicon:
    """The phrases of one namespace: {stem tuple: [entries]} for each language's stemmer."""

    def __init__(self, namespace: str, entries: list[Entry], packs: dict[str, SynonymPack]):
        self.namespace = namespace
        self.entries = entries
        self.packs = packs
        self.index: dict[str, dict[tuple[str, ...], list[tuple[Entry, float]]]] = {
            lang: {} for lang in LANGUAGES
        }
        self.strings: dict[str, list[tuple[str, Entry, float]]] = {lang: [] for lang in LANGUAGES}
        by_name = {e.name: e for e in entries if e.kind != "model"}
        by_qual = {e.qualified: e for e in entries}
        self.base_words: set[str] = set()  # words of the model's own (English) metadata
        self.member_words: set[str] = set()  # phrases that name a member outright
        for e in entries:
            for phrase, weight in self._base_phrases(e):
                self._add(e, phrase, weight, LANGUAGES)
                self.base_words.update(words(phrase))
        for lang, pack in packs.items():
            for key, phrases in pack.members.items():
                member = by_qual.get(key) or by_name.get(key)
                for ph in phrases if member is not None else ():
                    self._add(member, ph, 1.0, (lang,))  # type: ignore[arg-type]
            for key, phrases in pack.models.items():
                model = by_qual.get(key)
                for ph in phrases if model is not None else ():
                    self._add(model, ph, 1.0, (lang,))  # type: ignore[arg-type]

    @staticmethod
    def _base_phrases(e: Entry) -> list[tuple[str, float]]:
        out = [(e.label, 1.0), (_split_name(e.name), 1.0)]
        spec = e.spec
        out += [(s, 1.0) for s in getattr(spec, "synonyms", ()) or ()]
        if e.kind == "model":
            return out
        # a label with a parenthesis ("Revenue (line level)") is also named without it
        bare = re.sub(r"\s*\(.*?\)\s*", " ", e.label).strip()
        if bare and bare != e.label:
            out.append((bare, 0.9))
        # "Customer region" also answers to "region" when the model says customer: partial names
        name_words = _split_name(e.name).split()
        fw = function_words()
        partial_ok = (
            e.kind != "dimension" or e.dtype == "categorical"
        )  # not 'placed' of Orders placed
        if len(name_words) > 1 and name_words[-1].lower() not in _GENERIC | fw and partial_ok:
            out.append((name_words[-1], 0.6))
        label_words = words(e.label)
        own = set(phrase_key(e.model.replace("_", " "))) | set(
            phrase_key(str(e.spec_model_title or ""))
        )
        rest = [w for w in label_words if stem(w) not in own]
        if (
            e.kind == "dimension"
            and rest
            and len(rest) < len(label_words)
            and set(rest) <= _GENERIC - fw
        ):
            out.append((" ".join(rest), 0.5))  # 'Region code' of regions: its 'code'
        if (
            e.kind != "model" and len(label_words) >= 3
        ):  # 'account balance' of 'Customer account balance'
            out.append((" ".join(label_words[1:]), 0.7))
        for syn in getattr(spec, "synonyms", ()) or ():
            sw = words(syn)
            if e.kind == "dimension" and len(sw) == 2 and sw[-1] not in _GENERIC | fw:
                out.append((sw[-1], 0.55))  # 'customer country' is also a 'country'

        if (
            e.kind == "dimension"
            and partial_ok
            and len(label_words) > 1
            and label_words[-1] not in _GENERIC | fw
        ):
            out.append((label_words[-1], 0.6))  # 'Customer nation' is also a 'nation'
        if e.is_time:  # 'closed in 2019' names the close date; 'start' the incident start
            rest = [
                w
                for w in words(e.label)
                if w not in _GENERIC and w not in fw and stem(w) not in own
            ]
            if rest and len(rest) < len(words(e.label)):
                out.append((" ".join(rest), 0.6))
        return out

    def _add(self, e: Entry, phrase: str, weight: float, languages) -> None:
        phrase = str(phrase).strip()
        if not phrase:
            return
        e.phrases.add(fold(phrase))
        if weight >= 1.0:
            self.member_words.add(" ".join(words(phrase)))
        for lang in languages:
            key = phrase_key(phrase, lang)
            if not key:
                continue
            bucket = self.index[lang].setdefault(key, [])
            for i, (other, w) in enumerate(bucket):
                if other is e:
                    if weight > w:
                        bucket[i] = (e, weight)
                    break
            else:
                bucket.append((e, weight))
            self.strings[lang].append((" ".join(key), e, weight))
            plain = " ".join(words(phrase))
            if plain != " ".join(key):
                self.strings[lang].append((plain, e, weight))

    # matching -----------------------------------------------------------------------------
    def exact(self, toks: Tokens, language: str, blocked: set[int]) -> list[Match]:
        out = []
        index = self.index[language]
        n = len(toks)
        for i in range(n):
            for j in range(i + 1, min(n, i + MAX_SPAN) + 1):
                if any(k in blocked for k in range(i, j)):
                    break
                for e, w in index.get(toks.stems[i:j], ()):
                    out.append(Match(i, j, e, w, "exact"))
        return out

    def fuzzy(
        self, toks: Tokens, language: str, blocked: set[int], stop: frozenset[str]
    ) -> list[Match]:
        """Typos: spans whose stems are close to a phrase ('reveune', 'custmer segment')."""
        from rapidfuzz import fuzz, process

        choices = self.strings[language]
        if not choices:
            return []
        texts = [c[0] for c in choices]
        out = []
        n = len(toks)
        for i in range(n):
            for j in range(i + 1, min(n, i + 3) + 1):
                if (
                    any(k in blocked for k in range(i, j))
                    or toks.low[i] in stop
                    or toks.low[j - 1] in stop
                    or "?" in toks.low[i:j]
                ):
                    break
                s = " ".join(toks.low[i:j])
                if len(s) < 5 or s.isdigit():
                    continue
                cutoff = 80 if len(s) >= 6 else 86
                for text, score, k in process.extract(
                    s, texts, scorer=fuzz.ratio, limit=4, score_cutoff=cutoff
                ):
                    _, e, w = choices[k]
                    if text == s or text == " ".join(toks.stems[i:j]):
                        continue
                    out.append(
                        Match(
                            i, j, e, w * (0.55 + 0.4 * (score - cutoff) / (100 - cutoff)), "fuzzy"
                        )
                    )
        return out

    def nearest(
        self, text: str, language: str, kinds=("metric", "measure", "dimension"), limit: int = 5
    ) -> list[Entry]:
        """Members whose phrases are closest to some text (for 'cannot answer: did you mean')."""
        from rapidfuzz import fuzz, process

        choices = [c for c in self.strings[language] if c[1].kind in kinds]
        if not choices or not text.strip():
            return []
        key = " ".join(phrase_key(text, language))
        seen, out = set(), []
        for _, _, k in process.extract(
            key, [c[0] for c in choices], scorer=fuzz.token_set_ratio, limit=limit * 4
        ):
            e = choices[k][1]
            if e.qualified not in seen:
                seen.add(e.qualified)
                out.append(e)
            if len(out) >= limit:
                break
        return out

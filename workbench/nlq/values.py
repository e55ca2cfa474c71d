"""The dimension-value index: which categorical dimension holds 'South', 'online' or 'AIR'.

Built once per namespace version, principal and data version through ``wb.query`` (row
policies apply: a regional manager's index holds their region only), from the distinct values
of every visible categorical dimension with at most ``per_dimension`` of them.
"""

from __future__ import annotations

from .i18n import LANGUAGES, SynonymPack
from .lexicon import MAX_SPAN, Entry, Match
from .text import Tokens, fold, phrase_key


class ValueIndex:
    def __init__(
        self,
        wb,
        namespace: str,
        dims: list[Entry],
        packs: dict[str, SynonymPack],
        per_dimension: int = 500,
    ):
        self.values: dict[str, list[object]] = {}
        self.index: dict[str, dict[tuple[str, ...], list[tuple[Entry, object]]]] = {
            lang: {} for lang in LANGUAGES
        }
        self.short: dict[str, list[tuple[Entry, object]]] = {}  # case-sensitive short values
        from ..semantic.errors import QueryError

        for e in dims:
            if e.dtype != "categorical" or e.primary_key:
                continue
            try:
                df = wb.query(
                    namespace, dimensions=[e.query_name], distinct=True, limit=per_dimension + 1
                ).execute()
            except QueryError:
                continue
            if len(df) > per_dimension:
                continue
            vals = [v for v in df.iloc[:, 0].tolist() if v is not None and str(v).strip()]
            self.values[e.qualified] = vals
            for v in vals:
                self._add(e, v, str(v), LANGUAGES)
        by_name = {e.name: e for e in dims}
        by_qual = {e.qualified: e for e in dims}
        for lang, pack in packs.items():
            for dim, per_value in pack.values.items():
                dim_entry = by_qual.get(dim) or by_name.get(dim)
                if dim_entry is None or dim_entry.qualified not in self.values:
                    continue
                stored = {str(v): v for v in self.values[dim_entry.qualified]}
                for value, phrases in per_value.items():
                    if value in stored:
                        for ph in phrases:
                            self._add(dim_entry, stored[value], ph, (lang,))

    def _add(self, e: Entry, value: object, text: str, languages) -> None:
        text = text.strip()
        if text.replace(".", "").replace("-", "").isdigit():
            return  # numbers are read as numbers ('top 3'), never as a stored id
        if len(text) <= 3 and not any(c.islower() for c in text):
            self.short.setdefault(text, []).append((e, value))
            return
        for lang in languages:
            key = phrase_key(text.replace("_", " "), lang)
            if key and not (len(key) == 1 and key[0].isdigit()):
                bucket = self.index[lang].setdefault(key, [])
                if not any(o is e and v == value for o, v in bucket):
                    bucket.append((e, value))

    def match(
        self,
        toks: Tokens,
        language: str,
        stop: frozenset[str],
        member_words: set[str] | frozenset[str] = frozenset(),
    ) -> list[Match]:
        """Spans naming stored values; a value that is also a member's name ('region' stored in
        an incidents table) scores below the member."""
        out = []
        index = self.index[language]
        n = len(toks)
        for i in range(n):
            for e, v in self.short.get(toks.raw[i], ()):
                out.append(Match(i, i + 1, e, 0.95, "value", v))
            for j in range(i + 1, min(n, i + MAX_SPAN) + 1):
                key = toks.stems[i:j]
                if j == i + 1 and (toks.low[i] in stop or len(toks.low[i]) < 2):
                    continue
                for e, v in index.get(key, ()):
                    text = " ".join(toks.low[i:j])
                    stored = fold(str(v)).replace("_", " ")
                    exact = stored == text
                    if not exact and j == i + 1 and abs(len(stored) - len(text)) > 2:
                        continue  # 'shipped' does not name the value SHIP
                    score = (1.0 if exact else 0.92) * (0.9 if text in member_words else 1.0)
                    out.append(Match(i, j, e, score, "value", v))
        return out

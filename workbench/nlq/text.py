"""Text as the engine reads it: accent-folded, lower-cased tokens, their stems and positions."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_TOKEN = re.compile(r"[0-9]+(?:[.,/-][0-9]+)*%?|[^\W_]+(?:['#&-][^\W_]+)*|%|\?", re.UNICODE)
STEMMERS = {"en": "english", "de": "german", "es": "spanish"}


def fold(text: str) -> str:
    """'Umsätze im März' -> 'umsatze im marz': accents dropped, ß as ss, lower case."""
    text = text.replace("ß", "ss").replace("ẞ", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=8)
def _stemmer(language: str):
    import snowballstemmer

    return snowballstemmer.stemmer(STEMMERS.get(language, "english"))


@lru_cache(maxsize=65536)
def stem(word: str, language: str = "en") -> str:
    if not word[:1].isalpha() or len(word) <= 2:
        return word
    return _stemmer(language).stemWord(word)


@dataclass(frozen=True)
class Tokens:
    """A question's tokens: as typed (`raw`), folded (`low`) and stemmed (`stems`)."""

    raw: tuple[str, ...]
    low: tuple[str, ...]
    stems: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.low)

    def text(self, start: int = 0, end: int | None = None) -> str:
        return " ".join(self.low[start:end])

    def raw_text(self, start: int = 0, end: int | None = None) -> str:
        return " ".join(self.raw[start:end])


def tokenize(text: str, language: str = "en") -> Tokens:
    raw = tuple(m.group(0) for m in _TOKEN.finditer(unicodedata.normalize("NFC", text)))
    low = tuple(fold(t) for t in raw)
    return Tokens(raw, low, tuple(stem(t, language) for t in low))


def phrase_key(phrase: str, language: str = "en") -> tuple[str, ...]:
    """The stems of a phrase, the key it is matched under."""
    return tuple(
        stem(fold(m.group(0)), language) for m in _TOKEN.finditer(phrase) if m.group(0) != "?"
    )


def words(phrase: str) -> tuple[str, ...]:
    """The folded tokens of a phrase (no stemming)."""
    return tuple(fold(m.group(0)) for m in _TOKEN.finditer(phrase))


def find_phrase(low: tuple[str, ...], phrase: tuple[str, ...], start: int = 0) -> int:
    """Index of the first occurrence of the token sequence `phrase` in `low` at or after start."""
    n = len(phrase)
    for i in range(start, len(low) - n + 1):
        if low[i : i + n] == phrase:
            return i
    return -1

"""Languages: the engine's word tables (words/<lang>.yml), detection, and per-model synonym packs.

A synonym pack sits beside a model file as ``<models_dir>/i18n/<namespace>.<lang>.yml``::

    members:                      # member name (or model.member) -> words in that language
      revenue: [Umsatz, Erlös]
      orders.order_date: [Bestelldatum]
    models:                       # model name -> words for the entity ("Bestellungen")
      orders: [Bestellungen]
    values:                       # dimension -> {value as stored: [words]}
      channel: {store: [Filiale, Laden]}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import WorkbenchError
from ..specfile import plain, read_yaml
from .text import fold, words

LANGUAGES = ("en", "de", "es")
_WORDS_DIR = Path(__file__).parent / "words"


class LanguageError(WorkbenchError):
    """An unsupported language or a malformed synonym pack."""


@dataclass
class WordTable:
    """One language's phrasings of the engine's concepts, folded into token tuples."""

    language: str
    data: dict[str, Any]
    stopwords: frozenset[str] = frozenset()

    def phrases(self, concept: str) -> list[tuple[str, ...]]:
        """The phrasings of a concept ('group_by', 'time.last', 'time.units.day'), longest first."""
        node: Any = self.data
        for part in concept.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        items = node if isinstance(node, list) else list(node) if isinstance(node, dict) else []
        return sorted({words(str(p)) for p in items if str(p).strip()}, key=lambda w: -len(w))

    def mapping(self, concept: str) -> dict[str, Any]:
        node: Any = self.data
        for part in concept.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        return {fold(str(k)): v for k, v in node.items()} if isinstance(node, dict) else {}


@lru_cache(maxsize=8)
def word_table(language: str) -> WordTable:
    if language not in LANGUAGES:
        raise LanguageError(
            f"Language {language!r} is not supported; use one of {', '.join(LANGUAGES)}."
        )
    data = plain(read_yaml(_WORDS_DIR / f"{language}.yml", "a mapping of concepts")[0])
    stop = frozenset(fold(str(w)) for w in data.get("stopwords", []))
    return WordTable(language, data, stop)


def _vocabulary(language: str) -> frozenset[str]:
    table = word_table(language)
    out = set(table.stopwords)

    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                out.update(words(str(k)))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                out.update(words(str(v)))

    walk({k: v for k, v in table.data.items() if k != "stopwords"})
    return frozenset(w for w in out if len(w) > 1 and not w.isdigit())


@lru_cache(maxsize=1)
def _vocabularies() -> dict[str, frozenset[str]]:
    vocab = {lang: _vocabulary(lang) for lang in LANGUAGES}
    # a word every language has ('top', 'vs', 'ytd') tells nothing
    shared = set.intersection(*(set(v) for v in vocab.values()))
    return {lang: frozenset(v - shared) for lang, v in vocab.items()}


def detect_language(
    low_tokens: tuple[str, ...], pack_words: dict[str, set[str]] | None = None
) -> str:
    """The language whose words cover most of the question ('en' when nothing tells)."""
    vocab = _vocabularies()
    scores = {}
    for lang in LANGUAGES:
        extra = (pack_words or {}).get(lang, set())
        scores[lang] = sum(1.0 for t in low_tokens if t in vocab[lang]) + sum(
            1.5 for t in low_tokens if t in extra
        )
    best = max(LANGUAGES, key=lambda lang: (scores[lang], lang == "en"))
    return best if scores[best] > scores["en"] else "en"


@lru_cache(maxsize=1)
def function_words() -> frozenset[str]:
    """Words of every language that belong to the engine (stop words and cue words): a member
    is never named by one of them alone."""
    out: set[str] = set()
    for lang in LANGUAGES:
        out |= _vocabulary(lang)
        out |= word_table(lang).stopwords
    return frozenset(out)


@dataclass
class SynonymPack:
    language: str
    members: dict[str, list[str]] = field(default_factory=dict)
    models: dict[str, list[str]] = field(default_factory=dict)
    values: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def vocabulary(self) -> set[str]:
        out: set[str] = set()
        for group in (self.members, self.models):
            for ws in group.values():
                for w in ws:
                    out.update(t for t in words(w) if len(t) > 2)
        return out  # value translations ('App') are too often the English word too


def _lists(data: dict, section: str, path: Path) -> dict[str, list[str]]:
    raw = data.get(section) or {}
    if not isinstance(raw, dict):
        raise LanguageError(f"{path}: '{section}' must map names to lists of words.")
    return {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in raw.items()}


def load_packs(models_dir: Path, namespace: str) -> dict[str, SynonymPack]:
    """The synonym packs of a namespace, by language (none is fine)."""
    packs = {}
    for lang in LANGUAGES:
        path = models_dir / "i18n" / f"{namespace}.{lang}.yml"
        if not path.exists():
            continue
        data = plain(read_yaml(path, "a mapping with 'members', 'models' or 'values'")[0])
        unknown = set(data) - {"members", "models", "values"}
        if unknown:
            raise LanguageError(
                f"{path}: unknown sections {sorted(unknown)}; a synonym pack has "
                "'members', 'models' and 'values'."
            )

        values = {
            str(dim): {
                str(v): [str(x) for x in (ws if isinstance(ws, list) else [ws])]
                for v, ws in (per or {}).items()
            }
            for dim, per in (data.get("values") or {}).items()
        }
        packs[lang] = SynonymPack(
            lang, _lists(data, "members", path), _lists(data, "models", path), values
        )
    return packs

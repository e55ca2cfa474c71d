"""The benchmark's baseline: a bag-of-words matcher, run side by side with the engine.

It answers every question with the single metric whose name, label and synonyms share the most
words with the question (no dimensions, filters, time or conversation), and says
"unanswerable" when no word matches. It is what "keyword search over the catalog" gives; the
engine's accuracy is reported as a ratio to it. It speaks the engine's contract
(``conversation().ask(...)`` returning ``kind``, ``frame`` and ``query``).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

WORD = re.compile(r"[^\W_]+", re.UNICODE)


def words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text or "")}


@dataclass
class BaselineAnswer:
    kind: str
    frame: Any = None
    query: dict | None = None


class KeywordBaseline:
    """``KeywordBaseline(wb, namespace=..., today=...)``: the engine contract, naively."""

    def __init__(self, wb, namespace: str, today: dt.date | None = None):
        self.wb, self.namespace, self.today = wb, namespace, today
        self.vocab: list[tuple[str, set[str]]] = []
        for entry in wb.catalog(namespace):
            if entry["kind"] not in ("measure", "metric"):
                continue
            bag = words(entry["name"].replace("_", " ")) | words(entry.get("label") or "")
            for synonym in entry.get("synonyms") or ():
                bag |= words(synonym)
            self.vocab.append((entry["name"], bag))

    def conversation(self) -> KeywordBaseline:
        return self

    def ask(self, question: str, language: str | None = None) -> BaselineAnswer:
        asked = words(question)
        best, score = None, 0
        for name, bag in self.vocab:
            hits = len(asked & bag)
            if hits > score:
                best, score = name, hits
        if best is None:
            return BaselineAnswer("unanswerable")
        query = {"metrics": [best]}
        frame = self.wb.query(self.namespace, today=self.today, **query).execute()
        return BaselineAnswer("answer", frame, query)

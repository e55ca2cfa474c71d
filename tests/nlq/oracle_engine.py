"""An engine that knows the answers: it looks each question up in a question file and answers
with the item's gold (or expected rows, or its expected clarification). It exists to prove the
harness can score 100% and that a perfect engine's figures come out as they should; it is never
a stand-in for the real engine.

The question file is named by the ``NLQ_ORACLE_QUESTIONS`` environment variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .questions_file import load_questions
from .runner import run_gold


@dataclass
class OracleAnswer:
    kind: str
    frame: Any = None
    query: dict | None = None


class OracleEngine:
    def __init__(self, wb, namespace: str | None = None, today=None):
        self.wb = wb
        self.qs = load_questions(os.environ["NLQ_ORACLE_QUESTIONS"], namespace)
        self.today = today or self.qs.today
        self.by_question = {}
        for item in self.qs.items:
            self.by_question.setdefault(item.question, item)

    def conversation(self) -> OracleEngine:
        return self

    def ask(self, question: str, language: str | None = None) -> OracleAnswer:
        item = self.by_question[question]
        if item.expect is not None:
            return OracleAnswer(item.expect)
        if item.gold is not None:
            frame = run_gold(self.wb, self.qs.namespace, item.gold, self.today)
            return OracleAnswer("answer", frame, item.gold)
        return OracleAnswer("answer", pd.DataFrame(item.expected_rows))

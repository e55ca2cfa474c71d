"""A conversation: turns, follow-ups resolved against the previous turn, diffs and undo."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .answer import Answer
from .resolve import Partial

if TYPE_CHECKING:
    from .engine import NLQEngine


@dataclass
class Turn:
    question: str
    answer: Answer
    partial: Partial | None  # what the turn's query was built from (None: nothing asked)


def is_followup(prev: Partial | None, new: Partial) -> bool:
    if prev is None:
        return False
    if new.why:
        return True
    stated = new.stated - {"metrics"}
    if (new.unknown or new.detail or new.counted) and not new.followup:
        return False
    if "metrics" not in new.stated or (
        new.filters and all(m in new.entity_metrics for m in new.metrics)
    ):
        return bool(new.stated) or bool(new.filters)
    return (
        new.followup
        and not ("groupby" in stated and len(new.metrics) > 1)
        and (len(new.stated) <= 2 or new.followup)
    )


def merge(prev: Partial, new: Partial) -> Partial:
    """The previous turn's query changed by what the new question states."""
    out = replace(
        prev,
        filters=dict(prev.filters),
        define=dict(prev.define),
        words=dict(prev.words),
        segments=list(prev.segments),
        groupby=list(prev.groupby),
        mentions=list(prev.mentions),
        swaps=dict(prev.swaps),
    )
    qualifier = (
        bool(new.filters) and new.metrics and all(m in new.entity_metrics for m in new.metrics)
    )
    if "metrics" in new.stated and not qualifier:  # 'only for customers in EUROPE' qualifies
        out.metrics, out.metric_entries, out.share = (
            list(new.metrics),
            list(new.metric_entries),
            new.share,
        )
        out.define.update(new.define)
        out.detail = new.detail
    if "groupby" in new.stated:
        if new.add_dims:
            out.groupby = prev.groupby + [d for d in new.groupby if d not in prev.groupby]
        else:
            out.groupby = list(new.groupby)
            if "grain" not in new.stated:
                out.grain = None
        out.mentions = out.groupby + [m for m in new.mentions if m not in out.groupby]
    if "grain" in new.stated:
        out.grain = new.grain
        if not new.add_dims and "groupby" not in new.stated:
            td = prev.time_dim
            out.groupby = [d for d in prev.groupby if d == td]
    if "time_range" in new.stated:
        out.time_range, out.years = new.time_range, new.years
    if "time_dim" in new.stated:
        out.time_dim = new.time_dim
    if "compare" in new.stated:
        out.compare_last_year = True
    if "filters" in new.stated:
        for key, f in new.filters.items():
            out.filters[key] = f
    if "segments" in new.stated:
        out.segments = list(dict.fromkeys(out.segments + new.segments))
    if "remove" in new.stated:
        out.groupby = [d for d in out.groupby if d not in new.remove]
        out.mentions = [d for d in out.mentions if d not in new.remove]
        out.filters = {k: f for k, f in out.filters.items() if f["member"] not in new.remove}
    if "top" in new.stated:
        out.top = new.top
    if "order" in new.stated:
        out.order, out.order_by = new.order, new.order_by
    out.words.update(new.words)
    out.swaps.update(new.swaps)
    out.stated = new.stated | {"followup"}
    out.score = new.score
    out.unknown, out.unknown_by, out.ambiguous = new.unknown, new.unknown_by, new.ambiguous
    out.why = new.why
    return out


class Conversation:
    def __init__(self, engine: NLQEngine):
        self.engine = engine
        self.turns: list[Turn] = []

    @property
    def last(self) -> Turn | None:
        for t in reversed(self.turns):
            if t.partial is not None and t.answer.kind == "answer":
                return t
        return None

    def ask(
        self, question: str, language: str | None = None, today: dt.date | None = None
    ) -> Answer:
        prev = self.last
        answer, partial = self.engine.answer(
            question,
            language,
            prev.partial if prev else None,
            prev.answer if prev else None,
            today=today,
        )
        self.turns.append(Turn(question, answer, partial))
        return answer

    def undo(self) -> Answer | None:
        """Forget the last turn; the previous turn's answer is current again (None if none)."""
        if self.turns:
            self.turns.pop()
        return self.turns[-1].answer if self.turns else None

    def choose(self, option: int) -> Answer:
        """Answer a clarification with one of its options (0-based)."""
        if not self.turns or self.turns[-1].answer.kind != "clarification":
            raise IndexError("the last turn is not a clarification")
        asked = self.turns[-1].answer
        opt = asked.options[option]
        partial = asked.option_partials[option] if option < len(asked.option_partials) else None
        answer = self.engine.run(
            opt["query"],
            asked.language,
            self.turns[-1].question,
            partial,
            self.last.answer if self.last else None,
        )
        self.turns.append(Turn(self.turns[-1].question, answer, partial))
        return answer

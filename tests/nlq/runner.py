"""Run an NLQ engine over a question set and score every answer (docs/nlq.md, "Benchmark").

The engine is driven only through its public contract::

    engine = NLQEngine(wb, namespace=ns[, today=date]); conv = engine.conversation()
    ans = conv.ask(question, language=None)   # ans.kind, ans.frame, ans.query

One conversation per chain (an item and its follow-ups). The set's ``today`` goes to the gold
queries (``Workbench.query(today=...)``) and to the engine: as ``NLQEngine(..., today=)`` when
the constructor takes it, else as ``conv.ask(..., today=)`` when ``ask`` takes it; when neither
does, the run says so (``today_passed: none``) and relative time questions may not reproduce.

Scoring:

* an item with ``gold`` or ``expected_rows`` is correct when the engine answers (kind
  ``answer``) with the same rows (``match.py``);
* ``expect: clarification`` / ``expect: unanswerable`` is correct only when the engine says
  exactly that; an unanswerable item answered with a frame is a *wrong-number answer*;
* an exception from the engine is a wrong answer, with its message kept as the reason.
"""

from __future__ import annotations

import datetime as dt
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .match import describe_mismatch, frame_rows, rows_match, rows_of
from .questions_file import Item, QuestionSet


class EngineMissing(RuntimeError):
    """``workbench.nlq.NLQEngine`` cannot be imported (the engine is not there yet)."""


@dataclass
class Outcome:
    item: Item
    kind: str  # answer | clarification | unanswerable | error
    correct: bool
    reason: str
    ms: float
    wrong_number: bool = False  # an unanswerable item answered with a number
    query: Any = None


def gold_rows(wb, qs: QuestionSet, item: Item) -> list[tuple] | None:
    """The expected rows of an answerable item: its ``expected_rows``, or its gold run now."""
    if item.expected_rows is not None:
        return rows_of(item.expected_rows)
    if item.gold is None:
        return None
    return frame_rows(run_gold(wb, qs.namespace, item.gold, qs.today))


def run_gold(wb, namespace: str, gold: dict, today: dt.date):
    """Execute a gold query (the keyword arguments of ``Workbench.query``)."""
    kw = dict(gold)
    target = kw.pop("target", namespace)
    return wb.query(target, today=today, **kw).execute()


def load_engine_class(spec: str | None = None) -> type:
    """``workbench.nlq.NLQEngine``, or the class named by ``spec`` ("module:Class")."""
    import importlib

    module, _, name = (spec or "workbench.nlq:NLQEngine").partition(":")
    try:
        return getattr(importlib.import_module(module), name or "NLQEngine")
    except (ImportError, AttributeError) as e:
        raise EngineMissing(
            f"The NLQ engine is not available: importing {name or 'NLQEngine'} from {module} "
            f"failed ({e}). The benchmark measures that engine; it cannot run before it exists."
        ) from None


def accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class EngineDriver:
    """Builds the engine once per namespace and opens one conversation per chain."""

    def __init__(self, engine_cls: type, wb, namespace: str, today: dt.date):
        self.today = today
        start = time.perf_counter()
        if accepts(engine_cls, "today"):
            self.engine = engine_cls(wb, namespace=namespace, today=today)
            self.today_passed = "engine"
        else:
            self.engine = engine_cls(wb, namespace=namespace)
            self.today_passed = "none"
        self.build_ms = (time.perf_counter() - start) * 1000
        self._ask_takes_today: bool | None = None

    def conversation(self):
        conv = self.engine.conversation()
        if self._ask_takes_today is None:
            self._ask_takes_today = self.today_passed == "none" and accepts(conv.ask, "today")
            if self._ask_takes_today:
                self.today_passed = "ask"
        return conv

    def ask(self, conv, question: str, language: str | None):
        if self._ask_takes_today:
            return conv.ask(question, language=language, today=self.today)
        return conv.ask(question, language=language)


def score(item: Item, answer: Any, want: list[tuple] | None) -> tuple[bool, str, bool]:
    """(correct, reason, wrong_number) of one answer."""
    kind = getattr(answer, "kind", None)
    if item.expect is not None:
        if kind == item.expect:
            return True, "", False
        wrong_number = item.expect == "unanswerable" and kind == "answer"
        return False, f"expected {item.expect}, engine gave {kind}", wrong_number
    if kind != "answer":
        return False, f"expected an answer, engine gave {kind}", False
    frame = getattr(answer, "frame", None)
    if frame is None:
        return False, "answer without a frame", False
    if not isinstance(frame, pd.DataFrame) and hasattr(frame, "to_pandas"):
        frame = frame.to_pandas()  # an Arrow table
    got = frame_rows(frame)
    assert want is not None
    if rows_match(got, want, item.ordered):
        return True, "", False
    return False, describe_mismatch(got, want), False


def run_chains(
    driver: EngineDriver,
    chains: list[list[Item]],
    wants: dict[str, list[tuple] | None],
    pass_language: bool = False,
) -> list[Outcome]:
    """Ask every chain in its own conversation; one Outcome per item, in chain order."""
    out: list[Outcome] = []
    for chain in chains:
        conv = driver.conversation()
        for item in chain:
            lang = item.language if pass_language else None
            start = time.perf_counter()
            try:
                ans = driver.ask(conv, item.question, lang)
            except Exception as e:  # an engine crash is a wrong answer, with its message
                ms = (time.perf_counter() - start) * 1000
                out.append(Outcome(item, "error", False, f"{type(e).__name__}: {e}"[:300], ms))
                continue
            ms = (time.perf_counter() - start) * 1000
            correct, reason, wrong_number = score(item, ans, wants.get(item.id))
            out.append(
                Outcome(
                    item,
                    str(getattr(ans, "kind", None)),
                    correct,
                    reason,
                    ms,
                    wrong_number,
                    getattr(ans, "query", None),
                )
            )
    return out


def time_chains(driver: EngineDriver, chains: list[list[Item]], pass_language: bool) -> list[float]:
    """Milliseconds per ask over the chains again (the warm pass; answers not scored)."""
    times: list[float] = []
    for chain in chains:
        conv = driver.conversation()
        for item in chain:
            start = time.perf_counter()
            try:
                driver.ask(conv, item.question, item.language if pass_language else None)
            except Exception:  # noqa: S110 -- scored in the cold pass; the warm pass only times
                pass
            times.append((time.perf_counter() - start) * 1000)
    return times


def summarise(outcomes: list[Outcome]) -> dict[str, Any]:
    """Accuracy overall, per category and per language, and the wrong-number count."""

    def acc(rows: list[Outcome]) -> float | None:
        return round(sum(o.correct for o in rows) / len(rows), 4) if rows else None

    cats: dict[str, list[Outcome]] = {}
    langs: dict[str, list[Outcome]] = {}
    for o in outcomes:
        cats.setdefault(o.item.category, []).append(o)
        langs.setdefault(o.item.language, []).append(o)
    return {
        "accuracy": acc(outcomes),
        "accuracy_by_category": {k: acc(v) for k, v in sorted(cats.items())},
        "accuracy_by_language": {k: acc(v) for k, v in sorted(langs.items())},
        "questions": len(outcomes),
        "questions_by_category": {k: len(v) for k, v in sorted(cats.items())},
        "questions_by_language": {k: len(v) for k, v in sorted(langs.items())},
        "wrong_number_answers": sum(o.wrong_number for o in outcomes),
        "wrong_numbers_total": sum((o.kind == "answer" and not o.correct) for o in outcomes),
        "errors": sum(o.kind == "error" for o in outcomes),
    }


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of the values, in ms rounded to 0.1."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return round(ordered[rank], 1)


__all__ = [
    "EngineDriver",
    "EngineMissing",
    "Outcome",
    "gold_rows",
    "load_engine_class",
    "percentile",
    "run_chains",
    "run_gold",
    "score",
    "summarise",
    "time_chains",
]

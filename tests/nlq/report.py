"""The benchmark's figures and the issue's goals, from scored outcomes (runner.Outcome).

``execution accuracy`` is over the answerable items (a gold or expected rows); ``detection``
over the clarification and unanswerable items; ``accuracy`` over all of them.
"""

from __future__ import annotations

from typing import Any

from .runner import Outcome, percentile, summarise

# Issue 12, "Goals" (measured without any LLM). Voice is measured elsewhere.
GOALS = {
    "execution_accuracy_en": 0.95,  # on the shipped English set
    "execution_accuracy_other": 0.90,  # per other language (de, es)
    "detection_accuracy": 0.90,  # clarification and unanswerable
    "wrong_number_answers": 0,  # unanswerable items answered with a number
    "p95_ms": 300.0,  # warm
}


def _acc(rows: list[Outcome]) -> float | None:
    return round(sum(o.correct for o in rows) / len(rows), 4) if rows else None


def figures(outcomes: list[Outcome], cold_ms: list[float], warm_ms: list[float]) -> dict[str, Any]:
    """Accuracy overall / per category / per language, execution and detection accuracy,
    warm and cold latency percentiles."""
    out = summarise(outcomes)
    answerable = [o for o in outcomes if o.item.answerable]
    detection = [o for o in outcomes if not o.item.answerable]
    langs = sorted({o.item.language for o in answerable})
    out["execution_accuracy"] = _acc(answerable)
    out["execution_accuracy_by_language"] = {
        lang: _acc([o for o in answerable if o.item.language == lang]) for lang in langs
    }
    out["detection_accuracy"] = _acc(detection)
    out["p50_ms"] = percentile(warm_ms, 50)
    out["p95_ms"] = percentile(warm_ms, 95)
    out["cold_p50_ms"] = percentile(cold_ms, 50)
    out["cold_p95_ms"] = percentile(cold_ms, 95)
    return out


def goals_met(fig: dict[str, Any]) -> dict[str, bool]:
    """Each goal of the issue: met (True) or not (False) by these figures."""
    by_lang = fig.get("execution_accuracy_by_language") or {}
    met = {
        "execution_accuracy_en": (by_lang.get("en") or 0) >= GOALS["execution_accuracy_en"],
        "detection_accuracy": (fig.get("detection_accuracy") or 0) >= GOALS["detection_accuracy"],
        "wrong_number_answers": fig.get("wrong_number_answers", 1) <= 0,
        "p95_ms": fig.get("p95_ms") is not None and fig["p95_ms"] <= GOALS["p95_ms"],
    }
    for lang, value in by_lang.items():
        if lang != "en":
            met[f"execution_accuracy_{lang}"] = (value or 0) >= GOALS["execution_accuracy_other"]
    return met


def failures(outcomes: list[Outcome], limit: int = 20) -> list[str]:
    """The first wrong answers, one line each: id, question, what went wrong."""
    lines: list[str] = []
    if limit <= 0:
        return lines
    for o in outcomes:
        if not o.correct:
            lines.append(
                f"{o.item.id} [{o.item.category}/{o.item.language}] {o.item.question!r}: {o.reason}"
            )
            if len(lines) >= limit:
                break
    return lines

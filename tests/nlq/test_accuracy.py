"""The issue's goals for the offline engine (issue 12, "Goals"), measured exactly as
benchmarks/nlq.py measures them: every shipped question set and the unseen insurance model,
asked through NLQEngine's public contract, scored by execution match.

Slow: the full sets are ~600 questions, each asked twice (cold and warm).
"""

from __future__ import annotations

import pytest

from tests.support.prerequisites import skip_or_fail

from .evaluate import evaluate_sets, grouped
from .questions_file import load_questions, question_files
from .report import GOALS, failures, figures
from .runner import EngineMissing, load_engine_class
from .warehouses import MODELS_DIRS, QUESTIONS_DIR, UNSEEN_QUESTIONS

pytestmark = pytest.mark.slow


def _measure(files, nlq_warehouses):
    try:
        engine_cls = load_engine_class()
    except EngineMissing as e:
        skip_or_fail(str(e))
    sets = []
    for path in files:
        qs = load_questions(path)
        sets.append((qs, nlq_warehouses[qs.namespace], MODELS_DIRS[qs.namespace]))
    runs = []
    for wh, models, group in grouped(sets):
        runs += evaluate_sets(engine_cls, group, wh, models, baseline=False)
    outcomes = [o for r in runs for o in r.outcomes]
    fig = figures(
        outcomes, [t for r in runs for t in r.cold_ms], [t for r in runs for t in r.warm_ms]
    )
    fig["failures"] = failures(outcomes, 40)
    return fig


@pytest.fixture(scope="module")
def shipped(nlq_warehouses):
    return _measure(question_files(QUESTIONS_DIR), nlq_warehouses)


@pytest.fixture(scope="module")
def unseen(nlq_warehouses):
    return _measure([UNSEEN_QUESTIONS], nlq_warehouses)


def _why(fig) -> str:
    return "\n".join(fig["failures"])


# Measured 2026-12-03 07:46 UTC (benchmarks/results/nlq.json), engine at faab615: goals not met
# yet. Strict: the day a goal is met, the test passes, the xfail fails, and the mark goes.
NOT_YET = "goal not met yet (issue 12); measured 2026-12-03 07:46 UTC, engine at faab615: "


@pytest.mark.xfail(strict=True, reason=NOT_YET + "English execution accuracy 0.833 < 0.95")
def test_english_execution_accuracy(shipped):
    got = shipped["execution_accuracy_by_language"]["en"]
    assert got >= GOALS["execution_accuracy_en"], (
        f"English execution accuracy {got}\n{_why(shipped)}"
    )


@pytest.mark.parametrize("lang", ["de", "es"])
def test_other_languages_execution_accuracy(shipped, lang):
    got = shipped["execution_accuracy_by_language"][lang]
    assert got >= GOALS["execution_accuracy_other"], (
        f"{lang} execution accuracy {got}\n{_why(shipped)}"
    )


@pytest.mark.xfail(strict=True, reason=NOT_YET + "detection accuracy 0.872 < 0.90")
def test_clarification_and_unanswerable_detection(shipped):
    got = shipped["detection_accuracy"]
    assert got >= GOALS["detection_accuracy"], f"detection accuracy {got}\n{_why(shipped)}"


def test_no_wrong_number_answers_on_the_unanswerable_set(shipped):
    assert shipped["wrong_number_answers"] == 0, _why(shipped)


def test_warm_p95_latency(shipped):
    assert shipped["p95_ms"] <= GOALS["p95_ms"], f"warm p95 {shipped['p95_ms']} ms"


@pytest.mark.xfail(
    strict=True, reason=NOT_YET + "unseen model: execution 0.679, detection 0.571 < 0.90"
)
def test_the_unseen_domain(unseen):
    """The engine knows nothing specific to retail or TPC-H: on a model it has never seen it
    keeps the bar of the other languages (execution and detection >= 90 %) and gives no
    wrong-number answer."""
    assert unseen["execution_accuracy"] >= GOALS["execution_accuracy_other"], _why(unseen)
    assert unseen["detection_accuracy"] >= GOALS["detection_accuracy"], _why(unseen)
    assert unseen["wrong_number_answers"] == 0, _why(unseen)

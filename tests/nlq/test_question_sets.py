"""The question sets are sound: they load, ids are unique, follow-ups point back, the issue's
minimum counts hold, every gold runs on the warehouse it was written for (and returns rows),
hand-computed rows agree with the golds, and the file reader names the line of a mistake."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from workbench.errors import SpecError

from .match import frame_rows, rows_match, rows_of
from .questions_file import CATEGORIES, load_questions, question_files
from .runner import run_gold
from .warehouses import MODELS_DIRS, QUESTIONS_DIR, REPO, UNSEEN_DIR, UNSEEN_QUESTIONS, connect

SHIPPED = question_files(QUESTIONS_DIR)
ALL = [*SHIPPED, UNSEEN_QUESTIONS]
CORE = ("aggregate", "detail", "time", "derived", "follow-up", "clarification", "unanswerable")


def _items(files):
    return [(path, item) for path in files for item in load_questions(path).items]


def test_every_file_loads_and_ids_are_unique_across_files():
    ids = Counter(item.id for _, item in _items(ALL))
    assert not [i for i, n in ids.items() if n > 1]


@pytest.mark.parametrize(
    "path", ALL, ids=lambda p: p.name if p.parent == QUESTIONS_DIR else "unseen"
)
def test_follow_ups_point_to_an_earlier_item_of_the_same_file(path):
    qs = load_questions(path)
    seen: set[str] = set()
    for item in qs.items:
        if item.follow_up_of is not None:
            assert item.follow_up_of in seen, item.id
            assert item.category == "follow-up", item.id
        seen.add(item.id)
    assert all(chain[0].follow_up_of is None for chain in qs.chains())


def test_the_issue_minimum_counts():
    items = [item for _, item in _items(SHIPPED)]
    namespaces = {load_questions(p).namespace for p in SHIPPED}
    assert namespaces == {"retail", "tpch"}
    langs = Counter(item.language for item in items)
    assert langs["en"] >= 300 and langs["de"] >= 60 and langs["es"] >= 60, langs
    english = Counter(item.category for item in items if item.language == "en")
    for category in CORE:
        assert english[category] >= 10, (category, english)
    for lang in ("de", "es"):
        cats = Counter(item.category for item in items if item.language == lang)
        assert all(cats[c] >= 1 for c in CORE), (lang, cats)
    assert set(english) <= set(CATEGORIES)
    unseen = load_questions(UNSEEN_QUESTIONS).items
    assert len(unseen) >= 40


def test_the_unseen_set_asks_the_issue_examples():
    questions = " | ".join(item.question.lower() for item in load_questions(UNSEEN_QUESTIONS).items)
    for phrase in (
        "how many policies do we have",
        "how many claims per policy",
        "average loss per policy",
        "total loss is the sum of loss payment, loss reserve, expense payment and expense reserve",
        "premium divided by the number of policies",
        "return all claims by claim number with their open and close date",
        "which agents sold policies that had a claim",
        "closed in 2019",
    ):
        assert phrase in questions, phrase


def test_same_question_same_answer_outside_conversations():
    """Two opening questions with the same words must have the same gold (follow-ups may
    differ: their meaning depends on the conversation)."""
    for path in ALL:
        golds: dict[str, tuple] = {}
        for item in load_questions(path).items:
            if item.follow_up_of is not None:
                continue
            key = item.question.strip().lower()
            answer = (repr(item.gold), repr(item.expected_rows), item.expect)
            assert golds.setdefault(key, answer) == answer, (path.name, item.id)


@pytest.fixture(scope="module")
def sessions(nlq_warehouses):
    opened = {ns: connect(path, MODELS_DIRS[ns]) for ns, path in nlq_warehouses.items()}
    yield opened
    for wb in opened.values():
        wb.close()


@pytest.mark.parametrize(
    "path", ALL, ids=lambda p: p.name if p.parent == QUESTIONS_DIR else "unseen"
)
def test_every_gold_runs_and_returns_rows(path, sessions):
    """A gold that errors, returns nothing, or keeps more rows than its top-N asks (ties at the
    edge make the question unfair) is a bug in the file."""
    qs = load_questions(path)
    wb = sessions[qs.namespace]
    problems = []
    for item in qs.items:
        if item.gold is None:
            continue
        try:
            frame = run_gold(wb, qs.namespace, item.gold, qs.today)
        except Exception as e:  # collected, so one run lists every broken gold
            problems.append(f"{item.id}: {type(e).__name__}: {e}")
            continue
        if frame.empty:
            problems.append(f"{item.id}: no rows")
        top = item.gold.get("top")
        if top and len(frame) != top.get("n", 1) * _groups(frame, top):
            problems.append(f"{item.id}: {len(frame)} rows for top {top} (ties at the edge)")
    assert not problems, "\n".join(problems)


def _groups(frame, top) -> int:
    per = top.get("per") or []
    return len(frame.groupby(per)) if per else 1


def test_hand_computed_rows_agree_with_the_golds(sessions):
    qs = load_questions(UNSEEN_QUESTIONS)
    wb = sessions[qs.namespace]
    both = [i for i in qs.items if i.gold is not None and i.expected_rows is not None]
    assert len(both) >= 40
    for item in both:
        got = frame_rows(run_gold(wb, qs.namespace, item.gold, qs.today))
        assert rows_match(got, rows_of(item.expected_rows), item.ordered), item.id


def test_nothing_in_the_engine_knows_the_unseen_domain():
    """The unseen model stays unseen: no file of the package mentions its folder, its model
    file or its identifiers."""
    needles = ("nlq/unseen", "insurance.yml", "31003000", "C-1001", "Carla White")
    hits = []
    for path in (REPO / "workbench").rglob("*"):
        if path.is_file() and path.suffix in (".py", ".yml", ".yaml", ".json", ".txt", ".md"):
            text = path.read_text(encoding="utf-8", errors="ignore")
            hits += [f"{path}: {n}" for n in needles if n in text]
    assert not hits
    assert "do not read this folder" in (UNSEEN_DIR / "README.md").read_text().lower()


# ------------------------------------------------------------------------ reader mistakes

HEAD = "namespace: demo\ntoday: 2024-12-31\nlanguage: en\nquestions:\n"


@pytest.mark.parametrize(
    "body, message, line",
    [
        (
            '  - {id: a, category: aggregate, question: "x", gold: {metrics: [m]}}\n'
            '  - {id: a, category: aggregate, question: "y", gold: {metrics: [m]}}\n',
            "duplicate id 'a'",
            6,
        ),
        (
            '  - {id: a, category: follow-up, follow_up_of: zz, question: "x", gold: {metrics: [m]}}\n',
            "follow_up_of 'zz' is not an earlier id",
            5,
        ),
        (
            '  - {id: a, category: aggregate, question: "x", gold: {metrics: [m]}}\n'
            '  - {id: b, category: follow-up, follow_up_of: a, question: "y", gold: {metrics: [m]}}\n'
            '  - {id: c, category: follow-up, follow_up_of: a, question: "z", gold: {metrics: [m]}}\n',
            "latest turn is 'b'",
            7,
        ),
        (
            '  - {id: a, category: sums, question: "x", gold: {metrics: [m]}}\n',
            "category must be",
            5,
        ),
        ('  - {id: a, category: aggregate, question: "x"}\n', "needs one of", 5),
        (
            '  - {id: a, category: aggregate, question: "x", gold: {metric: [m]}}\n',
            "unknown query argument 'metric'",
            5,
        ),
        (
            '  - {id: a, category: unanswerable, question: "x", gold: {metrics: [m]}}\n',
            "needs 'expect: unanswerable'",
            5,
        ),
        ('  - {id: a, category: aggregate, question: "x", expect: maybe}\n', "expect must be", 5),
    ],
)
def test_mistakes_in_a_question_file_name_the_line(tmp_path, body, message, line):
    path = tmp_path / "bad.yml"
    path.write_text(HEAD + body)
    with pytest.raises(SpecError, match=message) as err:
        load_questions(path)
    assert err.value.line == line and err.value.file == str(path)


def test_a_file_without_today_is_refused(tmp_path: Path):
    path = tmp_path / "bad.yml"
    path.write_text(
        'namespace: demo\nquestions:\n  - {id: a, category: aggregate, question: "x", gold: {metrics: [m]}}\n'
    )
    with pytest.raises(SpecError, match="'today' must be a date"):
        load_questions(path)

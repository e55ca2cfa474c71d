"""The benchmark's oracle and runner on hand-made frames and fake engines: execution match
(multisets, rounding, ordered items), scoring of clarification / unanswerable items, one
conversation per chain, 'today' handed to the engine, and the command line without an engine."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from .match import frame_rows, frames_match, normalise_value, rows_match, rows_of
from .questions_file import Item, load_questions
from .runner import EngineDriver, EngineMissing, load_engine_class, run_chains, score, summarise
from .warehouses import REPO, UNSEEN_MODELS, UNSEEN_QUESTIONS

# ------------------------------------------------------------------------ execution match


def test_numbers_of_any_type_compare_equal_after_rounding():
    same = [3, 3.0, decimal.Decimal("3.00"), np.int64(3), np.float32(3.0)]
    assert len({normalise_value(v) for v in same}) == 1
    assert normalise_value(0.1 + 0.2) == normalise_value(0.3)
    assert normalise_value(1.0000004) == normalise_value(1.0)  # within 1e-6
    assert normalise_value(1.00001) != normalise_value(1.0)  # beyond it
    assert normalise_value(-0.0) == normalise_value(0.0)
    # large float sums: 12 significant digits, so summation-order noise does not count
    assert normalise_value(2045134942.093901) == normalise_value(decimal.Decimal("2045134942.0939"))
    assert normalise_value(2045134942.19) != normalise_value(2045134942.09)
    assert normalise_value(123456.7890004) == normalise_value(123456.789)


def test_booleans_missing_values_and_times():
    assert normalise_value(True) != normalise_value(1)
    assert normalise_value(np.bool_(False)) == normalise_value(False)
    missing = {normalise_value(v) for v in (None, float("nan"), pd.NaT, pd.NA, np.nan)}
    assert len(missing) == 1
    midnight = {
        normalise_value(v)
        for v in (dt.date(2024, 3, 1), dt.datetime(2024, 3, 1), pd.Timestamp("2024-03-01"))
    }
    assert len(midnight) == 1
    assert normalise_value(pd.Timestamp("2024-03-01 10:00")) not in midnight
    assert normalise_value("2024-03-01") not in midnight  # text is not a date
    assert normalise_value("North") == ("text", "North")


def test_rows_are_a_multiset_and_column_names_and_order_do_not_matter():
    want = pd.DataFrame({"region": ["North", "South"], "revenue": [10.0, 20.0]})
    renamed = pd.DataFrame({"Revenue (EUR)": [20.0, 10.0], "Region": ["South", "North"]})
    assert frames_match(renamed, want)
    assert not frames_match(renamed, want, ordered=True)  # rows in another order
    assert frames_match(want.copy(), want, ordered=True)


def test_a_wrong_value_an_extra_column_or_a_missing_row_does_not_match():
    want = pd.DataFrame({"region": ["North", "South"], "revenue": [10.0, 20.0]})
    assert not frames_match(want.assign(revenue=[10.0, 20.1]), want)
    assert not frames_match(want.assign(orders=[1, 2]), want)
    assert not frames_match(want.head(1), want)
    assert not frames_match(want.iloc[0:0], want)


def test_duplicate_rows_count():
    a = [("x", 1), ("x", 1), ("y", 2)]
    b = [("x", 1), ("y", 2), ("y", 2)]
    assert not rows_match(rows_of([list(r) for r in a]), rows_of([list(r) for r in b]))
    assert rows_match(rows_of([list(r) for r in a]), rows_of([list(r) for r in reversed(a)]))


def test_rounding_inside_a_frame():
    got = pd.DataFrame({"share": [1 / 3, 2 / 3]})
    assert rows_match(frame_rows(got), rows_of([[0.3333333], [0.6666667]]))
    assert not rows_match(frame_rows(got), rows_of([[0.3333], [0.6667]]))


def test_expected_rows_from_yaml_values_match_engine_types():
    """Hand-written rows (YAML ints, dates, None) against what a query returns."""
    got = pd.DataFrame(
        {
            "claim": ["C-1", "C-2"],
            "opened": pd.to_datetime(["2019-05-10", "2020-01-15"]),
            "closed": pd.to_datetime(["2019-11-30", None]),
            "paid": [decimal.Decimal("2000.00"), decimal.Decimal("0.00")],
        }
    )
    want = [
        ["C-1", dt.date(2019, 5, 10), dt.date(2019, 11, 30), 2000],
        ["C-2", dt.date(2020, 1, 15), None, 0],
    ]
    assert rows_match(frame_rows(got), rows_of(want))


# -------------------------------------------------------------------------------- scoring


@dataclass
class Ans:
    kind: str
    frame: Any = None
    query: Any = None


def item(**kw) -> Item:
    base = {"id": "x", "question": "q", "language": "en", "category": "aggregate"}
    return Item(**{**base, **kw})


def test_clarification_and_unanswerable_score_only_when_the_engine_says_so():
    clar = item(category="clarification", expect="clarification")
    assert score(clar, Ans("clarification"), None)[0]
    assert not score(clar, Ans("unanswerable"), None)[0]
    ok, _, wrong_number = score(clar, Ans("answer", pd.DataFrame({"x": [1]})), None)
    assert not ok and not wrong_number
    unans = item(category="unanswerable", expect="unanswerable")
    assert score(unans, Ans("unanswerable"), None)[0]
    ok, reason, wrong_number = score(unans, Ans("answer", pd.DataFrame({"x": [1]})), None)
    assert not ok and wrong_number and "unanswerable" in reason
    assert score(unans, Ans("clarification"), None) == (
        False,
        "expected unanswerable, engine gave clarification",
        False,
    )


def test_an_answerable_item_needs_an_answer_with_the_right_rows():
    it = item(gold={"metrics": ["revenue"]})
    want = rows_of([[42.0]])
    assert score(it, Ans("answer", pd.DataFrame({"revenue": [42.0]})), want)[0]
    assert not score(it, Ans("answer", pd.DataFrame({"revenue": [41.0]})), want)[0]
    assert not score(it, Ans("clarification"), want)[0]
    assert not score(it, Ans("answer", None), want)[0]
    import pyarrow as pa

    assert score(it, Ans("answer", pa.table({"revenue": [42.0]})), want)[0]  # Arrow results


# ---------------------------------------------------------------- conversations and 'today'


class RecordingEngine:
    """Answers 1 per question and records (conversation number, question, today)."""

    log: list = []

    def __init__(self, wb, namespace=None, today=None):
        self.today, self.n = today, 0

    def conversation(self):
        self.n += 1
        return RecordingConversation(self, self.n)


class RecordingConversation:
    def __init__(self, engine, n):
        self.engine, self.n = engine, n

    def ask(self, question, language=None):
        RecordingEngine.log.append((self.n, question, self.engine.today))
        if question == "boom":
            raise RuntimeError("engine crashed")
        return Ans("answer", pd.DataFrame({"v": [1]}))


class AskTakesToday:
    def __init__(self, wb, namespace=None):
        self.seen: list = []

    def conversation(self):
        return self

    def ask(self, question, language=None, today=None):
        self.seen.append(today)
        return Ans("unanswerable")


def _set(tmp_path: Path, body: str):
    path = tmp_path / "q.yml"
    path.write_text("namespace: demo\ntoday: 2024-12-31\nlanguage: en\nquestions:\n" + body)
    return load_questions(path)


CHAINS = """\
  - {id: a, category: aggregate, question: "first", expected_rows: [[1]]}
  - {id: b, category: follow-up, follow_up_of: a, question: "second", expected_rows: [[1]]}
  - {id: c, category: aggregate, question: "boom", expected_rows: [[1]]}
  - {id: d, category: follow-up, follow_up_of: b, question: "third", expected_rows: [[2]]}
"""


def test_one_conversation_per_chain_in_order_and_crashes_are_wrong_answers(tmp_path):
    qs = _set(tmp_path, CHAINS)
    RecordingEngine.log = []
    driver = EngineDriver(RecordingEngine, None, qs.namespace, qs.today)
    wants = {i.id: rows_of(i.expected_rows) for i in qs.items}
    outcomes = run_chains(driver, qs.chains(), wants)
    assert [(n, q) for n, q, _ in RecordingEngine.log] == [
        (1, "first"),
        (1, "second"),
        (1, "third"),
        (2, "boom"),
    ]
    assert driver.today_passed == "engine"
    assert {t for _, _, t in RecordingEngine.log} == {dt.date(2024, 12, 31)}
    by_id = {o.item.id: o for o in outcomes}
    assert by_id["a"].correct and by_id["b"].correct
    assert not by_id["d"].correct  # the engine said 1, the gold 2
    assert by_id["c"].kind == "error" and "engine crashed" in by_id["c"].reason
    fig = summarise(outcomes)
    assert fig["accuracy"] == 0.5 and fig["errors"] == 1 and fig["questions"] == 4


def test_today_goes_to_ask_when_the_constructor_does_not_take_it(tmp_path):
    qs = _set(
        tmp_path, '  - {id: a, category: unanswerable, expect: unanswerable, question: "x"}\n'
    )
    driver = EngineDriver(AskTakesToday, None, qs.namespace, qs.today)
    outcomes = run_chains(driver, qs.chains(), {"a": None})
    assert driver.today_passed == "ask" and driver.engine.seen == [dt.date(2024, 12, 31)]
    assert outcomes[0].correct


def test_a_missing_engine_is_a_clear_error():
    with pytest.raises(EngineMissing, match="not available"):
        load_engine_class("no_such_module_for_nlq:NLQEngine")


# --------------------------------------------------------------------------- command line


def _bench(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "nlq.py"), *args, "--no-write"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_the_benchmark_without_an_engine_fails_with_a_message_not_a_traceback():
    run = _bench("--engine", "no_such_module_for_nlq:NLQEngine")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "not available" in run.stderr
    last = json.loads(run.stdout.strip().splitlines()[-1])
    assert last["accuracy"] is None and "not available" in last["error"]


def test_the_benchmark_on_another_model_with_a_perfect_engine(nlq_warehouses):
    """--models-dir/--warehouse/--questions on the unseen model, with an engine that knows the
    answers: every figure the issue asks for is in the final line, and accuracy is 1.0."""
    run = _bench(
        "--engine",
        "tests.nlq.oracle_engine:OracleEngine",
        "--models-dir",
        str(UNSEEN_MODELS),
        "--warehouse",
        str(nlq_warehouses["insurance"]),
        "--namespace",
        "insurance",
        "--questions",
        str(UNSEEN_QUESTIONS),
        env={"NLQ_ORACLE_QUESTIONS": str(UNSEEN_QUESTIONS)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    fig = json.loads(run.stdout.strip().splitlines()[-1])
    for key in (
        "accuracy",
        "accuracy_by_category",
        "accuracy_by_language",
        "p50_ms",
        "p95_ms",
        "questions",
        "wrong_number_answers",
        "cold_p95_ms",
        "ratio_vs_baseline",
    ):
        assert key in fig, key
    assert fig["accuracy"] == 1.0 and fig["wrong_number_answers"] == 0
    assert fig["questions"] == len(load_questions(UNSEEN_QUESTIONS).items)
    assert set(fig["accuracy_by_language"]) == {"en", "de", "es"}
    assert fig["baseline"]["accuracy"] < 0.5  # the keyword baseline is far from it

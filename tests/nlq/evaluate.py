"""One question set through the engine (and the baseline): gold rows, cold pass, warm pass.

Used by benchmarks/nlq.py and tests/nlq/test_accuracy.py, so the test asserts exactly the
figures the benchmark reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import WorkbenchError

from .baseline import KeywordBaseline
from .questions_file import Item, QuestionSet
from .runner import EngineDriver, Outcome, gold_rows, run_chains, time_chains
from .warehouses import connect


class GoldError(WorkbenchError):
    """A gold query of a question file does not run: a bug in the file, named by id."""


@dataclass
class SetRun:
    qs: QuestionSet
    outcomes: list[Outcome]
    cold_ms: list[float]
    warm_ms: list[float]
    baseline: list[Outcome] = field(default_factory=list)
    today_passed: str = "none"
    build_ms: float = 0.0


def expected(wb, qs: QuestionSet, items: list[Item] | None = None) -> dict[str, list[tuple] | None]:
    """Each item's expected rows (gold run now, or expected_rows); GoldError on a bad gold."""
    wants: dict[str, list[tuple] | None] = {}
    for item in qs.items if items is None else items:
        try:
            wants[item.id] = gold_rows(wb, qs, item)
        except Exception as e:  # any failure of a gold is the file's bug, reported by id
            raise GoldError(
                f"{qs.path}: the gold of {item.id} ({item.question!r}) does not run: {e}"
            ) from None
    return wants


def sample(chains: list[list[Item]], every: int) -> list[list[Item]]:
    """Every ``every``-th conversation (whole chains, so follow-ups keep their context)."""
    return chains[::every] if every > 1 else chains


def evaluate_set(
    engine_cls: type | None,
    qs: QuestionSet,
    warehouse: Path,
    models_dir: Path,
    every: int = 1,
    warm: bool = True,
    baseline: bool = True,
    pass_language: bool = False,
) -> SetRun:
    """Score ``engine_cls`` on ``qs``; ``engine_cls=None`` runs the baseline only."""
    gold_wb = connect(warehouse, models_dir, cache="none")
    try:
        chains = sample(qs.chains(), every)
        wants = expected(gold_wb, qs, [item for chain in chains for item in chain])
        base: list[Outcome] = []
        if baseline:
            bdriver = EngineDriver(KeywordBaseline, gold_wb, qs.namespace, qs.today)
            base = run_chains(bdriver, chains, wants)
    finally:
        gold_wb.close()
    if engine_cls is None:
        return SetRun(qs, [], [], [], base)
    wb = connect(warehouse, models_dir, cache="memory")
    try:
        driver = EngineDriver(engine_cls, wb, qs.namespace, qs.today)
        outcomes = run_chains(driver, chains, wants, pass_language)
        cold = [o.ms for o in outcomes]
        warm_ms = time_chains(driver, chains, pass_language) if warm else []
        return SetRun(qs, outcomes, cold, warm_ms, base, driver.today_passed, driver.build_ms)
    finally:
        wb.close()

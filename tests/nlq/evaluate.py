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


def grouped(
    sets: list[tuple[QuestionSet, Path, Path]],
) -> list[tuple[Path, Path, list[QuestionSet]]]:
    """(warehouse, models dir, sets) per warehouse, namespace and 'today', in first-seen order:
    the sets one engine can answer, so it is built once for them."""
    groups: dict[tuple, tuple[Path, Path, list[QuestionSet]]] = {}
    for qs, wh, models in sets:
        key = (str(wh), str(models), qs.namespace, qs.today)
        groups.setdefault(key, (wh, models, []))[2].append(qs)
    return list(groups.values())


def evaluate_sets(
    engine_cls: type | None,
    sets: list[QuestionSet],
    warehouse: Path,
    models_dir: Path,
    every: int = 1,
    warm: bool = True,
    baseline: bool = True,
    pass_language: bool = False,
) -> list[SetRun]:
    """Score ``engine_cls`` on question sets of one namespace and 'today' (one engine and one
    session for all of them: the engine is built once); ``engine_cls=None`` runs the baseline
    only."""
    if len({(qs.namespace, qs.today) for qs in sets}) > 1:
        raise ValueError("evaluate_sets takes sets of one namespace and one 'today'")
    ns, today = sets[0].namespace, sets[0].today
    gold_wb = connect(warehouse, models_dir, cache="none")
    try:
        chains = {id(qs): sample(qs.chains(), every) for qs in sets}
        wants = {}
        for qs in sets:
            wants.update(expected(gold_wb, qs, [i for chain in chains[id(qs)] for i in chain]))
        base: dict[int, list[Outcome]] = {id(qs): [] for qs in sets}
        if baseline:
            bdriver = EngineDriver(KeywordBaseline, gold_wb, ns, today)
            for qs in sets:
                base[id(qs)] = run_chains(bdriver, chains[id(qs)], wants)
    finally:
        gold_wb.close()
    if engine_cls is None:
        return [SetRun(qs, [], [], [], base[id(qs)]) for qs in sets]
    wb = connect(warehouse, models_dir, cache="memory")
    try:
        driver = EngineDriver(engine_cls, wb, ns, today)
        runs = []
        for qs in sets:
            outcomes = run_chains(driver, chains[id(qs)], wants, pass_language)
            warm_ms = time_chains(driver, chains[id(qs)], pass_language) if warm else []
            build_ms = driver.build_ms if not runs else 0.0
            runs.append(
                SetRun(
                    qs,
                    outcomes,
                    [o.ms for o in outcomes],
                    warm_ms,
                    base[id(qs)],
                    driver.today_passed,
                    build_ms,
                )
            )
        return runs
    finally:
        wb.close()

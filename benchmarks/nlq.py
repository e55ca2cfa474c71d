"""NLQ accuracy and latency: the offline engine (workbench.nlq) on question sets with golds.

    python benchmarks/nlq.py            # every shipped set (tests/nlq/questions) + the unseen model
    python benchmarks/nlq.py --quick    # every fourth conversation of each set (< 60 s)
    python benchmarks/nlq.py --models-dir DIR --warehouse FILE --namespace NS --questions FILE.yml

Each question is asked through the engine's public contract (``NLQEngine(wb, namespace=...)``,
``engine.conversation().ask(question)``), one conversation per follow-up chain, and its answer
is compared with the gold by execution match (tests/nlq/match.py: rows as multisets of values
rounded to 1e-6). Clarification and unanswerable items are right only when the engine says so;
an unanswerable item answered with a number is a wrong-number answer. Latency: ``cold`` is each
question's first ask on a fresh engine and session (empty caches), ``warm`` the same questions
asked again (p50/p95 in the final line are warm). The baseline, run side by side, is a
bag-of-words catalog matcher (tests/nlq/baseline.py); ``ratio_vs_baseline`` is the engine's
accuracy over the baseline's. Format of the question files and the goals: docs/nlq.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _common import RESULTS_DIR, emit_final, write_results  # noqa: E402

from tests.nlq.evaluate import GoldError, SetRun, evaluate_sets, grouped  # noqa: E402
from tests.nlq.questions_file import load_questions, question_files  # noqa: E402
from tests.nlq.report import GOALS, failures, figures, goals_met  # noqa: E402
from tests.nlq.runner import EngineMissing, load_engine_class  # noqa: E402
from tests.nlq.warehouses import (  # noqa: E402
    MODELS_DIRS,
    QUESTIONS_DIR,
    UNSEEN_QUESTIONS,
    build,
)
from workbench.errors import WorkbenchError  # noqa: E402

QUICK_EVERY = 4  # --quick: every fourth conversation of each set


def _fail(message: str) -> int:
    """The contract's final JSON line, with the reason, and exit code 2 (no traceback)."""
    print(f"nlq benchmark: {message}", file=sys.stderr)
    emit_final({"error": message, "accuracy": None})
    return 2


def _pooled(runs: list[SetRun]) -> dict:
    outcomes = [o for r in runs for o in r.outcomes]
    cold = [t for r in runs for t in r.cold_ms]
    warm = [t for r in runs for t in r.warm_ms]
    return figures(outcomes, cold, warm)


def _baseline(runs: list[SetRun]) -> dict:
    outcomes = [o for r in runs for o in r.baseline]
    fig = figures(outcomes, [], [])
    keep = ("accuracy", "execution_accuracy", "detection_accuracy", "accuracy_by_category")
    return {"name": "keyword", **{k: fig[k] for k in keep}, "questions": len(outcomes)}


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def _previous(area: str) -> float | None:
    path = RESULTS_DIR / f"{area}.json"
    try:
        return json.loads(path.read_text()).get("accuracy")
    except (OSError, ValueError):
        return None


def _name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO / "tests" / "nlq"))
    except ValueError:
        return str(path)


def _print_set(run: SetRun) -> None:
    fig = figures(run.outcomes, run.cold_ms, run.warm_ms)
    base = figures(run.baseline, [], [])["accuracy"] if run.baseline else None
    print(
        f"  {_name(run.qs.path):<28} {fig['questions']:>4} questions  accuracy {fig['accuracy']}"
        f"  (baseline {base})  warm p95 {fig['p95_ms']} ms  cold p95 {fig['cold_p95_ms']} ms"
        f"  today: {run.today_passed}",
        flush=True,
    )


def _sets(args) -> list[tuple[Path, Path, Path, str | None]]:
    """(question file, warehouse, models dir, namespace override) for each set to run."""
    if args.questions:
        for flag in ("models_dir", "warehouse"):
            if getattr(args, flag) is None:
                raise SystemExit(_fail(f"--questions needs --{flag.replace('_', '-')} too"))
        wh = Path(args.warehouse)
        if not wh.exists():
            raise SystemExit(_fail(f"--warehouse {wh} does not exist"))
        return [(Path(args.questions), wh, Path(args.models_dir), args.namespace)]
    tmp = Path(tempfile.mkdtemp(prefix="nlq-bench-"))
    files = question_files(QUESTIONS_DIR) + ([] if args.no_unseen else [UNSEEN_QUESTIONS])
    built: dict[str, Path] = {}
    out = []
    for path in files:
        ns = load_questions(path).namespace
        if ns not in built:
            built[ns] = build(ns, tmp)
        out.append((path, built[ns], MODELS_DIRS[ns], None))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every fourth conversation (< 60 s)")
    parser.add_argument("--questions", help="one question file (docs/nlq.md, 'Question files')")
    parser.add_argument("--models-dir", help="semantic models folder for --questions")
    parser.add_argument("--warehouse", help="DuckDB warehouse file for --questions")
    parser.add_argument("--namespace", help="namespace (default: the file's 'namespace')")
    parser.add_argument("--no-unseen", action="store_true", help="skip the unseen insurance set")
    parser.add_argument("--no-baseline", action="store_true", help="skip the keyword baseline")
    parser.add_argument(
        "--pass-language",
        action="store_true",
        help="give the engine each item's language (default: the engine detects it)",
    )
    parser.add_argument(
        "--engine",
        default=None,
        help="engine class as module:Class (default workbench.nlq:NLQEngine)",
    )
    parser.add_argument("--failures", type=int, default=15, help="wrong answers to list")
    parser.add_argument("--no-write", action="store_true", help="do not write benchmarks/results")
    args = parser.parse_args(argv)
    load = os.getloadavg()
    start = time.perf_counter()
    try:
        engine_cls = load_engine_class(args.engine)
    except EngineMissing as e:
        return _fail(str(e))
    try:
        sets = _sets(args)
        runs: list[SetRun] = []
        print(
            f"NLQ benchmark ({'quick' if args.quick else 'full'}), load {load[0]:.1f}", flush=True
        )
        loaded = [(load_questions(path, ns), wh, models) for path, wh, models, ns in sets]
        for wh, models, group in grouped(loaded):
            done = evaluate_sets(
                engine_cls,
                group,
                Path(wh),
                Path(models),
                every=QUICK_EVERY if args.quick else 1,
                baseline=not args.no_baseline,
                pass_language=args.pass_language,
            )
            for run in done:
                _print_set(run)
            runs += done
    except (GoldError, WorkbenchError) as e:
        return _fail(str(e))
    except Exception as e:  # the engine failed to start on a model: say so, without a traceback
        return _fail(f"{type(e).__name__}: {e}")
    custom = bool(args.questions)
    shipped = runs if custom else [r for r in runs if r.qs.path.parent == QUESTIONS_DIR]
    unseen = [] if custom else [r for r in runs if r.qs.path == UNSEEN_QUESTIONS]
    fig = _pooled(shipped)
    area = f"nlq_{runs[0].qs.namespace}" if custom else "nlq"
    area += "_quick" if args.quick else ""
    result = {
        **fig,
        "goals": GOALS,
        "goals_met": goals_met(fig),
        "sets": {_name(r.qs.path): figures(r.outcomes, [], [])["accuracy"] for r in runs},
        "today_passed": sorted({r.today_passed for r in runs}),
        "engine_build_ms": round(sum(r.build_ms for r in runs), 1),
        "quick": args.quick,
        "load_average": [round(x, 2) for x in load],
        "seconds": round(time.perf_counter() - start, 1),
    }
    if unseen:
        u = _pooled(unseen)
        keep = (
            "accuracy",
            "execution_accuracy",
            "detection_accuracy",
            "accuracy_by_category",
            "questions",
            "wrong_number_answers",
        )
        result["unseen"] = {k: u[k] for k in keep}
    if not args.no_baseline:
        result["baseline"] = _baseline(shipped)
        result["ratio_vs_baseline"] = _ratio(fig["accuracy"], result["baseline"]["accuracy"])
    previous = _previous(area)
    if previous is not None:
        result["previous_accuracy"] = previous
        result["ratio_vs_previous"] = _ratio(fig["accuracy"], previous)
    result["wrong_ids"] = [o.item.id for r in runs for o in r.outcomes if not o.correct]
    wrong = failures([o for r in runs for o in r.outcomes], args.failures)
    if wrong:
        print(f"first {len(wrong)} wrong answers:")
        for line in wrong:
            print("  " + line)
    print(
        f"accuracy {fig['accuracy']}  by language {fig['accuracy_by_language']}  "
        f"wrong-number answers {fig['wrong_number_answers']}  warm p50/p95 "
        f"{fig['p50_ms']}/{fig['p95_ms']} ms  cold p50/p95 {fig['cold_p50_ms']}/{fig['cold_p95_ms']} ms"
    )
    if not args.no_write:
        print(f"wrote {write_results(area, result)}")
    emit_final(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

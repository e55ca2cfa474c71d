"""NAB benchmark: score a detector on a NAB-style corpus with NAB's published scoring.

    python benchmarks/nab.py [--detector NAME] [--params JSON] [--baseline NAME] [--quick] [--data DIR]

Runs the chosen detector (default ``sequence_novelty``) and a baseline (default ``nab``, the
calibrated ensemble that was the default before) over every series, optimises one threshold
per profile over the whole corpus -- in-sample, as NAB's own scoreboard does -- prints
normalised scores overall and per category, writes ``benchmarks/results/nab.json`` and ends
with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a clone, uninstalled

from benchmarks._common import REPO_ROOT, emit_final, shared_dir, write_results  # noqa: E402
from workbench.anomaly.detectors import create, get_detector_class  # noqa: E402
from workbench.anomaly.nab_corpus import NabSeries, corpus_profiles, load_corpus  # noqa: E402
from workbench.anomaly.nab_scoring import probationary_length, score_corpus  # noqa: E402

DEFAULT_DETECTOR = "sequence_novelty"
BASELINE_DETECTOR = "nab"  # the previous default (calibrated ensemble), for the side-by-side ratio
# --quick: a fixed, label-blind subset (the first series of each category by name, two for
# the small ones), about a sixth of the corpus.
QUICK_PER_CATEGORY = {"realTweets": 1, "realAWSCloudwatch": 3}
QUICK_DEFAULT_PER_CATEGORY = 2


def default_data_dir() -> Path:
    return shared_dir("benchmarks", "nab")


def quick_subset(root: Path) -> list[str]:
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    by_cat: dict[str, list[str]] = {}
    for name in sorted(windows):
        by_cat.setdefault(name.split("/")[0], []).append(name)
    chosen = []
    for cat, names in sorted(by_cat.items()):
        chosen += names[: QUICK_PER_CATEGORY.get(cat, QUICK_DEFAULT_PER_CATEGORY)]
    return chosen


def run_detector(job: tuple[str, dict, NabSeries]) -> tuple[str, np.ndarray, float]:
    """Score one series with a fresh detector (worker-process entry point)."""
    name, params, series = job
    params = dict(params)
    if "probation" in get_detector_class(name).Params.model_fields and "probation" not in params:
        # NAB hands every detector the probationary length of the file it is scoring.
        params["probation"] = probationary_length(len(series.values))
    detector = create(name, **params)
    seconds = series.timestamps.astype("datetime64[ns]").astype(np.int64) / 1e9
    start = time.perf_counter()
    scores = detector.score_series(series.values, seconds)
    return series.name, scores, time.perf_counter() - start


def score_all(name: str, params: dict, corpus: list[NabSeries], workers: int, label: str) -> tuple[list[np.ndarray], float]:
    from rich.progress import Progress

    jobs = [(name, params, s) for s in corpus]
    # Longest first keeps both workers busy until the end.
    order = sorted(range(len(jobs)), key=lambda i: -len(corpus[i].values))
    results: dict[str, np.ndarray] = {}
    cpu = 0.0
    with Progress(transient=True) as progress:
        task = progress.add_task(f"{label}: {name}", total=len(jobs))
        if workers > 1:
            with ProcessPoolExecutor(workers) as pool:
                for sname, scores, secs in pool.map(run_detector, [jobs[i] for i in order]):
                    results[sname], cpu = scores, cpu + secs
                    progress.advance(task)
        else:
            for i in order:
                sname, scores, secs = run_detector(jobs[i])
                results[sname], cpu = scores, cpu + secs
                progress.advance(task)
    return [results[s.name] for s in corpus], cpu


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--detector", default=DEFAULT_DETECTOR, help="registered detector name")
    ap.add_argument("--params", default="{}", help="JSON object of detector parameters")
    ap.add_argument("--quick", action="store_true", help="fixed subset, < 60 s on 2 cores")
    ap.add_argument("--data", type=Path, default=None, help="NAB-style folder (default ../shared/benchmarks/nab)")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--baseline", default=BASELINE_DETECTOR, help="registered detector run alongside for the ratio")
    ap.add_argument("--no-baseline", action="store_true", help="skip the baseline detector run")
    ap.add_argument("--no-write", action="store_true", help="do not write results/nab.json")
    args = ap.parse_args(argv)

    root = (args.data or default_data_dir()).resolve()
    if not (root / "labels" / "combined_windows.json").is_file():
        ap.error(f"no NAB data at {root} (expected data/, labels/, config/); pass --data DIR")
    params = json.loads(args.params)
    started = time.perf_counter()
    corpus = load_corpus(root, quick_subset(root) if args.quick else None)
    prepared = [s.prepare() for s in corpus]
    profiles = corpus_profiles(root)
    n_points = sum(len(s.values) for s in corpus)
    n_windows = sum(p.n_windows for p in prepared)
    print(f"NAB data: {root}  series={len(corpus)} points={n_points} windows={n_windows}"
          f"{'  (quick subset)' if args.quick else ''}")

    scores, det_cpu = score_all(args.detector, params, corpus, args.workers, "detector")
    results = score_corpus(prepared, scores, profiles)
    baseline = None
    if not args.no_baseline:
        base_scores, _ = score_all(args.baseline, {}, corpus, args.workers, "baseline")
        baseline = score_corpus(prepared, base_scores, profiles)
    seconds = time.perf_counter() - started

    print(f"\ndetector {args.detector} {params or ''}")
    for name, r in results.items():
        line = (f"  {name:<20} {r.normalised:6.1f}   threshold={r.threshold:.4f} "
                f"TP={r.tp} FN={r.fn} FP={r.fp}")
        if baseline:
            line += f"   baseline {args.baseline}={baseline[name].normalised:.1f}"
        print(line)
    cats = list(results["standard"].per_category)
    print("\nper category (normalised; raw score where a category has no windows):")
    print(f"  {'category':<24}" + "".join(f"{p:>20}" for p in results))
    for cat in cats:
        cells = []
        for r in results.values():
            v = r.per_category[cat]
            cells.append(f"{v:20.1f}" if v is not None else f"{'raw ' + format(r.per_category_raw[cat], '.2f'):>20}")
        print(f"  {cat:<24}" + "".join(cells))
    print(f"\n{seconds:.1f} s wall, {det_cpu:.1f} s detector time")

    figures: dict = {name: round(r.normalised, 2) for name, r in results.items()}
    figures.update(
        detector=args.detector,
        params=params,
        quick=args.quick,
        series=len(corpus),
        points=n_points,
        windows=n_windows,
        per_category={
            name: {c: (None if v is None else round(v, 2)) for c, v in r.per_category.items()}
            for name, r in results.items()
        },
        per_category_raw={name: {c: round(v, 3) for c, v in r.per_category_raw.items()} for name, r in results.items()},
        thresholds={name: r.threshold for name, r in results.items()},
        counts={name: {"tp": r.tp, "fn": r.fn, "fp": r.fp} for name, r in results.items()},
        null_detector={name: 0.0 for name in results},  # normalisation pins the null detector at 0
        seconds=round(seconds, 2),
        detector_seconds=round(det_cpu, 2),
        data=str(root),
    )
    if baseline:
        figures["baseline"] = {
            "detector": args.baseline,
            **{name: round(r.normalised, 2) for name, r in baseline.items()},
        }
        figures["ratio_vs_baseline"] = {
            name: (round(results[name].normalised / b.normalised, 3) if b.normalised > 0 else None)
            for name, b in baseline.items()
        }
    if not args.no_write:
        path = write_results("nab" if not args.quick else "nab_quick", figures)
        print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    emit_final(figures)
    return figures


if __name__ == "__main__":
    main()

"""NAB benchmark: score a detector on a NAB-style corpus with NAB's published scoring.

    python benchmarks/nab.py [--detector NAME] [--params JSON] [--baseline NAME] [--quick] [--data DIR]
                             [--cv loco [--grid JSON]]

Runs the chosen detector (default ``sequence_novelty``) and a baseline (default ``nab``, the
calibrated ensemble that was the default before) over every series, optimises one threshold
per profile over the whole corpus -- in-sample, as NAB's own scoreboard does -- prints
normalised scores overall and per category, writes ``benchmarks/results/nab.json`` and ends
with one JSON line.

``--cv loco`` adds the out-of-sample figures: for each category, the setting (from the
detector's ``tuning_grid``, or ``--grid``) and the thresholds are chosen on the other
categories only, and the held-out category is scored with them (workbench/anomaly/nab_cv.py).
Results go to ``nab_cv.json`` (``nab_cv_quick.json``).
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
from workbench.anomaly.nab_cv import detection_figures, leave_one_category_out, loco_summary  # noqa: E402
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


def epoch_seconds(series: NabSeries) -> np.ndarray:
    return series.timestamps.astype("datetime64[ns]").astype(np.int64) / 1e9


def run_detector(job: tuple[str, dict, NabSeries]) -> tuple[str, np.ndarray, float]:
    """Score one series with a fresh detector (worker-process entry point)."""
    name, params, series = job
    params = dict(params)
    if "probation" in get_detector_class(name).Params.model_fields and "probation" not in params:
        # NAB hands every detector the probationary length of the file it is scoring.
        params["probation"] = probationary_length(len(series.values))
    detector = create(name, **params)
    seconds = epoch_seconds(series)
    start = time.perf_counter()
    scores = detector.score_series(series.values, seconds)
    return series.name, scores, time.perf_counter() - start


def score_all(
    name: str, params: dict, corpus: list[NabSeries], workers: int, label: str
) -> tuple[list[np.ndarray], float]:
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
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--detector", default=DEFAULT_DETECTOR, help="registered detector name")
    ap.add_argument("--params", default="{}", help="JSON object of detector parameters")
    ap.add_argument("--quick", action="store_true", help="fixed subset, < 60 s on 2 cores")
    ap.add_argument(
        "--data",
        type=Path,
        default=None,
        help="NAB-style folder (default ../shared/benchmarks/nab)",
    )
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument(
        "--baseline",
        default=BASELINE_DETECTOR,
        help="registered detector run alongside for the ratio",
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the baseline detector run")
    ap.add_argument("--no-write", action="store_true", help="do not write results/nab.json")
    ap.add_argument(
        "--cv",
        choices=["loco"],
        default=None,
        help="also report out-of-sample scores: 'loco' = leave one category out",
    )
    ap.add_argument(
        "--grid",
        default=None,
        help="with --cv: JSON list of parameter overrides (default: the detector's tuning_grid)",
    )
    args = ap.parse_args(argv)

    root = (args.data or default_data_dir()).resolve()
    if not (root / "labels" / "combined_windows.json").is_file():
        ap.error(f"no NAB data at {root} (expected data/, labels/, config/); pass --data DIR")
    params = parse_json_arg(ap, "--params", args.params, dict)
    grid = None
    if args.cv:
        grid = (
            parse_json_arg(ap, "--grid", args.grid, list)
            if args.grid is not None
            else [dict(g) for g in get_detector_class(args.detector).tuning_grid]
        )
        if not grid or not all(isinstance(g, dict) for g in grid):
            ap.error("--grid must be a non-empty JSON list of objects, e.g. '[{}, {\"bins\": 8}]'")
    elif args.grid is not None:
        ap.error("--grid needs --cv")
    check_settings(ap, args.detector, params, grid or [{}])
    if not args.no_baseline:
        check_settings(ap, args.baseline, {}, [{}], "--baseline")
    started = time.perf_counter()
    corpus = load_corpus(root, quick_subset(root) if args.quick else None)
    if args.cv and len({s.category for s in corpus}) < 2:
        ap.error(
            f"--cv {args.cv}: leave-one-category-out needs at least two categories "
            f"(data/<category>/<series>.csv) in {root}"
        )
    prepared = [s.prepare() for s in corpus]
    profiles = corpus_profiles(root)
    n_points = sum(len(s.values) for s in corpus)
    n_windows = sum(p.n_windows for p in prepared)
    print(
        f"NAB data: {root}  series={len(corpus)} points={n_points} windows={n_windows}"
        f"{'  (quick subset)' if args.quick else ''}"
    )

    seconds_of = [epoch_seconds(s) for s in corpus]
    settings = grid if grid is not None else [{}]
    scores_by_setting, det_cpu = [], 0.0
    for g, overrides in enumerate(settings):
        label = "detector" if len(settings) == 1 else f"setting {g + 1}/{len(settings)}"
        sc, cpu = score_all(args.detector, {**params, **overrides}, corpus, args.workers, label)
        scores_by_setting.append(sc)
        det_cpu += cpu
    # In-sample figures are those of the first setting: the defaults (plus --params).
    scores = scores_by_setting[0]
    results = score_corpus(prepared, scores, profiles)
    in_figures = {
        name: detection_figures(prepared, scores, profiles[name], r.threshold, seconds_of)
        for name, r in results.items()
    }
    loco = None
    if args.cv:
        try:
            loco = {
                name: leave_one_category_out(prepared, scores_by_setting, grid, prof, seconds_of)
                for name, prof in profiles.items()
            }
        except ValueError as e:
            ap.error(f"--cv {args.cv}: {e}")
    baseline = None
    if not args.no_baseline:
        base_scores, _ = score_all(args.baseline, {}, corpus, args.workers, "baseline")
        baseline = score_corpus(prepared, base_scores, profiles)
    seconds = time.perf_counter() - started

    print(f"\ndetector {args.detector} {params or ''}")
    for name, r in results.items():
        line = (
            f"  {name:<20} {r.normalised:6.1f}   threshold={r.threshold:.4f} "
            f"TP={r.tp} FN={r.fn} FP={r.fp}"
        )
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
            cells.append(
                f"{v:20.1f}"
                if v is not None
                else f"{'raw ' + format(r.per_category_raw[cat], '.2f'):>20}"
            )
        print(f"  {cat:<24}" + "".join(cells))
    std = in_figures.get("standard") or next(iter(in_figures.values()))
    print(
        f"\nin-sample, standard threshold: detection accuracy {fmt(std.detection_accuracy)} "
        f"({std.detected}/{std.windows} windows), false alarms {std.false_alarms}: "
        f"{fmt(std.false_alarms_per_1000_points)} per 1,000 points, "
        f"{fmt(std.false_alarms_per_series_day)} per series-day"
    )
    loco_out = None
    if loco:
        loco_out = {
            name: {
                "summary": loco_summary(folds, prepared, profiles[name]),
                "folds": [f.as_dict() for f in folds],
            }
            for name, folds in loco.items()
        }
        print_loco(loco, loco_out, results, grid)
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
        per_category_raw={
            name: {c: round(v, 3) for c, v in r.per_category_raw.items()}
            for name, r in results.items()
        },
        thresholds={name: r.threshold for name, r in results.items()},
        detection={name: f.as_dict() for name, f in in_figures.items()},
        detection_accuracy=std.as_dict()["detection_accuracy"],
        false_alarms_per_1000_points=std.as_dict()["false_alarms_per_1000_points"],
        false_alarms_per_series_day=std.as_dict()["false_alarms_per_series_day"],
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
    if loco_out:
        in_cats = (
            [v for v in results["standard"].per_category.values() if v is not None]
            if "standard" in results
            else []
        )
        figures.update(
            cv=args.cv,
            grid=grid,
            in_sample_standard=figures.get("standard"),
            in_sample_category_mean_standard=round(float(np.mean(in_cats)), 2) if in_cats else None,
            loco_standard_mean=loco_out.get("standard", {}).get("summary", {}).get("mean"),
            loco_standard_pooled=loco_out.get("standard", {}).get("summary", {}).get("pooled"),
            loco_per_category=loco_out.get("standard", {}).get("summary", {}).get("per_category"),
            loco_detection=loco_out.get("standard", {}).get("summary", {}).get("figures"),
            loco=loco_out,
        )
    if not args.no_write:
        area = "nab_cv" if args.cv else "nab"
        path = write_results(area if not args.quick else f"{area}_quick", figures)
        print(f"wrote {path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path}")
    emit_final(figures)
    return figures


def parse_json_arg(ap: argparse.ArgumentParser, flag: str, text: str, kind: type):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        ap.error(f"{flag}: not valid JSON ({e.msg} at character {e.pos}): {text!r}")
    if not isinstance(value, kind):
        ap.error(f"{flag}: expected a JSON {'object' if kind is dict else 'list'}, got {text!r}")
    return value


def check_settings(
    ap: argparse.ArgumentParser, name: str, params: dict, grid: list[dict], flag: str = "--detector"
) -> None:
    """Refuse an unknown detector or knob here, by name, not as a traceback from a worker process."""
    from pydantic import ValidationError

    try:
        cls = get_detector_class(name)
    except KeyError as e:
        ap.error(f"{flag}: {e.args[0]}")
    for overrides in grid:
        try:
            cls.Params(**{**params, **overrides})
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            ap.error(
                f"{name} parameters {json.dumps({**params, **overrides})}: {where}: {err['msg']}"
            )


def fmt(x: float | None, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def print_loco(loco: dict, loco_out: dict, results: dict, grid: list[dict]) -> None:
    """Per category: in-sample score beside the held-out score and what was chosen without it."""
    print("\nleave-one-category-out (setting and threshold chosen on the other categories):")
    for name, folds in loco.items():
        summary = loco_out[name]["summary"]
        in_cat = results[name].per_category
        print(f"  {name}")
        print(
            f"    {'category':<24}{'in-sample':>10}{'held-out':>10}  {'accuracy':>9}{'FA/1k pts':>10}"
            f"{'FA/day':>8}  setting (threshold)"
        )
        for f in folds:
            ins = "n/a" if in_cat[f.category] is None else f"{in_cat[f.category]:.1f}"
            out = f"raw {f.raw:.2f}" if f.normalised is None else f"{f.normalised:.1f}"
            fig = f.figures
            print(
                f"    {f.category:<24}{ins:>10}{out:>10}  {fmt(fig.detection_accuracy, 2):>9}"
                f"{fmt(fig.false_alarms_per_1000_points, 2):>10}{fmt(fig.false_alarms_per_series_day, 2):>8}"
                f"  {json.dumps(grid[f.setting])} ({f.threshold:.4f})"
            )
        in_vals = [v for v in in_cat.values() if v is not None]
        print(
            f"    {'mean of categories':<24}{np.mean(in_vals) if in_vals else float('nan'):>10.1f}"
            f"{summary['mean'] if summary['mean'] is not None else float('nan'):>10.1f}"
        )
        print(
            f"    {'corpus (pooled)':<24}{results[name].normalised:>10.1f}{summary['pooled']:>10.1f}  "
            f"{fmt(summary['figures']['detection_accuracy'], 2):>9}"
            f"{fmt(summary['figures']['false_alarms_per_1000_points'], 2):>10}"
            f"{fmt(summary['figures']['false_alarms_per_series_day'], 2):>8}"
        )


if __name__ == "__main__":
    main()

"""The NAB runner on a tiny synthetic corpus laid out like NAB (never the shared NAB data)."""

import json

import numpy as np

from tests.support.nab_corpus import REPO, load_module, make_corpus


def test_runner_scores_a_nab_style_folder(tmp_path, capsys):
    make_corpus(tmp_path)
    nab = load_module("nab_benchmark", REPO / "benchmarks" / "nab.py")
    figures = nab.main(
        [
            "--data",
            str(tmp_path),
            "--detector",
            "robust_zscore",
            "--baseline",
            "robust_zscore",
            "--workers",
            "1",
            "--no-write",
        ]
    )
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(json.dumps(figures))
    # Two obvious spikes, one threshold: the detector finds both at their onset, no FPs.
    for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
        assert figures[profile] > 90, figures
    assert set(figures["per_category"]["standard"]) == {"catA", "catB"}
    assert figures["baseline"]["detector"] == "robust_zscore"
    assert figures["ratio_vs_baseline"]["standard"] == 1.0


def test_results_file_has_timestamp_and_machine(tmp_path):
    common = load_module("bench_common", REPO / "benchmarks" / "_common.py")
    path = common.write_results("demo", {"x": np.float64(1.5)}, results_dir=tmp_path)
    payload = json.loads(path.read_text())
    assert payload["x"] == 1.5 and payload["area"] == "demo"
    assert payload["timestamp"] and payload["machine"]["cpu_count"] >= 1
    assert common.shared_dir("benchmarks", "nab") == REPO.parent / "shared" / "benchmarks" / "nab"


def test_runner_default_detector_and_baseline(tmp_path):
    make_corpus(tmp_path)
    nab = load_module("nab_benchmark_default", REPO / "benchmarks" / "nab.py")
    figures = nab.main(["--data", str(tmp_path), "--workers", "1", "--no-write"])
    assert figures["detector"] == "sequence_novelty" and figures["baseline"]["detector"] == "nab"
    # The spikes leave the range seen so far and are both found; on i.i.d. Gaussian noise a
    # few new extremes also fire (measured: 7 FPs, standard 74.2), still far above the baseline.
    assert figures["counts"]["standard"]["tp"] == 2 and figures["counts"]["standard"]["fn"] == 0
    assert figures["standard"] > 60 and figures["ratio_vs_baseline"]["standard"] > 1.5, figures

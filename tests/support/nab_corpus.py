"""A tiny synthetic corpus laid out like NAB (data/<category>/<file>.csv plus
labels/combined_windows.json), for the NAB runner tests; never the shared NAB data.  And
`load_module`, to import a benchmark script by path."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_corpus(root: Path) -> None:
    rng = np.random.default_rng(0)
    windows = {}
    for cat, name, spike in [
        ("catA", "one.csv", 700),
        ("catA", "two.csv", None),
        ("catB", "three.csv", 800),
    ]:
        ts = pd.date_range("2020-01-01", periods=1000, freq="5min")
        values = rng.normal(10, 1, 1000)
        win = []
        if spike is not None:
            values[spike : spike + 3] += 25
            win = [[str(ts[spike - 20]), str(ts[spike + 20])]]
        (root / "data" / cat).mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(
            root / "data" / cat / name, index=False
        )
        windows[f"{cat}/{name}"] = win
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))

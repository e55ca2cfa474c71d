"""Reading a corpus laid out like NAB: ``data/<category>/<series>.csv``, ``labels/`` and ``config/``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.anomaly.nab_scoring import (
    DEFAULT_PROFILES,
    PreparedSeries,
    Profile,
    load_profiles,
    prepare_series,
    windows_to_indices,
)


@dataclass
class NabSeries:
    """One labelled series: ``name`` is ``<category>/<file>.csv`` as in NAB's label files."""

    name: str
    timestamps: np.ndarray  # datetime64[ns]
    values: np.ndarray  # float64
    windows: list[tuple[int, int]]  # inclusive index ranges

    @property
    def category(self) -> str:
        return self.name.split("/")[0]

    def prepare(self) -> PreparedSeries:
        return prepare_series(self.name, len(self.values), self.windows)


def load_corpus(root: str | Path, only: list[str] | None = None) -> list[NabSeries]:
    """Load every series under ``root/data`` that has an entry in the windows file.

    ``only`` restricts loading to the given series names (``<category>/<file>.csv``).
    """
    root = Path(root)
    windows_file = root / "labels" / "combined_windows.json"
    if not windows_file.is_file():
        raise FileNotFoundError(f"{windows_file} not found: is {root} a NAB-style folder?")
    windows = json.loads(windows_file.read_text())
    names = sorted(windows) if only is None else list(only)
    corpus = []
    for name in names:
        path = root / "data" / name
        if not path.is_file():
            raise FileNotFoundError(f"{path} listed in {windows_file} but missing")
        frame = pd.read_csv(path)
        ts = pd.to_datetime(frame["timestamp"]).to_numpy(dtype="datetime64[ns]")
        values = frame["value"].to_numpy(dtype=float)
        corpus.append(NabSeries(name, ts, values, windows_to_indices(ts, windows[name])))
    return corpus


def corpus_profiles(root: str | Path) -> dict[str, Profile]:
    path = Path(root) / "config" / "profiles.json"
    return load_profiles(path) if path.is_file() else dict(DEFAULT_PROFILES)

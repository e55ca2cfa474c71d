"""``nab``: the ensemble configuration tuned for the NAB benchmark, as a detector of its own.

One configuration for every series (no per-series tuning); chosen on the NAB corpus, so its
NAB figures are in-sample for the configuration (see docs/anomaly.md).  It sees no labels.
It was the benchmark's default detector until ``sequence_novelty`` beat it (78.0 vs 60.0
standard); ``benchmarks/nab.py`` now runs it as the side-by-side baseline.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from workbench.anomaly.detectors.ensemble import Ensemble, MemberSpec


def _nab_members() -> list[MemberSpec]:
    return [
        MemberSpec(detector="robust_zscore", params={"window": 288}),
        MemberSpec(detector="robust_zscore", params={"window": 288, "use_diff": True}),
        MemberSpec(detector="seasonal"),
        MemberSpec(detector="level_shift"),
        MemberSpec(detector="level_shift", params={"short": 24, "long": 500}),
    ]


class NabEnsemble(Ensemble):
    """Calibrated ensemble with one alarm per incident, tuned for NAB-style scoring."""

    name = "nab"

    class Params(Ensemble.Params):
        members: list[MemberSpec] = Field(
            default_factory=_nab_members, description="Detectors to combine."
        )
        normalise_by: Literal["window", "history"] = Field(
            "history", description="See Ensemble: 'history' lets early extremes score high."
        )
        alarm_level: float | None = Field(
            0.9,
            ge=0,
            le=1,
            description="Score that counts as an alarm for suppression; None disables it.",
        )
        suppress: int = Field(100, ge=0, description="Points damped after each alarm.")

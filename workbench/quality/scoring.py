"""Quality scores: per table or model, per dimension, weighted, with a breakdown that explains.

A check's *pass rate* is the share of rows that pass it (row checks), or 1/0 (table checks such
as freshness or the column set). A dimension's score is the weight-averaged pass rate of its
checks; the overall score is the dimension scores averaged with the suite's dimension weights,
renormalised over the dimensions the suite checks. Scores are 0-100.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ge_runtime import CheckOutcome
from .suite_spec import DIMENSIONS


@dataclass
class QualityScore:
    target: str | None  # the suite target's name (None: SQL without a model)
    overall: float
    dimensions: dict[str, float]
    weights: dict[str, float]
    breakdown: list[dict] = field(default_factory=list)

    def explain(self) -> str:
        """Why the number is what it is, worst contributions first."""
        lines = [
            f"{self.target}: {self.overall:.1f}/100 = "
            + " + ".join(f"{self.weights[d]:.2f}×{d} {s:.1f}" for d, s in self.dimensions.items())
        ]
        for b in sorted(self.breakdown, key=lambda b: -b["points_lost"]):
            if b["points_lost"] <= 0:
                continue
            what = (
                f"{b['unexpected_count']:,} of {b['element_count']:,} rows fail"
                if b["element_count"] is not None and b["unexpected_count"] is not None
                else ("errored" if b.get("error") else "failed")
            )
            lines.append(
                f"  -{b['points_lost']:.2f} points  {b['dimension']:<12} {b['check']}: {what}"
            )
        if len(lines) == 1:
            lines.append("  every check passed")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "target": self.target,
            "overall": self.overall,
            "dimensions": self.dimensions,
            "weights": self.weights,
            "breakdown": self.breakdown,
        }


def score(
    target: str | None, outcomes: list[CheckOutcome], dimension_weights: dict[str, float]
) -> QualityScore:
    by_dim: dict[str, list[CheckOutcome]] = {}
    for o in outcomes:
        by_dim.setdefault(o.dimension, []).append(o)
    present = [d for d in DIMENSIONS if d in by_dim]
    total_w = sum(dimension_weights.get(d, 0.0) for d in present) or 1.0
    weights = {d: dimension_weights.get(d, 0.0) / total_w for d in present}
    dims, breakdown = {}, []
    for d in present:
        checks = by_dim[d]
        wsum = sum(c.weight for c in checks)
        dims[d] = round(100.0 * sum(c.weight * c.pass_rate for c in checks) / wsum, 4)
        for c in checks:
            share = weights[d] * c.weight / wsum  # of the overall score
            breakdown.append(
                {
                    "check": c.name,
                    "dimension": d,
                    "pass_rate": round(c.pass_rate, 6),
                    "weight_in_dimension": round(c.weight / wsum, 4),
                    "share_of_score": round(share, 4),
                    "points_lost": round(100.0 * share * (1.0 - c.pass_rate), 4),
                    "element_count": c.element_count,
                    "unexpected_count": c.unexpected_count,
                    "error": c.error,
                }
            )
    overall = round(sum(weights[d] * dims[d] for d in present), 4) if present else 100.0
    return QualityScore(
        target, overall, dims, {d: round(w, 4) for d, w in weights.items()}, breakdown
    )

"""What the pipeline's schema gate and quality gate cost per micro-batch, side by side.

The demo pipeline's spec applies the same simulated batches (orders and lines, ~10 500 events
each, --quick: ~5 000) four ways in one process: no gates (schema gate off, no quality section),
schema gate only, schema gate + quality gate with engine auto (the demo's checks all have SQL
forms), and engine ge (every check through Great Expectations). Reported: median batch seconds
of each and the median time inside each gate, and the ratios against no gates.

    python benchmarks/stream_gates.py [--quick]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import REPO_ROOT, emit_final, write_results  # noqa: E402
from ruamel.yaml import YAML  # noqa: E402

from workbench.streaming import envelope, pipeline_from_dict  # noqa: E402
from workbench.streaming.apply import BatchApplier  # noqa: E402
from workbench.streaming.events import RawEvent, dumps  # noqa: E402
from workbench.streaming.simulator import OrderSimulator  # noqa: E402


def _timed(obj, method: str, into: list) -> None:
    fn = getattr(obj, method)

    def wrapper(*a, **kw):
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            into.append(time.perf_counter() - t)

    setattr(obj, method, wrapper)


def run(label: str, quality, payloads: list[str], repeats: int) -> dict:
    spec = copy.deepcopy(
        YAML(typ="safe").load((REPO_ROOT / "pipelines" / "demo_orders.yml").read_text())
    )
    with tempfile.TemporaryDirectory() as d:
        spec["source"] = {"kind": "embedded", "path": str(Path(d) / "op.sqlite")}
        if quality is None:
            spec.pop("quality", None)
        else:
            spec["quality"] = quality
        p = pipeline_from_dict("bench", spec, Path(d) / "w.duckdb")
        p._open_warehouse()
        a = BatchApplier(p.con, p.spec, "bench", p.views)
        schema_s, gate_s, batch_s = [], [], []
        _timed(a.schema_gate, "check", schema_s)
        _timed(a.gate, "apply", gate_s)
        pos = 0
        for _ in range(repeats + 1):  # the first batch warms up (and fills silver)
            evs = [RawEvent(pos + k + 1, 0, str(pos + k + 1), x) for k, x in enumerate(payloads)]
            pos += len(evs)
            t = time.perf_counter()
            a.apply(evs, None)
            batch_s.append(time.perf_counter() - t)
        p.close()
    med = lambda xs: statistics.median(xs[1:]) if len(xs) > 1 else None  # noqa: E731
    out = {"batch_s": med(batch_s), "schema_gate_s": med(schema_s), "quality_gate_s": med(gate_s)}
    print(
        f"  {label:<28} batch {out['batch_s']:.4f} s   schema gate "
        f"{(out['schema_gate_s'] or 0) * 1000:.1f} ms   quality gate {(out['quality_gate_s'] or 0) * 1000:.1f} ms",
        flush=True,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches, fewer repeats (< 60 s)")
    args = ap.parse_args()
    txs, repeats = (2000, 3) if args.quick else (4000, 5)
    sim = OrderSimulator(seed=3)
    payloads = [dumps(envelope(t, op, b, a)) for tx in sim.transactions(txs) for t, op, b, a in tx]
    print(
        f"{len(payloads)} events per batch, {repeats} timed batches each (shared 2-core machine: noisy)"
    )
    demo = YAML(typ="safe").load((REPO_ROOT / "pipelines" / "demo_orders.yml").read_text())[
        "quality"
    ]
    ge = dict(copy.deepcopy(demo), engine="ge")
    base = run("no gates", {"schema": {"enabled": False}, "tables": {}}, payloads, repeats)
    schema = run("schema gate", None, payloads, repeats)
    auto = run("schema + quality (auto)", demo, payloads, repeats)
    gex = run("schema + quality (ge)", ge, payloads, repeats)
    figures = {
        "events_per_batch": len(payloads),
        "batch_s_no_gates": base["batch_s"],
        "batch_s_schema_gate": schema["batch_s"],
        "batch_s_auto": auto["batch_s"],
        "batch_s_ge": gex["batch_s"],
        "schema_gate_s": schema["schema_gate_s"],
        "quality_gate_auto_s": auto["quality_gate_s"],
        "quality_gate_ge_s": gex["quality_gate_s"],
        "ratio_schema_vs_none": schema["batch_s"] / base["batch_s"],
        "ratio_auto_vs_none": auto["batch_s"] / base["batch_s"],
        "ratio_ge_vs_none": gex["batch_s"] / base["batch_s"],
        "quick": args.quick,
    }
    write_results("stream_gates" + ("_quick" if args.quick else ""), figures)
    emit_final(figures)


if __name__ == "__main__":
    main()

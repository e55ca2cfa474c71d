"""From the parts a question states to one semantic query (the keyword arguments of
``wb.query``), checked by compiling it: a reading the layer refuses (no join path, an unknown
combination) is repaired with the next-best member for the same words, or not answered."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

from ..errors import WorkbenchError
from .knowledge import Knowledge
from .resolve import Partial


@dataclass
class Built:
    query: dict
    error: str | None = None
    score: float = 1.0
    notes: list[str] = field(default_factory=list)


def _share_metric(kn: Knowledge, metric: str, define: dict) -> str:
    for e in kn.entries:
        spec = e.spec
        if (
            e.kind == "metric"
            and e.dtype == "percent_of_total"
            and getattr(spec, "metric", None) in (metric, metric.split(".")[-1])
            and not getattr(spec, "within", ())
        ):
            return e.query_name
    name = f"share_of_{metric.replace('.', '_')}"
    define[name] = {
        "kind": "metric",
        "type": "percent_of_total",
        "metric": metric,
        "label": f"Share of {metric}",
        "format": "percent",
    }
    return name


def _pop_metric(kn: Knowledge, metric: str) -> str | None:
    best = None
    for e in kn.entries:
        spec = e.spec
        if (
            e.kind == "metric"
            and e.dtype == "period_over_period"
            and getattr(spec, "metric", None) in (metric, metric.split(".")[-1])
            and getattr(spec, "offset", "") == "same_period_last_year"
        ):
            if best is None or getattr(spec, "comparison", "") == "percent_change":
                best = e.query_name
    return best


def _model_of(kn: Knowledge, name: str, define: dict | None = None) -> str | None:
    """The model a member (or a query-time member, through what it is built on) belongs to."""
    e = kn.by_qualified.get(name) or next((x for x in kn.entries if x.query_name == name), None)
    if e is not None:
        return e.model
    d = (define or {}).get(name)
    if d:
        if d.get("model"):
            return d["model"]
        for ref in re.findall(
            r"[A-Za-z_][A-Za-z0-9_.]*", str(d.get("expr") or d.get("metric") or "")
        ):
            found = _model_of(kn, ref)
            if found:
                return found
    inner = re.fullmatch(r"\w+\(([\w.]+)\)", name)
    return _model_of(kn, inner.group(1)) if inner else None


def build(p: Partial, kn: Knowledge) -> Built:  # noqa: C901 -- each clause of a query in turn
    define = dict(p.define)
    metrics = list(p.metrics)
    dims = list(p.groupby)
    notes: list[str] = []
    if p.share and metrics:
        metrics = [_share_metric(kn, m, define) for m in metrics]
    entity = next((k.split(":", 1)[1] for k in p.words if k.startswith("@entity:")), None)
    detail = p.detail and not metrics
    if not metrics and not detail and p.segments and p.counted:
        seg = next((e for e in kn.entries if e.query_name == p.segments[0]), None)
        cnt = kn.count_of(seg.model) if seg else None
        if cnt:
            metrics = [cnt]
    if not metrics and not detail:
        if entity and kn.count_of(entity):
            metrics = [kn.count_of(entity)]  # type: ignore[list-item]
        elif dims or p.mentions:
            detail = True
    if detail:
        cols = [m for m in p.mentions if m not in dims]
        if entity and (cols or dims) and p.words.get("@listed:" + entity):
            own = kn.title_dimension(entity)  # 'every product ... with its price'
            if own is not None and own.query_name not in cols + dims:
                dims.insert(0, own.query_name)
        dims = dims + cols
        if entity and not dims:
            e = kn.name_of(entity) or kn.key_of(entity)
            if e is not None:
                dims.append(e.query_name)
    q: dict = {"target": kn.namespace, "metrics": metrics, "dimensions": dims}
    home = (
        _model_of(kn, metrics[0], define) if metrics else (_model_of(kn, dims[0]) if dims else None)
    )
    if detail and entity:
        home = entity
    grain = p.grain
    base_entry = next(
        (e for e in kn.entries if e.query_name == (metrics[0] if metrics else "")), None
    )
    is_pop = base_entry is not None and base_entry.dtype == "period_over_period"
    if p.compare_last_year and metrics and is_pop:
        grain = grain or "year"
    elif p.compare_last_year and metrics:
        pop = _pop_metric(kn, metrics[0])
        if pop and pop not in metrics:
            metrics.append(pop)
            grain = grain or "year"
        elif not pop:
            notes.append("no comparison metric with last year in the model: shown per year")
            grain = grain or "year"
    time_dim = p.time_dim
    if grain:
        td = time_dim
        if td is None and home:
            d = kn.default_time(home)
            td = d.query_name if d else None
        if td is None:
            return Built(q, f"no time dimension to show '{grain}' by")
        if td not in dims:
            dims.insert(0, td)
        q["grain"] = grain
        time_dim = td
    if p.time_range:
        q["time_range"] = p.time_range
        if (
            p.compare_last_year
            and not p.years
            and not is_pop
            and not _pop_metric(kn, metrics[0] if metrics else "")
        ):
            q["time_range"] = _with_previous_year(p.time_range)
    if p.time_dim and (p.time_range or grain):
        q["time_dimension"] = p.time_dim
    where = []
    for f in p.filters.values():
        vals = f["values"]
        if f["op"] == "in" and len(vals) == 1:
            where.append({"member": f["member"], "op": "=", "value": vals[0]})
        elif f["op"] == "not_in" and len(vals) == 1:
            where.append({"member": f["member"], "op": "!=", "value": vals[0]})
        elif f["op"] in ("gt", "lt", "gte", "lte"):
            where.append({"member": f["member"], "op": f["op"], "value": vals[0]})
        else:
            where.append({"member": f["member"], "op": f["op"], "values": list(vals)})
    if where:
        q["where"] = where
    if p.segments:
        q["segments"] = list(p.segments)
    if p.top and metrics:
        if not [d for d in dims if d != time_dim] and entity and kn.name_of(entity):
            dims.append(kn.name_of(entity).query_name)  # type: ignore[union-attr]
        if dims:
            q["order"] = [("" if p.top["lowest"] else "-") + metrics[0]]
            q["limit"] = p.top["n"]
    elif p.order and metrics:
        q["order"] = [("" if p.order == "asc" else "-") + (p.order_by or metrics[0])]
    if detail:
        q["distinct"] = True
    if define:
        q["define"] = define
    return Built(q, None, p.score, notes)


def _with_previous_year(text: str) -> str:
    if text.isdigit():
        return f"{int(text) - 1}-01-01..{text}-12-31"
    return text


def check(wb, q: dict) -> str | None:
    """None when the layer accepts the query (compiles it for this principal), else why not."""
    kw = dict(q)
    target = kw.pop("target")
    try:
        _ = wb.query(target, **kw).plan  # compiling is the check
    except (WorkbenchError, ValueError, KeyError, TypeError) as e:
        return str(e)
    return None


def build_checked(wb, p: Partial, kn: Knowledge) -> tuple[list[Built], Built]:
    """The buildable readings of a partial (best first) and the first one tried.

    When the stated members do not compile together, members are swapped for the other members
    the same words matched (at most a few combinations), each scored by its match."""
    first = build(p, kn)
    if first.error:
        return [], first
    err = check(wb, first.query)
    if err is None:
        return [first], first
    first.error = err
    slots = [n for n in p.metrics + p.groupby + p.mentions if p.swaps.get(n)]
    slots = list(dict.fromkeys(slots))[:3]
    if not slots:
        return [], first
    choices = [[(n, 1.0)] + p.swaps[n][:4] for n in slots]
    out: list[Built] = []
    for combo in itertools.product(*choices):
        if all(name == slot for slot, (name, _) in zip(slots, combo, strict=True)):
            continue
        swap = {slot: name for slot, (name, _) in zip(slots, combo, strict=True)}
        score = min(s for _, s in combo)
        alt = swapped(p, swap)
        b = build(alt, kn)
        if b.error or check(wb, b.query):
            continue
        b.score = min(b.score, score)
        out.append(b)
        if len(out) >= 6:
            break
    out.sort(key=lambda b: -b.score)
    return out, first


def swapped(p: Partial, swap: dict[str, str]) -> Partial:
    from dataclasses import replace

    def sub(xs):
        return [swap.get(x, x) for x in xs]

    words = dict(p.words)
    for old, new in swap.items():
        if old in words:
            words[new] = words[old]
    return replace(
        p,
        metrics=sub(p.metrics),
        groupby=sub(p.groupby),
        mentions=sub(p.mentions),
        time_dim=swap.get(p.time_dim, p.time_dim) if p.time_dim else None,
        words=words,
        filters=dict(p.filters),
        define=dict(p.define),
    )

"""From a reading to the parts of a semantic query the question states (a `Partial`): which
matched span is a metric, a 'by' dimension, a filter value, an entity to count or list, and what
the cue words around them ask for (top N, order, share, average per entity, detail list)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .derived import derived_metrics
from .lexicon import Entry, Match
from .parser import Reading
from .readings import bare_label, by_context, prefer_readings
from .text import fold, phrase_key


@dataclass
class Partial:
    """The parts of a query one question states; follow-ups merge into the previous turn's."""

    namespace: str
    metrics: list[str] = field(default_factory=list)
    metric_entries: list[Entry] = field(default_factory=list)
    define: dict = field(default_factory=dict)
    groupby: list[str] = field(default_factory=list)
    grain: str | None = None
    time_dim: str | None = None
    time_range: str | None = None
    years: tuple[int, int] | None = None
    compare_last_year: bool = False
    filters: dict[str, dict] = field(default_factory=dict)  # member -> structured filter
    segments: list[str] = field(default_factory=list)
    top: dict | None = None  # {"n", "lowest", "per"}
    order: str | None = None  # desc | asc
    order_by: str | None = None
    detail: bool = False
    share: bool = False
    add_dims: bool = False
    followup: bool = False
    why: bool = False
    score: float = 1.0
    words: dict[str, str] = field(default_factory=dict)  # member -> the words that named it
    unknown: list[str] = field(default_factory=list)  # content words nothing explains
    unknown_by: list[str] = field(default_factory=list)  # 'by <unknown>'
    ambiguous: list[tuple[str, list[Match]]] = field(default_factory=list)
    stated: set[str] = field(default_factory=set)
    fuzzy: list[str] = field(default_factory=list)
    counted: bool = False
    unknown_counted: list[str] = field(default_factory=list)  # 'how many employees': unknown
    entity_metrics: list[str] = field(default_factory=list)  # 'customers' read as their count
    remove: list[str] = field(default_factory=list)  # 'remove the channel'
    mentions: list[str] = field(default_factory=list)  # dimensions named, in order
    swaps: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # other readings

    def state(self, *names: str) -> None:
        self.stated.update(names)


def _numeric_agg(r: Reading, m: Match) -> str | None:
    """'average list price', 'total quantity', 'highest price' over a numeric dimension."""
    if r.cue_at("average", m.start, gap=1):
        return "avg"
    low = r.toks.low
    prev = low[m.start - 1] if m.start > 0 else ""
    if prev in ("total", "sum", "summe", "suma", "gesamte", "gesamt"):
        return "sum"
    if prev in ("max", "maximum", "maximal", "maximo", "highest", "hochste", "hochster"):
        return "max"
    if prev in ("min", "minimum", "minimal", "minimo", "lowest", "niedrigste", "smallest"):
        return "min"
    return None


def _top_n(r: Reading) -> dict | None:
    for c in r.cues:
        if c.concept not in ("top", "bottom"):
            continue
        n = r.numbers.get(c.end) or r.numbers.get(c.start - 1)
        if n is None and c.end < len(r.toks) and r.toks.low[c.end] in r.table.mapping("numbers"):
            n = r.table.mapping("numbers")[r.toks.low[c.end]]
        if n is None:
            n = next(
                (
                    v
                    for k, v in sorted(r.numbers.items())
                    if k < c.start and k + 3 >= c.start or c.end <= k <= c.end + 2
                ),
                None,
            )
        if n is None and len(r.numbers) == 1:  # 'which 3 brands have the lowest revenue'
            n = next(iter(r.numbers.values()))
        word = r.toks.low[c.start]
        plural_hint = c.end < len(r.toks) and r.toks.low[c.end].endswith(("s", "n", "es"))
        if n is None:
            n = 10 if word == "top" and plural_hint else 1
        return {"n": int(n), "lowest": c.concept == "bottom"}
    return None


def resolve(r: Reading) -> Partial:  # noqa: C901 -- one branch per role a span can play
    kn = r.kn
    p = Partial(kn.namespace)
    low = r.toks.low
    derived, consumed, helpers = derived_metrics(r)
    p.define.update(helpers)
    if derived and any(r.picks[i].score < 0.65 for i in consumed):
        p.score = 0.45  # an operand named only by part of its name: ask back
    for name, spec, words in derived:
        p.define[name] = spec
        p.metrics.append(name)
        p.words[name] = words
        p.state("metrics")
    seen_models: set[str] = set()
    for i, m in enumerate(r.picks):
        ents = {a.entry.model for a in [m] + r.alts.get(i, []) if a.entry.kind == "model"}
        value_alts = [a for a in r.alts.get(i, []) if a.how == "value" and a.score >= 0.8]
        if ents & seen_models and value_alts and m.how != "value":
            r.alts[i] = [a for a in [m] + r.alts.get(i, []) if a is not value_alts[0]]
            r.picks[i] = value_alts[0]
        seen_models |= ents
    prefer_readings(r, consumed)
    exact_metric = any(m.entry.kind in ("metric", "measure") and m.how == "exact" for m in r.picks)
    valued = {m.entry.qualified for m in r.picks if m.how == "value"}
    prev_role = None
    average_per = None
    for i, m in enumerate(r.picks):
        if i in consumed:
            continue
        e = m.entry
        if m.how == "fuzzy":
            p.fuzzy.append(e.query_name)
        p.score = min(p.score, m.score if m.score >= 0.5 else 0.5 + m.score / 2)
        grouped = r.cue_at("group_by", m.start, gap=2) is not None
        joined = (
            prev_role == "groupby"
            and m.start > 0
            and low[m.start - 1] in ("and", "und", "y", ",", "&", "plus")
            or (prev_role == "groupby" and r.picks[i - 1].end == m.start)
        )
        joined = joined or any(
            h.kind == "grain" and h.end == m.start - 1 and low[h.end] in ("and", "und", "y", ",")
            for h in r.time
        )
        m = by_context(r, i, m, grouped or joined)
        e = m.entry
        every = [
            a
            for a in r.alts.get(i, [])
            if a.entry.kind in _role_kinds(e.kind) and (a.how == "value") == (m.how == "value")
        ]
        alts = [a for a in every if abs(a.score - m.score) < 0.05]
        if every:
            p.swaps[e.query_name] = [(a.entry.query_name, a.score) for a in every]
        if m.how == "value":
            f = p.filters.setdefault(
                e.qualified, {"member": e.query_name, "op": "in", "values": []}
            )
            if m.value not in f["values"]:
                f["values"].append(m.value)
            if r.cue_at("exclude", m.start, gap=1):
                f["op"] = "not_in"
            p.words[e.query_name] = r.toks.text(m.start, m.end)
            p.state("filters")
            prev_role = "value"
            continue
        if e.kind == "segment":
            p.segments.append(e.query_name)
            p.state("segments")
            prev_role = "segment"
            continue
        conj = {"and", "und", "y", ",", "&"}
        listed = (m.start > 0 and low[m.start - 1] in conj) or (
            m.end < len(low) and low[m.end] in conj
        )
        if (
            e.kind in ("metric", "measure")
            and not listed
            and any(
                x is not m and x.entry.kind in ("metric", "measure") and x.score >= 0.5
                for x in r.picks
            )
        ):
            entity_alts = [
                a
                for a in r.alts.get(i, [])
                if a.entry.kind == "model" and a.score >= m.score - 0.05
            ]
            if entity_alts and not r.cue_at("count", m.start, gap=2):
                p.words.setdefault(
                    "@entity:" + entity_alts[0].entry.model, r.toks.text(m.start, m.end)
                )
                prev_role = "entity"
                continue
        if e.kind in ("metric", "measure") and m.how == "fuzzy" and exact_metric:
            continue
        if e.kind in ("metric", "measure"):
            if alts:
                p.ambiguous.append(("metric", [m] + alts))
            if m.score < 0.3 and any(
                x.entry.kind in ("metric", "measure") and x.score >= 0.5
                for x in r.picks
                if x is not m
            ):
                continue
            if m.score < 0.65 and m.how == "exact":
                p.score = min(p.score, 0.45)  # a metric named only by part of its name
            if e.query_name not in p.metrics:
                p.metrics.append(e.query_name)
                p.metric_entries.append(e)
                if any(
                    a.entry.kind == "model" and a.score >= m.score - 0.05 for a in r.alts.get(i, [])
                ):
                    p.entity_metrics.append(e.query_name)
                p.words[e.query_name] = r.toks.text(m.start, m.end)
            p.state("metrics")
            prev_role = "metric"
            continue
        if e.kind == "model" and r.numbers.get(m.end) is not None and not grouped:
            key = kn.key_of(e.model)  # 'order 4711': that row
            if key is not None:
                val = r.numbers[m.end]
                v = int(val) if float(val).is_integer() else val
                p.filters[key.qualified] = {
                    "member": key.query_name,
                    "op": "in",
                    "values": [v if key.dtype == "numeric" else str(v)],
                }
                p.state("filters")
                prev_role = "value"
                continue
        if e.kind == "model":
            if r.cue_at("count", m.start, gap=2):
                cnt = kn.count_of(e.model)
                if cnt:
                    p.metrics.append(cnt)
                    p.words[cnt] = r.toks.text(m.start, m.end)
                    p.state("metrics")
                    prev_role = "metric"
                    continue
            if grouped and r.has("average") and p.metrics:
                average_per = e.model
                prev_role = "per"
                continue
            nxt_pick = r.picks[i + 1] if i + 1 < len(r.picks) else None
            if (
                nxt_pick is not None
                and nxt_pick.start == m.end
                and any(
                    a.entry.model == e.model and a.entry.kind == "dimension"
                    for a in [nxt_pick] + r.alts.get(i + 1, [])
                )
            ):
                continue  # 'part brand': the entity only says whose brand
            if grouped or joined:
                dim = kn.name_of(e.model)
                if dim:
                    _group(p, dim, r.toks.text(m.start, m.end))
                    prev_role = "groupby"
                continue
            p.words.setdefault("@entity:" + e.model, r.toks.text(m.start, m.end))
            if r.cue_at("detail", m.start, gap=2):
                p.words["@listed:" + e.model] = "1"
            prev_role = "entity"
            continue
        # dimensions
        if r.cue_at("remove", m.start, gap=2):
            p.remove.append(e.query_name)
            p.state("remove")
            prev_role = "remove"
            continue
        if r.cue_at("count", m.start, gap=2) and e.dtype == "categorical":
            name = f"count_distinct({e.query_name})"
            p.metrics.append(name)
            p.words[name] = r.toks.text(m.start, m.end)
            p.state("metrics")
            prev_role = "metric"
            continue
        if not grouped and not joined and (e.qualified in valued or e.qualified in p.filters):
            continue  # 'the North region': the region is the value's, not a column
        p.mentions.append(e.query_name)
        if alts:
            p.ambiguous.append(("dimension", [m] + alts))
        agg = _numeric_agg(r, m) if e.dtype == "numeric" else None
        if agg:
            name = f"{agg}({e.query_name})"
            p.metrics.append(name)
            p.words[name] = r.toks.text(m.start - 1, m.end)
            p.state("metrics")
            prev_role = "metric"
            continue
        nxt = r.numbers.get(m.end)
        if nxt is not None and not grouped and e.dtype in ("categorical", "numeric"):
            val = int(nxt) if float(nxt).is_integer() else nxt
            p.filters[e.qualified] = {
                "member": e.query_name,
                "op": "in",
                "values": [val if e.dtype == "numeric" else str(val)],
            }
            p.state("filters")
            prev_role = "value"
            continue
        if e.is_time and not grouped:
            p.time_dim = e.query_name
            p.state("time_dim")
            prev_role = "time"
            continue
        if grouped or joined or (e.qualified not in p.filters and e.qualified not in valued):
            if (
                grouped
                or joined
                or not any(f["member"] == e.query_name for f in p.filters.values())
            ):
                _group(p, e, r.toks.text(m.start, m.end))
                prev_role = "groupby"
    if average_per and p.metrics:
        base = p.metrics[-1]
        dim_name = f"{base}_per_{average_per}".replace(".", "_").replace("(", "_").replace(")", "")
        avg_name = f"average_{dim_name}"
        p.define[dim_name] = {"kind": "dimension", "model": average_per, "metric": base}
        p.define[avg_name] = {
            "agg": "avg",
            "expr": dim_name,
            "model": average_per,
            "label": f"Average {base} per {average_per}",
        }
        p.metrics[-1] = avg_name
        p.words[avg_name] = p.words.get(base, base)
    _comparisons(p, r)
    composed_metrics(p, kn)
    nearest_metrics(p, kn)
    compared = r.compared
    if compared and compared in kn.by_qualified:
        _group(p, kn.by_qualified[compared], "")
    _time(p, r)
    _cues(p, r)
    by_cues = [c for c in r.cues if c.concept == "group_by"]
    for c in by_cues:
        if c.end < len(low) and c.end in set(r.leftovers):
            p.unknown_by.append(low[c.end])
    p.unknown = [low[i] for i in r.leftovers]
    left = set(r.leftovers)
    p.unknown_counted = [low[c.end] for c in r.cues if c.concept == "count" and c.end in left]
    return p


_COMPARE = {"more_than": "gt", "less_than": "lt", "at_least": "gte", "at_most": "lte"}


def _comparisons(p: Partial, r: Reading) -> None:
    """'products that cost more than 500', 'a negative account balance': a numeric dimension
    compared with a number the question gives (the number, never the text, reaches the query)."""
    for c in r.cues:
        op = _COMPARE.get(c.concept)
        value = None
        if op:
            value = next((v for k, v in sorted(r.numbers.items()) if c.end <= k <= c.end + 1), None)
        elif c.concept == "negative":
            op, value = "lt", 0
        if op is None or value is None:
            continue
        before = [
            m
            for m in r.picks
            if m.end <= c.start + (1 if c.concept == "negative" else 0)
            and m.entry.kind == "dimension"
            and m.entry.dtype == "numeric"
        ]
        after = [
            m
            for m in r.picks
            if m.start >= c.end and m.entry.kind == "dimension" and m.entry.dtype == "numeric"
        ]
        target = before[-1] if before else (after[0] if after else None)
        if target is None:
            p.score = min(p.score, 0.4)  # a condition nothing in the model can hold: ask back
            continue
        e = target.entry
        v = int(value) if float(value).is_integer() else value
        p.filters[e.qualified] = {"member": e.query_name, "op": op, "values": [v]}
        p.groupby = [g for g in p.groupby if g != e.query_name]
        p.state("filters")


def composed_metrics(p: Partial, kn) -> None:
    """'orders' filtered to the value 'cancelled' is the model's 'Cancelled orders' when it has
    one (a measure labelled value + metric), which counts what the metric itself leaves out."""
    for key, f in list(p.filters.items()):
        if f["op"] != "in" or len(f["values"]) != 1:
            continue
        for k, e in enumerate(p.metric_entries):
            want = phrase_key(f"{f['values'][0]} {e.label}".replace("_", " "))
            hit = next(
                (
                    x
                    for x in kn.entries
                    if x.kind in ("metric", "measure") and phrase_key(x.label) == want
                ),
                None,
            )
            if hit is not None and e.query_name in p.metrics and hit.query_name in p.metrics:
                p.metrics.remove(e.query_name)  # 'orders ... cancelled' named both
                p.filters.pop(key)
                break
            if hit is not None and e.query_name in p.metrics:
                p.metrics[p.metrics.index(e.query_name)] = hit.query_name
                p.metric_entries[k] = hit
                p.words[hit.query_name] = p.words.get(e.query_name, "")
                p.filters.pop(key)
                break


def nearest_metrics(p: Partial, kn) -> None:
    """'revenue by category': of the metrics that share a name (Revenue, Revenue (line level)),
    the one whose model is joined closest to the dimensions and filters of the question."""
    dims = [kn.by_qualified.get(f) for f in p.filters] + [
        next((e for e in kn.entries if e.query_name == d), None) for d in p.groupby
    ]
    models = {e.model for e in dims if e is not None}
    if not models:
        return
    for k, e in enumerate(p.metric_entries):
        sibs = [
            x
            for x in kn.entries
            if x.kind in ("metric", "measure") and bare_label(x.label) == bare_label(e.label)
        ]
        if len(sibs) < 2:
            continue
        best = min(sibs, key=lambda x: (max(kn.hops(x.model, mm) for mm in models), x is not e))
        if best is not e and e.query_name in p.metrics:
            p.metrics[p.metrics.index(e.query_name)] = best.query_name
            p.words[best.query_name] = p.words.get(e.query_name, "")
            p.metric_entries[k] = best


def _role_kinds(kind: str) -> tuple[str, ...]:
    return ("metric", "measure") if kind in ("metric", "measure") else (kind,)


def _group(p: Partial, e: Entry, words: str) -> None:
    if e.query_name not in p.groupby:
        p.groupby.append(e.query_name)
        p.words[e.query_name] = words
    if e.is_time:
        p.time_dim = e.query_name
    p.state("groupby")


def _time(p: Partial, r: Reading) -> None:
    for h in r.time:
        if h.kind == "range":
            p.time_range = h.value
            p.state("time_range")
            p.words["@time"] = h.text
        elif h.kind == "grain":
            p.grain = h.value
            p.state("grain")
            p.words["@grain"] = h.text
        elif h.kind == "years":
            a, b = (int(x) for x in h.value.split(","))
            p.years = (a, b)
            p.time_range = f"{a}-01-01..{b}-12-31"
            p.grain = "year"
            p.state("time_range", "grain")
            p.words["@time"] = h.text
        elif h.kind == "compare_last_year":
            p.compare_last_year = True
            p.state("compare")


def _cues(p: Partial, r: Reading) -> None:
    top = _top_n(r)
    if top:
        p.top = top
        p.state("top")
    if r.has("desc"):
        p.order = "desc"
        p.state("order")
    elif r.has("asc"):
        p.order = "asc"
        p.state("order")
    elif r.has("sort"):
        p.order = "desc"
        p.state("order")
    if r.has("share"):
        p.share = True
        p.state("metrics")
    if r.has("detail") and not p.metrics:
        p.detail = True
    p.add_dims = r.has("add")
    p.counted = r.has("count")
    p.followup = any(
        c.concept in ("followup", "only", "add") and c.start <= 1 for c in r.cues
    ) or any(fold(w) in ("instead", "stattdessen", "lugar") for w in r.toks.low)
    p.why = r.has("why")

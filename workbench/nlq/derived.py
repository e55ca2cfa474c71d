"""Metrics the question defines from existing members, composed with the layer's `define`:

* "... where total cost is the sum of fees, taxes and shipping"
* "late fees divided by the number of loans", "revenue minus refunds", "units times price"

Operands are members the lexicon matched (or an entity counted, "the number of loans"); the
expression is built from their names only, never from the question's text.
"""

from __future__ import annotations

import re

from .parser import Reading

_IS = {"is", "are", "=", "means", "equals", "ist", "sind", "es", "son", "sea", "bedeutet"}
_OPS = {"divided": "/", "minus": "-", "plus": "+", "times": "*"}


def _operand(r: Reading, i: int) -> tuple[str, dict | None] | None:
    """(name, definition or None) of pick i as an operand."""
    m = r.picks[i]
    e = m.entry
    if e.kind not in ("metric", "measure", "model"):
        same = [
            a
            for a in r.alts.get(i, [])
            if a.entry.kind in ("metric", "measure")
            and a.score >= m.score - 0.05
            and a.how != "value"
        ]
        if not same:
            return None
        e = same[0].entry  # 'promo orders': the measure, not the segment of that name
    if e.kind in ("metric", "measure"):
        return e.query_name, None
    if e.kind == "model":
        cnt = r.kn.count_of(e.model)
        if cnt and "(" not in cnt:
            return cnt, None
        name = f"{e.model}_count"
        return name, {"agg": "count", "model": e.model, "label": f"Number of {e.label}"}
    return None


def _ident(words: list[str]) -> str:
    name = re.sub(r"[^a-z0-9]+", "_", "_".join(words).lower()).strip("_")
    return name if name and name[0].isalpha() else "q_" + name


def derived_metrics(r: Reading) -> tuple[list[tuple[str, dict, str]], set[int], dict]:
    """(name, definition, words) of each metric the question defines, the picks they use, and
    helper members they need (an entity's count)."""
    out: list[tuple[str, dict, str]] = []
    consumed: set[int] = set()
    low = r.toks.low
    defs: dict = {}
    # "X is the sum of A, B and C"
    for c in r.cues:
        if c.concept != "sum_of":
            continue
        j = c.start - 1
        if j < 0 or low[j] not in _IS:
            continue
        k = j
        while (
            k > 0
            and low[k - 1] not in r.table.stopwords | {","}
            and not any(cue.concept == "derive_is" and cue.end == k for cue in r.cues)
        ):
            k -= 1
        name_words = list(low[k:j])
        if not name_words:
            continue
        operands = []
        for i, m in enumerate(r.picks):
            if m.start >= c.end and (op := _operand(r, i)):
                operands.append((i, op))
        if len(operands) < 2:
            continue
        name = _ident(name_words)
        for i, (oname, odef) in operands:
            consumed.add(i)
            if odef:
                defs[oname] = odef
        # the picks inside the name's own words ('total cost' -> 'cost') are the name, not members
        for i, m in enumerate(r.picks):
            if k <= m.start < j:
                consumed.add(i)
        _absorb_name(r, name_words, consumed)
        expr = " + ".join(o[1][0] for o in operands)
        out.append(
            (
                name,
                {"kind": "metric", "type": "derived", "expr": expr, "label": " ".join(name_words)},
                " ".join(name_words),
            )
        )
    # "A divided by B"
    chain: tuple = ()
    for c in r.cues:
        sym = _OPS.get(c.concept)
        if not sym:
            continue
        left = [
            i
            for i, m in enumerate(r.picks)
            if m.end <= c.start
            and (i not in consumed or (chain and chain[0] == i))
            and _operand(r, i)
        ]
        right = [
            i
            for i, m in enumerate(r.picks)
            if m.start >= c.end and i not in consumed and _operand(r, i)
        ]
        if not left or not right:
            continue
        li, ri = left[-1], right[0]
        (a, adef), (b, bdef) = _operand(r, li), _operand(r, ri)  # type: ignore[misc]
        for n, d in ((a, adef), (b, bdef)):
            if d:
                defs[n] = d
        consumed.update({li, ri})
        opword = {"/": "per", "-": "minus", "+": "plus", "*": "times"}[sym]
        if chain and chain[0] == li:  # 'A minus B divided by C' reads left to right
            _, start, prev_name, prev_expr = chain
            out.pop()
            name, expr = _ident([prev_name, opword, b]), f"({prev_expr}) {sym} {b}"
        else:
            start, name, expr = r.picks[li].start, _ident([a, opword, b]), f"{a} {sym} {b}"
        words = r.toks.text(start, r.picks[ri].end)
        out.append(
            (name, {"kind": "metric", "type": "derived", "expr": expr, "label": words}, words)
        )
        chain = (ri, start, name, expr)
    _named(r, out, consumed)
    _per_entity(r, out, consumed, defs)
    return out, consumed, defs if out else {}


_PRONOUNS = {"that", "it", "this", "das", "dies", "es", "eso", "esto"}


def _named(r: Reading, out: list, consumed: set[int]) -> None:
    """'... where net revenue is revenue minus refunds': the stated operation gets that name, and
    the name's mentions are the definition, not members ('where that is ...': the metric before)."""
    low = r.toks.low
    for c in r.cues:
        if c.concept != "derive_is":
            continue
        j = next((k for k in range(c.end, min(len(low), c.end + 5)) if low[k] in _IS), None)
        if j is None or j == c.end:
            continue
        name_words = list(low[c.end : j])
        for k, (_, spec, words) in enumerate(out):
            if not words.startswith(low[j + 1] if j + 1 < len(low) else "\0") and not any(
                words.startswith(w) for w in low[j + 1 : j + 3]
            ):
                continue
            if set(name_words) <= _PRONOUNS:
                before = [
                    i
                    for i, m in enumerate(r.picks)
                    if m.end <= c.start
                    and m.entry.kind in ("metric", "measure")
                    and i not in consumed
                ]
                consumed.update(before[:1])
                name_words = (
                    list(r.picks[before[0]].entry.name.split("_")) if before else name_words
                )
            else:
                _absorb_name(r, name_words, consumed)
            name = _ident(name_words)
            if any(e.name == name for e in r.kn.entries):
                name += "_asked"  # the question's own definition, never the model's member
            out[k] = (name, dict(spec, label=" ".join(name_words)), " ".join(name_words))
            break


def _per_entity(r: Reading, out: list, consumed: set[int], defs: dict) -> None:
    """'revenue per store', 'orders per customer on average': the metric divided by the count
    of an entity the model counts (a model with a count measure); 'per region' still groups."""
    for c in r.cues:
        if c.concept != "per" and not (c.concept == "group_by" and r.has("average")):
            continue
        right = next(
            (
                i
                for i, m in enumerate(r.picks)
                if c.end <= m.start <= c.end + 1 and i not in consumed
            ),
            None,
        )
        if right is None:
            continue
        m = r.picks[right]
        ents = [
            a
            for a in [m] + r.alts.get(right, [])
            if a.entry.kind == "model" and a.score >= m.score - 0.05
        ]
        cnt = r.kn.count_of(ents[0].entry.model) if ents else None
        if not cnt or "(" in cnt:
            measured = [
                a
                for a in [m] + r.alts.get(right, [])
                if a.entry.kind in ("metric", "measure") and a.score >= m.score - 0.05
            ]
            if not measured or c.concept != "per":
                continue
            cnt = measured[0].entry.query_name  # 'gross margin per unit': over units
        left = [
            i
            for i, x in enumerate(r.picks)
            if x.end <= c.start
            and i not in consumed
            and x.entry.kind in ("metric", "measure", "model")
        ]
        if not left:
            continue
        li = left[-1]
        op = _operand(r, li)
        if op is None or op[0] == cnt:
            continue
        left_entry = r.picks[li].entry
        if ents and left_entry.model == ents[0].entry.model and left_entry.dtype == "avg":
            consumed.add(right)  # 'average quantity per line': the average is per line already
            continue
        a, adef = op
        if adef:
            defs[a] = adef
        consumed.update({li, right})
        name = _ident([a, "per", ents[0].entry.model if ents else cnt])
        words = r.toks.text(r.picks[li].start, m.end)
        out.append(
            (
                name,
                {"kind": "metric", "type": "derived", "expr": f"{a} / {cnt}", "label": words},
                words,
            )
        )


def _absorb_name(r: Reading, name_words: list[str], consumed: set[int]) -> None:
    """Earlier mentions of the defined name are explained by the definition."""
    low = r.toks.low
    n = len(name_words)
    spans = [i for i in range(len(low) - n + 1) if list(low[i : i + n]) == name_words]
    taken = {k for i in spans for k in range(i, i + n)}
    r.leftovers[:] = [i for i in r.leftovers if i not in taken]
    for idx, m in enumerate(r.picks):
        if any(m.start <= k < m.end for k in taken):
            consumed.add(idx)

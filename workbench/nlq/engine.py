"""The offline NLQ engine: question -> reading -> semantic query -> ``wb.query`` -> answer.

Nothing here knows a domain: every word it understands comes from the models' metadata, the
dimension-value index and the language word tables. User text never reaches SQL: it only picks
member names and stored values, and the query runs through ``wb.query`` (row policies, the
cache and the audit apply). A reading that is not clearly the best becomes a clarification; a
question the models cannot answer is said to be so, with the nearest members.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from ..errors import WorkbenchError
from .answer import Answer, diff_tokens, sentence, tokens_of
from .compose import Built, build_checked, swapped
from .conversation import Conversation, is_followup, merge
from .i18n import LANGUAGES, detect_language, word_table
from .knowledge import Knowledge
from .parser import read
from .resolve import Partial, nearest_metrics, resolve
from .text import tokenize
from .timeparse import TimeReader

CLARIFY_BELOW = 0.5


class NLQEngine:
    def __init__(
        self,
        wb,
        namespace: str | None = None,
        today: dt.date | None = None,
        embeddings: bool = True,
        cache_dir: str | Path | None = None,
        incidents_db: str | Path | None = None,
        rules_dir: str | Path | None = None,
    ):
        self.wb = wb
        self.namespaces = [namespace] if namespace else None
        self.today = today
        self.use_embeddings = embeddings
        env = os.environ.get("WORKBENCH_NLQ_CACHE")
        self.cache_dir = Path(cache_dir or env or Path.home() / ".cache" / "workbench" / "nlq")
        settings = getattr(wb, "settings", None)
        anomaly = getattr(settings, "anomaly", None)
        self.incidents_db = (
            Path(incidents_db)
            if incidents_db
            else (
                Path(settings.path(anomaly.incidents_db))
                if settings is not None and anomaly
                else None
            )
        )
        self.rules_dir = (
            Path(rules_dir)
            if rules_dir
            else (
                Path(settings.path(anomaly.alerts_dir))
                if settings is not None and anomaly
                else None
            )
        )
        self._kn: dict[tuple, Knowledge | None] = {}
        self.problems: dict[str, str] = {}
        for ns in self.namespaces or []:
            if self.knowledge(ns) is None:
                raise WorkbenchError(f"Namespace '{ns}' cannot be asked: {self.problems[ns]}")

    # knowledge ------------------------------------------------------------------------------
    def knowledge(self, namespace: str) -> Knowledge | None:
        space = self.wb.namespace(namespace)
        key = (namespace, space.version, self.wb.principal.context_key)
        if key not in self._kn:
            try:
                models_dir = Path(space.loaded.path).parent
                self._kn[key] = Knowledge(
                    self.wb, namespace, models_dir, self.cache_dir, self.use_embeddings
                )
            except WorkbenchError as e:  # a namespace whose tables this warehouse lacks
                self.problems[namespace] = str(e)
                self._kn[key] = None
        return self._kn[key]

    def all_knowledge(self) -> list[Knowledge]:
        names = self.namespaces or self.wb.namespaces()
        return [k for k in (self.knowledge(n) for n in names) if k is not None]

    def status(self) -> dict:
        from .embeddings import status

        return {
            "embeddings": status() or "on",
            "namespaces": [k.namespace for k in self.all_knowledge()],
            "unavailable": dict(self.problems),
        }

    def conversation(self) -> Conversation:
        return Conversation(self)

    def ask(
        self, question: str, language: str | None = None, today: dt.date | None = None
    ) -> Answer:
        return self.conversation().ask(question, language, today=today)

    # one turn ---------------------------------------------------------------------------------
    def answer(
        self,
        question: str,
        language: str | None,
        prev: Partial | None,
        prev_answer: Answer | None,
        today: dt.date | None = None,
    ) -> tuple[Answer, Partial | None]:
        kns = self.all_knowledge()
        if not kns:
            return Answer("unanswerable", question, sentence="No model can be asked here."), None
        if language is None:
            low = tokenize(question).low
            english = set().union(*(k.lexicon.base_words for k in kns))
            packs = {
                lang: set().union(*(k.packs[lang].vocabulary() for k in kns if lang in k.packs))
                - english
                for lang in LANGUAGES
            }
            language = detect_language(low, packs)
        table = word_table(language)
        toks = tokenize(question, language)
        reader = TimeReader(table, today or self.today or dt.date.today())
        partials = []
        for kn in kns:
            r = read(toks, language, kn, table, reader)
            partials.append((kn, resolve(r), r))
        kn, p, r = self._pick_namespace(partials, prev)
        if prev is not None and prev.namespace == kn.namespace:
            self._values_like_before(p, r, prev)
        if is_followup(prev, p) and prev is not None and prev.namespace == kn.namespace:
            if p.why:
                return self._why(question, language, prev, prev_answer), prev
            p = merge(prev, p)
            nearest_metrics(p, kn)
        elif p.why and prev is None:
            return Answer(
                "unanswerable",
                question,
                language,
                sentence="Ask a question first; then 'why?' explains its answer.",
            ), None
        return self._decide(question, language, kn, p, r, prev_answer)

    @staticmethod
    def _values_like_before(p: Partial, r, prev: Partial) -> None:
        """'and AMERICA?' after a filter on the customer region: the same dimension again."""
        for i, m in enumerate(r.picks):
            if m.how != "value":
                continue
            if m.entry.qualified in prev.filters:
                r.value_ambiguity[:] = [s for s in r.value_ambiguity if m not in s]
                continue
            hit = next(
                (
                    a
                    for a in r.alts.get(i, [])
                    if a.how == "value"
                    and str(a.value) == str(m.value)
                    and a.entry.qualified in prev.filters
                ),
                None,
            )
            if hit is None:
                continue
            f = p.filters.pop(m.entry.qualified, None)
            if f is not None:
                p.filters[hit.entry.qualified] = dict(f, member=hit.entry.query_name)
            r.value_ambiguity[:] = [s for s in r.value_ambiguity if m not in s]

    def _pick_namespace(self, partials, prev: Partial | None):
        def score(item):
            kn, p, r = item
            covered = len(r.covered() - set(r.leftovers))
            said = bool(p.metrics) + bool(p.groupby or p.mentions or p.filters)
            same = prev is not None and prev.namespace == kn.namespace
            return (said > 0, covered * p.score + (0.5 if same else 0), said)

        return max(partials, key=score)

    def _decide(self, question, language, kn: Knowledge, p: Partial, r, prev_answer):
        nearest = self._nearest(kn, p, language)
        future = self._future(p, kn)
        if future:
            return self._unanswerable(question, language, kn, p, future, []), None
        if p.unknown_counted:
            return self._unanswerable(
                question,
                language,
                kn,
                p,
                f"The model counts nothing called '{' '.join(p.unknown_counted)}'.",
                nearest,
            ), None
        if p.unknown_by:
            return self._unanswerable(
                question,
                language,
                kn,
                p,
                f"The model has nothing called '{' '.join(p.unknown_by)}'.",
                nearest,
            ), None
        proper = [
            w
            for i, w in zip(r.leftovers, p.unknown, strict=False)
            if i > 0
            and r.toks.raw[i][:1].isupper()
            and not r.toks.raw[i].isupper()
            and language != "de"
        ]  # German writes every noun with a capital
        if proper and (p.metrics or p.groupby):
            return self._unanswerable(
                question,
                language,
                kn,
                p,
                f"No dimension holds the value '{' '.join(proper)}'.",
                nearest,
            ), None
        said = (
            p.metrics
            or p.groupby
            or p.mentions
            or p.filters
            or p.detail
            or p.segments
            or any(k.startswith("@entity:") for k in p.words)
        )
        if not said:
            if not p.unknown:  # 'how are we doing?', 'compare them': nothing to go on
                return self._open_question(question, language, kn), None
            return self._from_meaning(question, language, kn, p, nearest)
        if (
            p.unknown
            and not p.counted
            and p.metrics
            and all(m in p.entity_metrics for m in p.metrics)
        ):
            return self._unanswerable(
                question,
                language,
                kn,
                p,
                f"The model has nothing for '{' '.join(p.unknown)}'.",
                nearest,
            ), None
        if p.unknown and not p.metrics and not p.detail:
            return self._unanswerable(
                question,
                language,
                kn,
                p,
                f"The model has nothing for '{' '.join(p.unknown)}'.",
                nearest,
            ), None
        if p.top and not p.metrics:
            return self._which_metric(question, language, kn, p), None
        if r.value_ambiguity:
            options = []
            for same in r.value_ambiguity:
                chosen = same[0].entry
                for m in same:
                    alt = swapped(p, {})
                    before = alt.filters.pop(chosen.qualified, {})
                    f = dict(before or {"op": "in", "values": [m.value]})
                    f["member"] = m.entry.query_name
                    alt.filters[m.entry.qualified] = f
                    builds, _ = build_checked(self.wb, alt, kn)
                    if builds:
                        options.append(
                            {
                                "text": f"{m.entry.label} = {m.value}",
                                "query": builds[0].query,
                                "partial": alt,
                            }
                        )
            if len(options) >= 2:
                return self._clarify(question, language, kn, p, options, 0.4), None
        if (
            r.has("average")
            and p.unknown
            and not any(
                "avg" in str(m)
                or "average" in str(m)
                or "/" in str((p.define.get(m) or {}).get("expr", ""))
                for m in p.metrics
            )
        ):
            return self._unanswerable(
                question,
                language,
                kn,
                p,
                f"The model has no average of '{' '.join(p.unknown)}'.",
                nearest,
            ), None
        twins = self._time_twins(p, kn)
        if twins:
            return self._clarify(question, language, kn, p, twins, 0.4), None
        builds, first = build_checked(self.wb, p, kn)
        if not builds:
            why = first.error or "the parts of the question do not fit together"
            return self._unanswerable(
                question, language, kn, p, f"This cannot be answered: {why}", nearest
            ), None
        confidence = builds[0].score * (0.6 ** len(p.unknown)) * (0.9 if p.fuzzy else 1.0)
        options = []
        for _kind, ms in p.ambiguous:
            for m in ms:
                rebuilt = self._rebuilt(p, kn, ms[0].entry.query_name, m.entry.query_name)
                if rebuilt is not None:
                    options.append(
                        {
                            "text": f"{m.entry.label} ({m.entry.qualified})",
                            "query": rebuilt.query,
                            "partial": None,
                        }
                    )
        if len(options) >= 2:
            return self._clarify(question, language, kn, p, options, confidence * 0.6), None
        if len(builds) > 1 and builds[1].score >= builds[0].score - 0.05:
            options = [
                {"text": self._describe(b, kn), "query": b.query, "partial": None}
                for b in builds[:4]
            ]
            return self._clarify(question, language, kn, p, options, confidence * 0.6), None
        if confidence < CLARIFY_BELOW:
            options = [
                {"text": self._describe(b, kn), "query": b.query, "partial": None}
                for b in builds[:3]
            ]
            return self._clarify(question, language, kn, p, options, confidence), None
        ans = self.run(builds[0].query, language, question, p, prev_answer, confidence)
        ans.notes += builds[0].notes
        return ans, (p if ans.kind == "answer" else None)

    def _time_twins(self, p: Partial, kn: Knowledge) -> list[dict]:
        """'refunds by month': two metrics of one name on models with different time dimensions
        (refunds by order date, refunds by return date) - which time is meant is asked back."""
        if not (p.grain or p.time_range) or p.time_dim or len(p.metric_entries) != 1:
            return []
        from .readings import bare_label

        e = p.metric_entries[0]
        twins = [
            x
            for x in kn.entries
            if x.kind in ("metric", "measure") and bare_label(x.label) == bare_label(e.label)
        ]
        times = {x.qualified: kn.default_time(x.model) for x in twins}
        if len(twins) < 2 or len({t.qualified for t in times.values() if t is not None}) < 2:
            return []
        options = []
        for x in twins:
            alt = swapped(p, {e.query_name: x.query_name})
            builds, _ = build_checked(self.wb, alt, kn)
            if builds:
                options.append(
                    {"text": f"{x.label} ({x.qualified})", "query": builds[0].query, "partial": alt}
                )
        return options if len(options) >= 2 else []

    def _future(self, p: Partial, kn: Knowledge) -> str | None:
        """A range that starts after today asks for a forecast: the data cannot answer it."""
        if not p.time_range:
            return None
        from ..semantic.timegrain import parse_time_range

        today = self.today or dt.date.today()
        try:
            start, _ = parse_time_range(p.time_range, today, kn.space.spec.fiscal_year_start_month)
        except WorkbenchError:
            return None
        if start.date() > today:
            return f"'{p.words.get('@time', p.time_range)}' lies in the future; the data holds no forecasts."
        return None

    def _rebuilt(self, p: Partial, kn, old: str, new: str) -> Built | None:
        builds, _ = build_checked(self.wb, swapped(p, {old: new}), kn)
        return builds[0] if builds else None

    def _describe(self, b: Built, kn: Knowledge) -> str:
        return " · ".join(t["text"] for t in tokens_of(b.query, self._labels(kn, b.query), {}))

    def _labels(self, kn: Knowledge, query: dict) -> dict:
        out = {}
        for name in (
            list(query.get("metrics", []))
            + list(query.get("dimensions", []))
            + [f["member"] for f in query.get("where", []) or []]
            + list(query.get("segments", []) or [])
        ):
            e = kn.by_qualified.get(name) or next(
                (x for x in kn.entries if x.query_name == name), None
            )
            if e is not None:
                out[name] = {"label": e.label, "format": e.fmt, "unit": e.unit}
            elif name in (query.get("define") or {}):
                d = query["define"][name]
                out[name] = {"label": d.get("label", name), "format": d.get("format"), "unit": None}
        return out

    # kinds of answer ----------------------------------------------------------------------------
    def run(
        self,
        query: dict,
        language: str,
        question: str,
        p: Partial | None,
        prev_answer: Answer | None,
        confidence: float = 1.0,
    ) -> Answer:
        kw = dict(query)
        target = kw.pop("target")
        if self.today is not None:
            kw["today"] = self.today
        try:
            q = self.wb.query(target, **kw)
            frame = q.execute()
        except WorkbenchError as e:
            return Answer(
                "unanswerable", question, language, query=query, sentence=str(e), confidence=0.0
            )
        kn = self.knowledge(target.split(".")[0])
        labels = self._labels(kn, query) if kn else {}
        words = p.words if p else {}
        toks = tokens_of(query, labels, words)
        ans = Answer(
            "answer",
            question,
            language,
            frame=frame,
            query=query,
            tokens=toks,
            confidence=round(min(1.0, confidence), 3),
            sentence=sentence(frame, query, labels, language, words),
        )
        ans.diff = diff_tokens(prev_answer.tokens if prev_answer else [], toks)
        try:
            ans.sql = q.sql(pretty=False)
        except WorkbenchError:
            ans.sql = None
        return ans

    def _clarify(self, question, language, kn, p, options, confidence) -> Answer:
        text = {"en": "Which do you mean?", "de": "Was meinen Sie?", "es": "¿Qué quiere decir?"}
        partials = [o.get("partial") for o in options]
        options = [{"text": o["text"], "query": o["query"]} for o in options]
        return Answer(
            "clarification",
            question,
            language,
            options=options,
            option_partials=partials,
            confidence=round(confidence, 3),
            sentence=text.get(language, text["en"]) + " " + " | ".join(o["text"] for o in options),
        )

    def _unanswerable(self, question, language, kn, p, why: str, nearest: list[str]) -> Answer:
        near = f" Nearest: {', '.join(nearest)}." if nearest else ""
        return Answer(
            "unanswerable", question, language, nearest=nearest, sentence=why + near, confidence=0.0
        )

    def _nearest(self, kn: Knowledge, p: Partial, language: str) -> list[str]:
        text = " ".join(p.unknown_by or p.unknown)
        if not text:
            return []
        names = []
        if kn.embeddings is not None and kn.embeddings.vectors is not None:
            names = [
                e.query_name
                for e, _ in kn.embeddings.search(text, ("metric", "measure", "dimension"), 5)
            ]
        for e in kn.lexicon.nearest(text, language):
            if e.query_name not in names:
                names.append(e.query_name)
        return names[:5]

    def _from_meaning(self, question, language, kn: Knowledge, p: Partial, nearest):
        """Nothing matched by name: offer the members closest in meaning, never answer."""
        if kn.embeddings is None or kn.embeddings.vectors is None or not p.unknown:
            why = "Nothing in the question names a metric or dimension of the model."
            if kn.embeddings is not None and kn.embeddings.problem:
                why += f" ({kn.embeddings.problem})"
            return self._unanswerable(question, language, kn, p, why, nearest), None
        hits = [
            (e, s)
            for e, s in kn.embeddings.search(" ".join(p.unknown), ("metric", "measure"), 3)
            if s >= 0.7
        ]
        if not hits:
            return self._unanswerable(
                question,
                language,
                kn,
                p,
                "Nothing in the model means what the question asks.",
                nearest,
            ), None
        options = []
        for e, _ in hits:
            alt = Partial(
                kn.namespace,
                metrics=[e.query_name],
                groupby=list(p.groupby),
                time_range=p.time_range,
                grain=p.grain,
                filters=dict(p.filters),
                stated={"metrics"},
            )
            builds, _ = build_checked(self.wb, alt, kn)
            if builds:
                options.append(
                    {"text": f"{e.label} ({e.qualified})", "query": builds[0].query, "partial": alt}
                )
        if not options:
            return self._unanswerable(
                question, language, kn, p, "Nothing in the model fits.", nearest
            ), None
        return self._clarify(question, language, kn, p, options, hits[0][1] * 0.7), None

    def _open_question(self, question, language, kn: Knowledge) -> Answer:
        """A question naming nothing: ask back with a few of the model's metrics."""
        metrics = [e for e in kn.entries if e.kind in ("metric", "measure")][:4]
        options = [
            {
                "text": e.label,
                "query": {"target": kn.namespace, "metrics": [e.query_name]},
                "partial": Partial(kn.namespace, metrics=[e.query_name], stated={"metrics"}),
            }
            for e in metrics
        ]
        return self._clarify(question, language, kn, None, options, 0.1)

    def _which_metric(self, question, language, kn: Knowledge, p: Partial) -> Answer:
        """'What are our best products?': best by which measure? Options from the models joined
        closest to what is ranked."""
        target = [
            kn.by_qualified.get(f) or next((e for e in kn.entries if e.query_name == f), None)
            for f in p.groupby + p.mentions
        ]
        model = next((e.model for e in target if e is not None), None)
        if model is None:
            ent = next((k.split(":", 1)[1] for k in p.words if k.startswith("@entity:")), None)
            model = ent
        cands = [
            e
            for e in kn.entries
            if e.kind in ("metric", "measure")
            and e.dtype in ("sum", "count", "ratio", "derived", "simple")
        ]
        if model:
            cands.sort(key=lambda e: kn.hops(model, e.model))
        options = []
        cands = [e for e in cands if not (e.model == model and e.dtype == "count")]
        for e in cands[:8]:
            alt = swapped(p, {})
            alt.metrics = [e.query_name]
            builds, _ = build_checked(self.wb, alt, kn)
            if builds:
                options.append({"text": f"by {e.label}", "query": builds[0].query, "partial": alt})
            if len(options) >= 3:
                break
        return self._clarify(question, language, kn, p, options, 0.3)

    def _why(self, question, language, prev: Partial, prev_answer: Answer | None) -> Answer:
        from .why import explain

        text, facts, insight = explain(
            self.wb, prev.namespace, prev.metrics, self.incidents_db, self.rules_dir
        )
        if text is None:
            return Answer(
                "unanswerable",
                question,
                language,
                sentence=f"I cannot explain this: {insight}.",
                confidence=0.0,
            )
        ans = Answer(
            "answer",
            question,
            language,
            frame=facts,
            query=prev_answer.query if prev_answer else None,
            tokens=prev_answer.tokens if prev_answer else [],
            sentence=text,
            confidence=0.9,
        )
        ans.insight = insight
        return ans

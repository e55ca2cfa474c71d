"""Time in a question: ranges ('last 90 days', 'Q2 2024', 'since March', 'ytd'), grains
('monthly', 'by week') and comparisons ('compared with last year', '2024 vs 2025'), per language.

Ranges come out in the semantic layer's own syntax (workbench/semantic/timegrain.py), so the
layer, not this module, decides what a range means.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .i18n import WordTable

UNITS = ("day", "week", "month", "quarter", "year")
_YEAR = re.compile(r"(19|20)\d\d")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_QTOK = re.compile(r"q([1-4])")


@dataclass
class TimeHit:
    start: int  # token span [start, end)
    end: int
    kind: str  # range | grain | compare_last_year | years
    value: str = ""  # time range text, grain, or years "2024,2025"
    text: str = ""  # what the person wrote


class TimeReader:
    def __init__(self, table: WordTable, today: dt.date):
        self.t, self.today = table, today
        p = table.phrases
        self.units = {u: p(f"time.units.{u}") for u in UNITS}
        self.grains = {u: p(f"time.grains.{u}") for u in UNITS}
        self.months = [m for m in table.data["time"]["months"]]
        self.month_index = {}
        for i, m in enumerate(table.data["time"]["months"]):
            self.month_index[str(m).lower()] = i + 1
        for i, m in enumerate(table.data["time"].get("months_short", [])):
            self.month_index.setdefault(str(m).lower(), i + 1)
        from .text import fold

        self.month_index = {fold(k): v for k, v in self.month_index.items()}
        self.numbers = {k: int(v) for k, v in table.mapping("numbers").items()}
        self.quarters = {k: int(v) for k, v in table.mapping("time.quarters").items()}
        self.halves = {k: int(v) for k, v in table.mapping("time.halves").items()}
        self.half = table.phrases("time.half")

    # helpers ------------------------------------------------------------------------------
    @staticmethod
    def at(low, i, phrases) -> int:
        for ph in phrases:
            if tuple(low[i : i + len(ph)]) == ph:
                return len(ph)
        return 0

    def unit_at(self, low, i) -> tuple[str, int]:
        for u in UNITS:
            n = self.at(low, i, self.units[u])
            if n:
                return u, n
        return "", 0

    def number_at(self, low, i) -> int | None:
        if i >= len(low):
            return None
        tok = low[i]
        if tok.isdigit() and len(tok) < 5:
            return int(tok)
        return self.numbers.get(tok) if tok in self.numbers and tok not in ("a",) else None

    def month_at(self, low, i) -> int:
        return self.month_index.get(low[i], 0) if i < len(low) else 0

    @staticmethod
    def year_at(low, i) -> int:
        return int(low[i]) if i < len(low) and _YEAR.fullmatch(low[i]) else 0

    def _month_range(self, month: int, year: int | None) -> tuple[str, dt.date]:
        if year is None:
            year = self.today.year if month <= self.today.month else self.today.year - 1
        return f"{year:04d}-{month:02d}", dt.date(year, month, 1)

    # reading ------------------------------------------------------------------------------
    def read(self, low: tuple[str, ...]) -> list[TimeHit]:
        hits: list[TimeHit] = []
        i = 0
        while i < len(low):
            hit = self._read_at(low, i)
            if hit:
                hit.text = " ".join(low[hit.start : hit.end])
                hits.append(hit)
                i = hit.end
            else:
                i += 1
        return self._years_compared(hits, low)

    def _read_at(self, low, i) -> TimeHit | None:  # noqa: C901 -- one branch per time phrase form
        p = self.t.phrases
        for concept, text in (
            ("time.ytd", "ytd"),
            ("time.mtd", "mtd"),
            ("time.qtd", "qtd"),
            ("time.today", "today"),
            ("time.yesterday", "yesterday"),
        ):
            n = self.at(low, i, p(concept))
            if n:
                return TimeHit(i, i + n, "range", text)
        n = self.at(low, i, p("time.last_year_cmp"))
        if n:
            return TimeHit(i, i + n, "compare_last_year")
        for g in UNITS:
            n = self.at(low, i, self.grains[g])
            if n:
                return TimeHit(i, i + n, "grain", g)
        # last/past N units; last/this unit
        for concept, word in (("time.last", "last"), ("time.this", "this"), ("time.next", "next")):
            n = self.at(low, i, p(concept))
            if not n:
                continue
            num = self.number_at(low, i + n)
            if num is not None:
                unit, k = self.unit_at(low, i + n + 1)
                if unit and word != "this":
                    return TimeHit(
                        i,
                        i + n + 1 + k,
                        "range",
                        f"{'next' if word == 'next' else 'last'} {num} {unit}s",
                    )
            unit, k = self.unit_at(low, i + n)
            if unit:
                return TimeHit(
                    i,
                    i + n + k,
                    "range",
                    f"{'last' if word == 'last' else 'this'} {unit}"
                    if word != "next"
                    else f"next 1 {unit}s",
                )
        # a unit followed by 'last' (el año pasado, el trimestre anterior)
        unit, k = self.unit_at(low, i)
        if unit:
            n = self.at(low, i + k, p("time.last"))
            if n:
                return TimeHit(i, i + k + n, "range", f"last {unit}")
            n = self.at(low, i + k, p("time.this"))
            if n:
                return TimeHit(i, i + k + n, "range", f"this {unit}")
        # since ...
        n = self.at(low, i, p("time.since"))
        if n:
            start = self._date_at(low, i + n)
            if start:
                d, k = start
                return TimeHit(i, i + n + k, "range", f"{d.isoformat()}..{self.today.isoformat()}")
        # between X and Y / from X to Y
        n = self.at(low, i, p("time.between"))
        if n:
            first = self._period_at(low, i + n)
            if first:
                (s1, _e1), k1 = first
                m = self.at(low, i + n + k1, p("time.and"))
                second = self._period_at(low, i + n + k1 + m) if m else None
                if second:
                    (_s2, e2), k2 = second
                    last = e2 - dt.timedelta(days=1)
                    return TimeHit(
                        i, i + n + k1 + m + k2, "range", f"{s1.isoformat()}..{last.isoformat()}"
                    )
        q = self._quarter_at(low, i)
        if q:
            return q
        month = self.month_at(low, i)
        if month and not (low[i] in ("may", "mar", "mai") and not self._month_context(low, i)):
            gap = (
                1
                if i + 2 < len(low)
                and low[i + 1] in ("de", "of", "del")
                and self.year_at(low, i + 2)
                else 0
            )
            year = self.year_at(low, i + 1 + gap)
            text, _ = self._month_range(month, year or None)
            return TimeHit(i, i + (2 + gap if year else 1), "range", text)
        year = self.year_at(low, i)
        if year:
            return TimeHit(i, i + 1, "range", str(year))
        unit, k = self.unit_at(low, i)
        if unit == "year" and self.year_at(low, i + k):  # 'im Jahr 2024', 'the year 2024'
            return TimeHit(i, i + k + 1, "range", str(self.year_at(low, i + k)))
        iso = _ISO.fullmatch(low[i])
        if iso:
            return TimeHit(i, i + 1, "range", dt.date(*map(int, iso.groups())).isoformat())
        return None

    def _month_context(self, low, i) -> bool:
        """'may' and 'mar' are months only next to a year or after a time preposition."""
        prev = low[i - 1] if i > 0 else ""
        time_words = {
            w[-1]
            for c in ("time.in", "time.since", "time.until", "time.between")
            for w in self.t.phrases(c)
        }
        return bool(self.year_at(low, i + 1)) or prev in time_words

    def _quarter_at(self, low, i) -> TimeHit | None:
        m = _QTOK.fullmatch(low[i])
        if m:
            qn = int(m.group(1))
            year = self.year_at(low, i + 1)
            if year:
                return TimeHit(i, i + 2, "range", f"{year}-Q{qn}")
            if i > 0 and self.year_at(low, i - 1):
                return None  # handled from the year
            return TimeHit(i, i + 1, "range", f"{self._quarter_year(qn)}-Q{qn}")
        year = self.year_at(low, i)
        if year and i + 1 < len(low) and (m := _QTOK.fullmatch(low[i + 1])):
            return TimeHit(i, i + 2, "range", f"{year}-Q{m.group(1)}")
        if low[i] in self.halves and (k := self.at(low, i + 1, self.half)):
            j = i + 1 + k
            while j < len(low) and low[j] in ("of", "in", "des", "del", "de", "von", "im", "el"):
                j += 1
            year = self.year_at(low, j) or self.today.year
            h = self.halves[low[i]]
            start, last = (
                (f"{year}-01-01", f"{year}-06-30") if h == 1 else (f"{year}-07-01", f"{year}-12-31")
            )
            return TimeHit(
                i, j + 1 if self.year_at(low, j) else i + 1 + k, "range", f"{start}..{last}"
            )
        if low[i] in self.quarters:
            qn = self.quarters[low[i]]
            unit, k = self.unit_at(low, i + 1)
            if unit == "quarter":
                j = i + 1 + k
                while j < len(low) and low[j] in (
                    "of",
                    "in",
                    "des",
                    "del",
                    "de",
                    "von",
                    "im",
                    "el",
                ):
                    j += 1
                year = self.year_at(low, j)
                if year:
                    return TimeHit(i, j + 1, "range", f"{year}-Q{qn}")
                return TimeHit(i, i + 1 + k, "range", f"{self._quarter_year(qn)}-Q{qn}")
        return None

    def _quarter_year(self, qn: int) -> int:
        return self.today.year if 3 * qn - 2 <= self.today.month else self.today.year - 1

    def _date_at(self, low, i) -> tuple[dt.date, int] | None:
        per = self._period_at(low, i)
        return (per[0][0], per[1]) if per else None

    def _period_at(self, low, i) -> tuple[tuple[dt.date, dt.date], int] | None:
        """A year, a month (with or without year), a quarter or an ISO date at i: (start, end)."""
        if i >= len(low):
            return None
        while i < len(low) and low[i] in ("the", "el", "la", "dem", "den", "der", "de"):
            i += 1
            if i >= len(low):
                return None
        skip = 0
        q = self._quarter_at(low, i)
        if q:
            y, qn = q.value.split("-Q")
            s = dt.date(int(y), 3 * int(qn) - 2, 1)
            e = dt.date(s.year + (s.month + 2) // 12, (s.month + 2) % 12 + 1, 1)
            return (s, e), q.end - i
        month = self.month_at(low, i)
        if month:
            year = self.year_at(low, i + 1)
            _, s = self._month_range(month, year or None)
            e = dt.date(s.year + s.month // 12, s.month % 12 + 1, 1)
            return (s, e), (2 if year else 1) + skip
        year = self.year_at(low, i)
        if year:
            return (dt.date(year, 1, 1), dt.date(year + 1, 1, 1)), 1
        m = _ISO.fullmatch(low[i])
        if m:
            d = dt.date(*map(int, m.groups()))
            return (d, d + dt.timedelta(days=1)), 1
        return None

    def _years_compared(self, hits: list[TimeHit], low) -> list[TimeHit]:
        """'2024 vs 2025', '2025 compared with 2024': one hit with both years."""
        compare = self.t.phrases("compare")
        out: list[TimeHit] = []
        for h in hits:
            prev = out[-1] if out else None
            if (
                prev
                and prev.kind == "range"
                and h.kind == "range"
                and _YEAR.fullmatch(prev.value)
                and _YEAR.fullmatch(h.value)
                and any(self.at(low, j, compare) for j in range(prev.end, h.start))
                and h.start - prev.end <= 3
            ):
                years = sorted((int(prev.value), int(h.value)))
                out[-1] = TimeHit(
                    prev.start,
                    h.end,
                    "years",
                    f"{years[0]},{years[1]}",
                    " ".join(low[prev.start : h.end]),
                )
                continue
            out.append(h)
        return out

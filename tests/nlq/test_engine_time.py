"""Time phrases per language, read against a fixed today (2026-12-01), in the layer's syntax."""

from __future__ import annotations

import datetime as dt

import pytest

from workbench.nlq.i18n import detect_language, word_table
from workbench.nlq.text import tokenize
from workbench.nlq.timeparse import TimeReader

TODAY = dt.date(2026, 12, 1)


def read(text: str, lang: str = "en"):
    return [
        (h.kind, h.value)
        for h in TimeReader(word_table(lang), TODAY).read(tokenize(text, lang).low)
    ]


@pytest.mark.parametrize(
    ("text", "lang", "want"),
    [
        ("revenue last 90 days", "en", [("range", "last 90 days")]),
        ("orders in 2019", "en", [("range", "2019")]),
        ("sales Q2 2024", "en", [("range", "2024-Q2")]),
        ("sales in the second quarter of 2025", "en", [("range", "2025-Q2")]),
        ("sales since March", "en", [("range", "2026-03-01..2026-12-01")]),
        ("revenue year to date by month", "en", [("range", "ytd"), ("grain", "month")]),
        (
            "weekly orders compared with last year",
            "en",
            [("grain", "week"), ("compare_last_year", "")],
        ),
        ("revenue 2024 vs 2025", "en", [("years", "2024,2025")]),
        ("revenue between 2024 and 2025", "en", [("range", "2024-01-01..2025-12-31")]),
        ("AOV in the first half of 2024", "en", [("range", "2024-01-01..2024-06-30")]),
        ("may i see revenue", "en", []),  # 'may' is no month here
        ("revenue in may 2025", "en", [("range", "2025-05")]),
        ("Umsatz der letzten 90 Tage", "de", [("range", "last 90 days")]),
        ("Umsatz seit März", "de", [("range", "2026-03-01..2026-12-01")]),
        ("Umsatz im Jahr 2024 monatlich", "de", [("range", "2024"), ("grain", "month")]),
        ("ventas del año pasado", "es", [("range", "last year")]),
        ("ventas de noviembre de 2024 por mes", "es", [("range", "2024-11"), ("grain", "month")]),
        ("ventas en el segundo trimestre de 2025", "es", [("range", "2025-Q2")]),
    ],
)
def test_time_phrases(text, lang, want):
    assert read(text, lang) == want


def test_language_detection():
    assert detect_language(tokenize("Umsatz nach Region im letzten Jahr").low) == "de"
    assert detect_language(tokenize("ventas por región del año pasado").low) == "es"
    assert detect_language(tokenize("revenue by region last year").low) == "en"

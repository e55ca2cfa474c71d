"""The hourly calendar of the retail demo: seasonality, trend, holidays, promotions, and the
expected number of orders per (hour, channel, region) that orders are drawn from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .catalog import Catalog
from .reference import CATEGORIES, CHANNELS, REGIONS, STORE

DAY, HOUR = 86_400, 3_600
EPOCH = dt.date(1970, 1, 1)

# Mid-month demand level Jan..Nov (December is shaped explicitly around Christmas).
MONTH_LEVEL = [0.92, 0.85, 0.95, 1.0, 1.0, 0.97, 0.95, 0.93, 0.98, 1.02, 1.10]
DOW = {  # Mon..Sun
    "store": [0.85, 0.85, 0.90, 0.95, 1.15, 1.55, 0.55],
    "online": [1.12, 1.02, 0.97, 0.95, 0.88, 0.85, 1.21],
    "mobile_app": [1.0, 0.95, 0.95, 1.0, 1.05, 1.1, 1.25],
    "marketplace": [1.0, 1.0, 1.0, 1.0, 1.0, 1.02, 1.05],
}
_ONLINE_HOD = [
    0.35,
    0.2,
    0.12,
    0.08,
    0.07,
    0.1,
    0.2,
    0.4,
    0.6,
    0.75,
    0.85,
    0.9,
    0.95,
    0.9,
    0.85,
    0.85,
    0.9,
    0.95,
    1.1,
    1.3,
    1.45,
    1.4,
    1.1,
    0.7,
]
HOD = {
    "store": [0.0] * 9 + [0.4, 0.6, 0.8, 1.0, 0.9, 0.85, 0.9, 1.0, 1.15, 1.2, 0.9] + [0.0] * 4,
    "online": _ONLINE_HOD,
    "mobile_app": [
        0.3,
        0.15,
        0.08,
        0.05,
        0.05,
        0.1,
        0.35,
        0.8,
        0.9,
        0.6,
        0.55,
        0.7,
        0.95,
        0.8,
        0.6,
        0.6,
        0.7,
        0.9,
        1.1,
        1.3,
        1.5,
        1.5,
        1.2,
        0.7,
    ],
    "marketplace": list(np.power(_ONLINE_HOD, 0.6)),
}
# Stores in the Central region (Germany, Austria, Switzerland) are closed on Sundays.
SUNDAY_CLOSED_REGIONS = {"Central"}


@dataclass
class Calendar:
    start: dt.date
    end: dt.date  # exclusive: history covers [start 00:00, end 00:00)
    hours_s: np.ndarray  # epoch seconds of each hour start
    day_idx: np.ndarray  # per hour
    hod: np.ndarray
    dow: np.ndarray
    month: np.ndarray  # 1..12
    year: np.ndarray
    days: pd.DatetimeIndex  # one entry per day
    holidays: pd.DataFrame = field(default_factory=pd.DataFrame)
    promotions: pd.DataFrame = field(default_factory=pd.DataFrame)
    promo_idx: np.ndarray = field(default_factory=lambda: np.empty(0, int))  # per hour, -1 = none

    @property
    def start_s(self) -> int:
        return int(self.hours_s[0])

    @property
    def end_s(self) -> int:
        return epoch_seconds(self.end)


def epoch_seconds(d: dt.date) -> int:
    return (d - EPOCH).days * DAY


def easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def black_friday(year: int) -> dt.date:
    nov1 = dt.date(year, 11, 1)
    first_thu = 1 + (3 - nov1.weekday()) % 7
    return dt.date(year, 11, first_thu + 22)


def make_calendar(rng: np.random.Generator, start: dt.date, end: dt.date) -> Calendar:
    hours_s = np.arange(epoch_seconds(start), epoch_seconds(end), HOUR, dtype=np.int64)
    ts = pd.to_datetime(hours_s, unit="s")
    days = pd.date_range(start, end - dt.timedelta(days=1), freq="D")
    cal = Calendar(
        start,
        end,
        hours_s,
        ((hours_s - hours_s[0]) // DAY).astype(int),
        ts.hour.to_numpy(),
        ts.dayofweek.to_numpy(),
        ts.month.to_numpy(),
        ts.year.to_numpy(),
        days,
    )
    cal.holidays = _holidays(start, end)
    cal.promotions = _promotions(rng, start, end)
    cal.promo_idx = np.full(len(hours_s), -1)
    for i, p in cal.promotions.iterrows():
        m = (hours_s >= p.start_s) & (hours_s < p.end_s) & (cal.promo_idx < 0)
        cal.promo_idx[m] = i
    return cal


def _holidays(start: dt.date, end: dt.date) -> pd.DataFrame:
    rows = []
    for y in range(start.year, end.year + 1):
        e = easter(y)
        # name, date, hour stores close (0 = closed all day)
        rows += [
            ("New Year's Day", dt.date(y, 1, 1), 0),
            ("Good Friday", e - dt.timedelta(days=2), 0),
            ("Easter Monday", e + dt.timedelta(days=1), 0),
            ("Christmas Eve", dt.date(y, 12, 24), 14),
            ("Christmas Day", dt.date(y, 12, 25), 0),
            ("St Stephen's Day", dt.date(y, 12, 26), 0),
            ("New Year's Eve", dt.date(y, 12, 31), 16),
        ]
    h = pd.DataFrame(rows, columns=["holiday", "date", "stores_close_hour"])
    h = h[(h.date >= start) & (h.date < end)].sort_values("date").reset_index(drop=True)
    h["stores_closed"] = h.stores_close_hour == 0
    return h


def _promotions(rng: np.random.Generator, start: dt.date, end: dt.date) -> pd.DataFrame:
    cats = [c[0] for c in CATEGORIES]
    rows = []
    for y in range(start.year - 1, end.year + 1):
        yy = f"{y % 100:02d}"
        bf = black_friday(y)
        rows += [
            (f"WINTERSALE{yy}", "Winter sale", dt.date(y, 1, 2), 14, 20, None, 1.25),
            (f"SPRING{yy}", "Spring garden days", dt.date(y, 3, 15), 5, 15, "Garden", 1.08),
            (f"SUMMER{yy}", "Summer sale", dt.date(y, 7, 1), 14, 20, None, 1.30),
            (f"BACK2SCHOOL{yy}", "Back to school", dt.date(y, 8, 25), 6, 15, "Books & Media", 1.05),
            (f"BLACKFRIDAY{yy}", "Black Friday weekend", bf, 4, 25, None, 2.10),
        ]
        for k, (m0, m1) in enumerate([(2, 2), (5, 6), (10, 10)]):
            day = dt.date(y, int(rng.integers(m0, m1 + 1)), int(rng.integers(3, 25)))
            cat = cats[int(rng.integers(len(cats)))]
            rows.append((f"FLASH{yy}{k + 1}", f"Flash sale: {cat}", day, 2, 30, cat, 1.10))
    p = pd.DataFrame(
        rows,
        columns=[
            "promo_code",
            "name",
            "start_date",
            "days",
            "discount_pct",
            "category",
            "volume_lift",
        ],
    )
    p["end_date"] = [
        d + dt.timedelta(days=int(n)) for d, n in zip(p.start_date, p.days, strict=True)
    ]
    p = (
        p[(p.end_date > start) & (p.start_date < end)]
        .sort_values("start_date")
        .reset_index(drop=True)
    )
    p["start_s"] = [epoch_seconds(d) for d in p.start_date]
    p["end_s"] = [epoch_seconds(d) for d in p.end_date]
    p["category_idx"] = [cats.index(c) if isinstance(c, str) else -1 for c in p.category]
    return p.drop(columns="days")


def _yearly_level(days: pd.DatetimeIndex) -> np.ndarray:
    doy = days.dayofyear.to_numpy()
    mids = np.array([15, 45, 74, 105, 135, 166, 196, 227, 258, 288, 319, 349]) - 0.5
    level = np.interp(doy, mids, MONTH_LEVEL + [1.25])
    dec = days.month == 12
    d = days.day.to_numpy()
    # Christmas shopping ramps up, collapses on the holidays, then post-Christmas sales.
    christmas = np.select(
        [d <= 23, d == 24, d == 25, d == 26], [1.2 + 0.6 * (d - 1) / 22, 0.9, 0.35, 0.7], 1.1
    )
    return np.where(dec, christmas, level)


def expected_orders(cal: Calendar, cat: Catalog, target_orders: float) -> np.ndarray:
    """lam[hour, channel, region]: expected orders, normalised so the total is `target_orders`."""
    n_h = len(cal.hours_s)
    years = (cal.hours_s - cal.hours_s[0]) / (365.25 * DAY)
    yearly = _yearly_level(cal.days)[cal.day_idx]
    lift = np.ones(n_h)
    has_promo = cal.promo_idx >= 0
    lift[has_promo] = cal.promotions.volume_lift.to_numpy()[cal.promo_idx[has_promo]]
    region_share = np.array([r[4] for r in REGIONS])
    lam = np.zeros((n_h, len(CHANNELS), len(REGIONS)))
    for c, (_cid, name, _g, _comm, share, growth) in enumerate(CHANNELS):
        base = (
            yearly
            * lift
            * np.exp(growth * years)
            * np.array(DOW[name])[cal.dow]
            * np.array(HOD[name])[cal.hod]
        )
        if c == STORE:
            lam[:, c, :] = base[:, None] * _store_capacity(cal, cat)
        else:
            lam[:, c, :] = base[:, None] * region_share[None, :]
        lam[:, c, :] *= share * target_orders / lam[:, c, :].sum()
    return lam


def _store_capacity(cal: Calendar, cat: Catalog) -> np.ndarray:
    """Relative in-store demand per hour and region: the weight of open stores, zero when closed."""
    stores = cat.stores[cat.stores.store_type != "fulfilment_centre"]
    cap = np.zeros((len(cal.hours_s), len(REGIONS)))
    for r, region in enumerate(REGIONS):
        s = stores[stores.region_id == region[0]]
        opened = cal.hours_s[:, None] >= s.opened_at.to_numpy()[None, :]
        cap[:, r] = (opened * s.weight.to_numpy()[None, :]).sum(axis=1) / s.weight.sum() * region[4]
        if region[1] in SUNDAY_CLOSED_REGIONS:
            cap[cal.dow == 6, r] = 0.0
    sunday = cal.dow == 6
    cap[sunday & ((cal.hod < 11) | (cal.hod >= 18))] = 0.0
    for _, h in cal.holidays.iterrows():
        day = (cal.hours_s >= epoch_seconds(h.date)) & (cal.hours_s < epoch_seconds(h.date) + DAY)
        cap[day & (cal.hod >= h.stores_close_hour)] = 0.0
    return cap

"""Labelled incidents injected into the retail demo, the ground truth for anomaly detection.

Each incident is planned on a quiet day (no promotion, no holiday) at a fixed fraction of the
history, then applied where it belongs: outages scale the expected-orders grid, the pricing
error and the fraud burst add orders, the returns spike raises return probabilities.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .calendar import DAY, HOUR, Calendar, epoch_seconds
from .catalog import Catalog, price_cents_in_year
from .orders import Frame
from .reference import CATEGORIES, CHANNELS, FIRST_NAMES, LAST_NAMES, REGIONS

CHANNEL_IDX = {c[1]: i for i, c in enumerate(CHANNELS)}
REGION_IDX = {r[1]: i for i, r in enumerate(REGIONS)}
CATEGORY_IDX = {c[0]: i for i, c in enumerate(CATEGORIES)}


@dataclass
class Incident:
    incident_id: int
    kind: str
    start_s: int
    end_s: int
    dimension: str
    dimension_value: str
    where: str  # the affected slice, in the semantic layer's filter language
    metric: str
    direction: str
    magnitude: float  # outage: volume multiplier; pricing_error: price multiplier;
    #                        returns_spike: return probability; fraud_burst: none (orders are added)
    description: str
    params: dict = field(default_factory=dict)


def _quiet_day(cal: Calendar, frac: float, weekdays: tuple[int, ...] = tuple(range(7))) -> dt.date:
    """The first day at or after `frac` of the history with no promotion or holiday."""
    busy = set(cal.holidays.date)
    for _, p in cal.promotions.iterrows():
        busy |= {
            p.start_date + dt.timedelta(days=k)
            for k in range(-1, (p.end_date - p.start_date).days + 1)
        }
    day = cal.start + dt.timedelta(days=int(frac * (cal.end - cal.start).days))
    while day in busy or day.weekday() not in weekdays or (day.month == 12 and day.day > 15):
        day += dt.timedelta(days=1)
    return day


def plan_incidents(rng: np.random.Generator, cal: Calendar, cat: Catalog) -> list[Incident]:
    products = cat.products
    appliances = products[
        (products.category == "Home Appliances") & (products.list_price.between(120, 700))
    ]
    victim = appliances.sort_values(["popularity", "product_id"], ascending=[False, True]).iloc[0]
    d = [
        _quiet_day(cal, f, wd)
        for f, wd in [
            (0.62, (1, 2, 3)),
            (0.75, (0, 1, 2, 3)),
            (0.83, (0, 1, 2, 3, 4)),
            (0.90, (1, 2, 3)),
            (0.96, (1, 2, 3)),
        ]
    ]
    s = [epoch_seconds(x) for x in d]
    h = int(rng.integers(9, 12))  # hour the pricing error goes live
    # A decimal-point slip: one tenth of the price the product had on that day.
    list_cents = int(round(victim.list_price * 100))
    right = int(price_cents_in_year(list_cents, (cal.end - dt.timedelta(days=1)).year - d[0].year))
    wrong = round(right / 10)
    return [
        Incident(
            1,
            "pricing_error",
            s[0] + h * HOUR,
            s[0] + (h + 6) * HOUR,
            "product",
            str(victim.product_name),
            f"product = '{victim.product_name}'",
            "unit_price",
            "drop",
            0.1,
            f"{victim.product_name} (Home Appliances) listed at {wrong / 100:.2f} EUR instead of "
            f"{right / 100:.2f} EUR for 6 hours: unit price and gross margin collapse, "
            "units of the product and of its category spike as the deal spreads.",
            {"product_idx": int(victim.product_id) - 1, "wrong_cents": wrong},
        ),
        Incident(
            2,
            "outage",
            s[1] + 18 * HOUR,
            s[1] + 23 * HOUR,
            "channel",
            "online",
            "channel = 'online'",
            "orders",
            "drop",
            0.02,
            "Web shop checkout outage from 18:00 to 23:00 in all regions: online orders fall to "
            "about 2% of normal; the mobile app and marketplace are unaffected.",
        ),
        Incident(
            3,
            "returns_spike",
            s[2],
            s[2] + 14 * DAY,
            "category",
            "Footwear",
            "category = 'Footwear' and channel != 'store'",
            "return_rate",
            "spike",
            0.65,
            "A wrong size chart on the product pages (web shop, app and marketplace listing) for two "
            "weeks: footwear ordered through a digital channel in this window is returned with "
            "probability 0.65 instead of about 0.2. Returns arrive 1-3 weeks after the orders "
            "(returned_at lags start_ts/end_ts, which bound the order dates).",
            {
                "category_idx": CATEGORY_IDX["Footwear"],
                "channels": [
                    CHANNEL_IDX["online"],
                    CHANNEL_IDX["mobile_app"],
                    CHANNEL_IDX["marketplace"],
                ],
            },
        ),
        Incident(
            4,
            "fraud_burst",
            s[3] + 1 * HOUR,
            s[3] + 4 * HOUR,
            "region",
            "Central",
            "channel = 'online' and region = 'Central'",
            "revenue",
            "spike",
            float("nan"),
            "Card-testing fraud ring: six accounts created minutes before the burst place many "
            "high-value electronics orders online in Central between 01:00 and 04:00. Revenue, "
            "AOV, orders per customer and new customers spike at night; the affected orders are "
            "listed in incident_orders.",
        ),
        Incident(
            5,
            "outage",
            s[4],
            s[4] + DAY,
            "region",
            "West",
            "channel = 'store' and region = 'West'",
            "orders",
            "drop",
            0.0,
            "Point-of-sale outage in every West store for a whole business day: no in-store "
            "orders in West; digital channels (and their West fulfilment centre) are unaffected.",
        ),
    ]


def apply_outages(lam: np.ndarray, cal: Calendar, incidents: list[Incident]) -> None:
    for inc in incidents:
        if inc.kind != "outage":
            continue
        hours = (cal.hours_s >= inc.start_s) & (cal.hours_s < inc.end_s)
        if inc.dimension == "channel":
            lam[hours, CHANNEL_IDX[inc.dimension_value], :] *= inc.magnitude
        else:
            lam[hours, CHANNEL_IDX["store"], REGION_IDX[inc.dimension_value]] *= inc.magnitude


def pricing_error_orders(
    rng: np.random.Generator, inc: Incident, cat: Catalog, sampler, scale: float, store_for_region
) -> tuple[Frame, Frame]:
    """Bargain hunters: extra digital orders of the mispriced product, several units each."""
    n = max(30, int(round(250 * scale)))
    t = np.sort(inc.start_s + rng.integers(0, inc.end_s - inc.start_s, n))
    # Word spreads: later hours get more orders.
    t = inc.start_s + ((t - inc.start_s) ** 0.6 * (inc.end_s - inc.start_s) ** 0.4).astype(np.int64)
    region = rng.choice(len(REGIONS), n, p=np.array([r[4] for r in REGIONS]))
    channel = rng.choice([1, 2, 3], n, p=[0.5, 0.35, 0.15])
    orders = {
        "t": t,
        "channel": channel,
        "region": region,
        "store_id": store_for_region(region),
        "customer_id": sampler.sample(rng, region, t),
        "promo": np.full(n, -1),
        "uses_promo": np.zeros(n, bool),
        "incident_id": np.full(n, inc.incident_id),
    }
    lines = {
        "order": np.arange(n),
        "product": np.full(n, inc.params["product_idx"]),
        "qty": rng.integers(1, 6, n),
        "disc_pct": np.zeros(n, np.int64),
        "promo_line": np.zeros(n, bool),
        "price_cents": np.full(n, -1, np.int64),
    }
    return orders, lines


def fraud_customers(rng: np.random.Generator, inc: Incident, first_id: int) -> pd.DataFrame:
    k = 6
    signup = inc.start_s - rng.integers(5 * 60, 50 * 60, k)
    handles = ["".join(rng.choice(list("abcdefghkmnpqrstuvwxyz23456789"), 9)) for _ in range(k)]
    r = REGION_IDX[inc.dimension_value]
    return pd.DataFrame(
        {
            "customer_id": np.arange(first_id, first_id + k),
            "name": [
                f"{a} {b}"
                for a, b in zip(rng.choice(FIRST_NAMES, k), rng.choice(LAST_NAMES, k), strict=True)
            ],
            "email": [f"{h}@mail.example" for h in handles],
            "city": "Berlin",
            "country": "Germany",
            "country_code": "DE",
            "region_id": REGIONS[r][0],
            "region": REGIONS[r][1],
            "segment": "consumer",
            "signup_at": signup,
            "activity": 0.0,
            "segment_idx": 0,
            "region_idx": r,
        }
    )


def fraud_orders(
    rng: np.random.Generator,
    inc: Incident,
    cat: Catalog,
    customers: pd.DataFrame,
    scale: float,
    store_for_region,
) -> tuple[Frame, Frame]:
    n = max(25, int(round(120 * scale)))
    t = np.sort(inc.start_s + rng.integers(0, inc.end_s - inc.start_s, n))
    region = np.full(n, REGION_IDX[inc.dimension_value])
    p = cat.products
    electronics = p[p.category == "Electronics"]
    pricey = electronics[electronics.list_price >= electronics.list_price.quantile(0.7)]
    n_lines = rng.integers(1, 3, n)
    line_order = np.repeat(np.arange(n), n_lines)
    product = rng.choice(pricey.product_id.to_numpy() - 1, len(line_order))
    _, first = np.unique(line_order * 10_000 + product, return_index=True)
    line_order, product = line_order[first], product[first]
    m = len(product)
    orders = {
        "t": t,
        "channel": np.full(n, CHANNEL_IDX["online"]),
        "region": region,
        "store_id": store_for_region(region),
        "customer_id": rng.choice(customers.customer_id.to_numpy(), n),
        "promo": np.full(n, -1),
        "uses_promo": np.zeros(n, bool),
        "incident_id": np.full(n, inc.incident_id),
    }
    lines = {
        "order": line_order,
        "product": product,
        "qty": rng.integers(1, 4, m),
        "disc_pct": np.zeros(m, np.int64),
        "promo_line": np.zeros(m, bool),
        "price_cents": np.full(m, -1, np.int64),
    }
    return orders, lines


def incidents_table(incidents: list[Incident]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "incident_id": [i.incident_id for i in incidents],
            "kind": [i.kind for i in incidents],
            "start_ts": pd.to_datetime([i.start_s for i in incidents], unit="s"),
            "end_ts": pd.to_datetime([i.end_s for i in incidents], unit="s"),
            "dimension": [i.dimension for i in incidents],
            "dimension_value": [i.dimension_value for i in incidents],
            "filter": [i.where for i in incidents],
            "metric": [i.metric for i in incidents],
            "direction": [i.direction for i in incidents],
            "magnitude": [i.magnitude for i in incidents],
            "description": [i.description for i in incidents],
        }
    )

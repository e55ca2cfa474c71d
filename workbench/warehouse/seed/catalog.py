"""Reference data of the retail demo: regions, stores, channels, categories, products, customers.

Everything here is either a constant table (:mod:`.reference`) or drawn from a dedicated random
stream, so changing how orders are generated never changes the products or the customers.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from .reference import (
    BRANDS,
    CATEGORIES,
    CHANNELS,
    CITIES,
    DAY,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    N_PRODUCTS,
    NOUNS,
    REGIONS,
    SEGMENT_ACTIVITY,
    SEGMENT_SHARE,
    SEGMENTS,
)


@dataclass
class Catalog:
    regions: pd.DataFrame
    stores: pd.DataFrame
    channels: pd.DataFrame
    categories: pd.DataFrame
    products: pd.DataFrame


def price_cents_in_year(
    list_cents: npt.ArrayLike, years_back: npt.ArrayLike, inflation: float = 1.035
) -> np.ndarray:
    """Price `years_back` years before today's list price, keeping the .99 endings."""
    f = inflation ** np.asarray(years_back)
    return (np.round((np.asarray(list_cents) + 1) / f / 100) * 100 - 1).astype(np.int64)


def _ascii(s: str) -> str:
    return (
        unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode().lower().replace(" ", "")
    )


def build_catalog(rng: np.random.Generator, start_s: int, end_s: int) -> Catalog:
    regions = pd.DataFrame(
        [(r[0], r[1], r[2], r[3]) for r in REGIONS],
        columns=["region_id", "region", "region_code", "hq_city"],
    )
    channels = pd.DataFrame(
        [(c[0], c[1], c[2], c[3]) for c in CHANNELS],
        columns=["channel_id", "channel", "channel_group", "commission_rate"],
    )
    categories = pd.DataFrame(
        [(i + 1, c[0], c[1], c[5], c[6]) for i, c in enumerate(CATEGORIES)],
        columns=["category_id", "category", "department", "cost_ratio", "expected_return_rate"],
    )
    return Catalog(regions, _stores(rng, start_s, end_s), channels, categories, _products(rng))


def _stores(rng: np.random.Generator, start_s: int, end_s: int) -> pd.DataFrame:
    region_name = {r[0]: r[1] for r in REGIONS}
    suffixes = ["Centrum", "Station", "Mall", "Old Town", "Harbour", "Park"]
    rows: list[list[object]] = []
    for city, country, code, region_id, pop in CITIES:
        n = 2 if pop >= 3.0 else 1
        for k in range(n):
            kind = (
                "flagship"
                if (k == 0 and pop >= 4.0)
                else ("outlet" if k == 1 and pop < 3.5 else "standard")
            )
            rows.append(
                [
                    f"{city} {suffixes[(len(rows) + k) % len(suffixes)]}",
                    kind,
                    city,
                    country,
                    code,
                    region_id,
                    pop,
                ]
            )
    stores = pd.DataFrame(
        rows,
        columns=["store_name", "store_type", "city", "country", "country_code", "region_id", "pop"],
    )
    span = end_s - start_s
    opened = start_s - rng.integers(2 * 365, 15 * 365, len(stores)) * DAY
    # Three stores open during the history: visible level shifts in their region.
    for idx, frac in zip(
        rng.choice(np.flatnonzero(stores["store_type"] != "flagship"), 3, replace=False),
        (0.22, 0.48, 0.71),
        strict=True,
    ):
        opened[idx] = start_s + int(frac * span) // DAY * DAY
    stores["opened_at"] = opened
    stores["weight"] = stores["pop"] ** 0.4 * stores["store_type"].map(
        {"flagship": 1.7, "standard": 1.0, "outlet": 0.7}
    )
    stores["square_meters"] = (
        stores["weight"] * 1500 + rng.integers(-200, 200, len(stores))
    ).round(-1)
    # One fulfilment centre per region serves its digital orders.
    fcs = pd.DataFrame(
        {
            "store_name": [f"Fulfilment Centre {r[3]}" for r in REGIONS],
            "store_type": "fulfilment_centre",
            "city": [r[3] for r in REGIONS],
            "country": [next(c[1] for c in CITIES if c[0] == r[3]) for r in REGIONS],
            "country_code": [next(c[2] for c in CITIES if c[0] == r[3]) for r in REGIONS],
            "region_id": [r[0] for r in REGIONS],
            "pop": 0.0,
            "opened_at": start_s - 6 * 365 * DAY,
            "weight": 0.0,
            "square_meters": 20000.0,
        }
    )
    stores = pd.concat([stores, fcs], ignore_index=True)
    stores.insert(0, "store_id", np.arange(1, len(stores) + 1))
    stores["region"] = stores["region_id"].map(region_name)
    return stores.drop(columns="pop")


def _products(rng: np.random.Generator) -> pd.DataFrame:
    shares = np.array([c[2] for c in CATEGORIES])
    counts = np.maximum(20, np.round(shares / shares.sum() * N_PRODUCTS)).astype(int)
    rows = []
    for ci, (cat, dept, _share, median, sigma, cost_ratio, _rr, _q, _seas) in enumerate(CATEGORIES):
        n = counts[ci]
        prices = np.exp(np.log(median) + sigma * rng.standard_normal(n))
        prices = np.maximum(1, np.round(prices)) - 0.01  # charm pricing: 49.99
        costs = np.round(prices * cost_ratio * rng.uniform(0.85, 1.15, n), 2)
        brands = rng.choice(BRANDS[dept], n)
        nouns = rng.choice(NOUNS[cat], n)
        # Cheaper items sell more often; Zipf-like popularity inside the category.
        pop = rng.permutation(1.0 / np.arange(1, n + 1) ** 0.9) * (median / prices) ** 0.3
        for j in range(n):
            rows.append(
                [
                    ci + 1,
                    cat,
                    f"{brands[j]} {nouns[j]} {chr(65 + j % 26)}{100 + j}",
                    brands[j],
                    prices[j],
                    costs[j],
                    pop[j],
                ]
            )
    products = pd.DataFrame(
        rows,
        columns=[
            "category_id",
            "category",
            "product_name",
            "brand",
            "list_price",
            "unit_cost",
            "popularity",
        ],
    )
    products.insert(0, "product_id", np.arange(1, len(products) + 1))
    products.insert(
        1,
        "sku",
        [
            f"SKU-{c:02d}-{p:05d}"
            for c, p in zip(products.category_id, products.product_id, strict=True)
        ],
    )
    return products


def make_customers(rng: np.random.Generator, n: int, start_s: int, end_s: int) -> pd.DataFrame:
    """Customers with a home city; 40% signed up before the history starts, the rest during it
    at a rate that grows with the business."""
    region_share = np.array([r[4] for r in REGIONS])
    region_idx = rng.choice(len(REGIONS), n, p=region_share / region_share.sum())
    city_idx = np.empty(n, dtype=int)
    for r in range(len(REGIONS)):
        cities = [i for i, c in enumerate(CITIES) if c[3] == REGIONS[r][0]]
        w = np.array([CITIES[i][4] for i in cities])
        m = region_idx == r
        city_idx[m] = rng.choice(cities, m.sum(), p=w / w.sum())
    pre = rng.random(n) < 0.4
    signup = np.empty(n, dtype=np.int64)
    signup[pre] = start_s - rng.integers(1, 4 * 365 * DAY, pre.sum())
    g, span = 0.6, (end_s - start_s)
    u = rng.random((~pre).sum())
    signup[~pre] = start_s + (np.log1p(u * np.expm1(g)) / g * span).astype(np.int64)
    segment = rng.choice(3, n, p=SEGMENT_SHARE)
    first = rng.choice(FIRST_NAMES, n)
    last = rng.choice(LAST_NAMES, n)
    dom = rng.choice(EMAIL_DOMAINS, n)
    ids = np.arange(1, n + 1)
    ascii_name = {x: _ascii(x) for x in FIRST_NAMES + LAST_NAMES}
    return pd.DataFrame(
        {
            "customer_id": ids,
            "name": [f"{a} {b}" for a, b in zip(first, last, strict=True)],
            "email": [
                f"{ascii_name[a]}.{ascii_name[b]}{i}@{d}"
                for a, b, i, d in zip(first, last, ids, dom, strict=True)
            ],
            "city": [CITIES[i][0] for i in city_idx],
            "country": [CITIES[i][1] for i in city_idx],
            "country_code": [CITIES[i][2] for i in city_idx],
            "region_id": [REGIONS[r][0] for r in region_idx],
            "region": [REGIONS[r][1] for r in region_idx],
            "segment": [SEGMENTS[s] for s in segment],
            "signup_at": signup,
            "activity": rng.lognormal(0.0, 1.0, n) * np.array(SEGMENT_ACTIVITY)[segment],
            "segment_idx": segment,
            "region_idx": region_idx,
        }
    )

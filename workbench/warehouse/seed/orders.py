"""Drawing orders and order lines from the expected-orders grid, vectorised with numpy.

Orders and lines are kept as dicts of equal-length numpy arrays ("frames") until the
final tables are assembled in finalize.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .calendar import HOUR, Calendar
from .catalog import Catalog
from .reference import CATEGORIES, DAY, REGIONS, STORE

Frame = dict[str, np.ndarray]

LINES_MEAN = [1.3, 1.2, 0.9, 0.4]  # extra lines per order (Poisson) by channel
NEW_CUSTOMER_SHARE = 0.07  # orders placed by someone who signed up in the last 2 weeks


def concat(frames: list[Frame]) -> Frame:
    return {k: np.concatenate([f[k] for f in frames]) for k in frames[0]}


def take(frame: Frame, idx: np.ndarray) -> Frame:
    return {k: v[idx] for k, v in frame.items()}


class CustomerSampler:
    """Picks, for an order placed at time t in region r, a customer of that region who had
    signed up by t, proportionally to the customer's activity."""

    def __init__(self, customers: pd.DataFrame):
        self.by_region = []
        for r in range(len(REGIONS)):
            c = customers[customers.region_idx == r].sort_values(["signup_at", "customer_id"])
            self.by_region.append(
                (c.customer_id.to_numpy(), c.signup_at.to_numpy(), np.cumsum(c.activity.to_numpy()))
            )

    def sample(self, rng: np.random.Generator, region: np.ndarray, t: np.ndarray) -> np.ndarray:
        out = np.empty(len(t), dtype=np.int64)
        u, u_new = rng.random(len(t)), rng.random(len(t))
        is_new = rng.random(len(t)) < NEW_CUSTOMER_SHARE
        for r, (ids, signup, cumw) in enumerate(self.by_region):
            m = np.flatnonzero(region == r)
            if not len(m):
                continue
            k = np.maximum(np.searchsorted(signup, t[m], "right"), 1)
            j = np.minimum(np.searchsorted(cumw, u[m] * cumw[k - 1], "right"), k - 1)
            lo = np.searchsorted(signup, t[m] - 14 * DAY, "left")
            recent = is_new[m] & (k > lo)
            j[recent] = lo[recent] + (u_new[m][recent] * (k[recent] - lo[recent])).astype(np.int64)
            out[m] = ids[j]
        return out


def sample_stores(
    rng: np.random.Generator, cat: Catalog, channel: np.ndarray, region: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """In-store orders go to an open store of the region (by store weight); digital orders are
    fulfilled by the region's fulfilment centre."""
    st = cat.stores
    fc = st[st.store_type == "fulfilment_centre"].set_index("region_id").store_id
    out = fc.loc[[REGIONS[r][0] for r in region]].to_numpy().copy()
    phys = st[st.store_type != "fulfilment_centre"]
    u = rng.random(len(t))
    for r, reg in enumerate(REGIONS):
        s = phys[phys.region_id == reg[0]].sort_values(["opened_at", "store_id"])
        opened, cumw, ids = (
            s.opened_at.to_numpy(),
            np.cumsum(s.weight.to_numpy()),
            s.store_id.to_numpy(),
        )
        m = np.flatnonzero((channel == STORE) & (region == r))
        k = np.maximum(np.searchsorted(opened, t[m], "right"), 1)
        out[m] = ids[np.minimum(np.searchsorted(cumw, u[m] * cumw[k - 1], "right"), k - 1)]
    return out


def draw_orders(
    rng: np.random.Generator, cal: Calendar, cat: Catalog, sampler: CustomerSampler, lam: np.ndarray
) -> Frame:
    counts = rng.poisson(lam).ravel()
    cell = np.repeat(np.arange(lam.size), counts)
    h, c, r = np.unravel_index(cell, lam.shape)
    t = cal.hours_s[h] + rng.integers(0, HOUR, len(cell))
    promo = cal.promo_idx[h]
    # Customers who see a running promotion use its code more often online than at the till.
    p_use = np.array([0.35, 0.55, 0.55, 0.25])[c]
    return {
        "t": t,
        "channel": c,
        "region": r,
        "store_id": sample_stores(rng, cat, c, r, t),
        "customer_id": sampler.sample(rng, r, t),
        "promo": promo,
        "uses_promo": (promo >= 0) & (rng.random(len(cell)) < p_use),
        "incident_id": np.zeros(len(cell), dtype=np.int64),
    }


def draw_lines(
    rng: np.random.Generator, cal: Calendar, cat: Catalog, customers: pd.DataFrame, orders: Frame
) -> Frame:
    n = len(orders["t"])
    seg = customers.segment_idx.to_numpy()[orders["customer_id"] - 1]
    business = seg == 2
    mu = np.array(LINES_MEAN)[orders["channel"]] + 0.8 * business
    n_lines = 1 + np.minimum(rng.poisson(mu), 9)
    line_order = np.repeat(np.arange(n), n_lines)
    month = pd.to_datetime(orders["t"], unit="s").month.to_numpy()[line_order]
    promo = orders["promo"][line_order]
    promo_cat = np.append(cal.promotions.category_idx.to_numpy(), -1)[promo]
    category = _draw_categories(rng, month, promo, promo_cat)
    product = _draw_products(rng, cat.products, category)
    # An order holds each product on one line only.
    _, first = np.unique(line_order * 10_000 + product, return_index=True)
    line_order, category, product, promo_cat = (
        line_order[first],
        category[first],
        product[first],
        promo_cat[first],
    )
    qmu = np.array([c[7] for c in CATEGORIES])[category] * np.where(business[line_order], 2.5, 1.0)
    qty = 1 + np.minimum(rng.poisson(qmu), 11)
    promo_line = orders["uses_promo"][line_order] & ((promo_cat < 0) | (promo_cat == category))
    disc_pct = np.where(
        promo_line, np.append(cal.promotions.discount_pct.to_numpy(), 0)[promo[first]], 0
    )
    clearance = ~promo_line & (rng.random(len(product)) < 0.03)
    disc_pct[clearance] = rng.choice([10, 20, 30], clearance.sum())
    return {
        "order": line_order,
        "product": product,
        "qty": qty,
        "disc_pct": disc_pct.astype(np.int64),
        "promo_line": promo_line,
        "price_cents": np.full(len(product), -1, dtype=np.int64),
    }


def _draw_categories(
    rng: np.random.Generator, month: np.ndarray, promo: np.ndarray, promo_cat: np.ndarray
) -> np.ndarray:
    share = np.array([c[2] for c in CATEGORIES])
    seas = np.array([c[8] for c in CATEGORIES])  # (n_cat, 12)
    key = month * 1_000 + (promo + 1)
    out = np.empty(len(month), dtype=np.int64)
    u = rng.random(len(month))
    order = np.argsort(key, kind="stable")
    keys, starts = np.unique(key[order], return_index=True)
    bounds = np.append(starts, len(order))
    for i, k in enumerate(keys):
        idx = order[bounds[i] : bounds[i + 1]]
        w = share * seas[:, k // 1_000 - 1]
        pc = promo_cat[idx[0]]
        if pc >= 0:
            w[pc] *= 2.5  # a category promotion pulls its category
        cum = np.cumsum(w / w.sum())
        out[idx] = np.minimum(np.searchsorted(cum, u[idx], "right"), len(w) - 1)
    return out


def _draw_products(
    rng: np.random.Generator, products: pd.DataFrame, category: np.ndarray
) -> np.ndarray:
    """Product index (0-based) within the drawn category, by popularity."""
    cat_idx = products.category_id.to_numpy() - 1  # products are sorted by category
    cum = np.cumsum(products.popularity.to_numpy())
    lo_pos = np.searchsorted(cat_idx, np.arange(len(CATEGORIES)), "left")
    hi_pos = np.searchsorted(cat_idx, np.arange(len(CATEGORIES)), "right")
    lo_cum = np.where(lo_pos > 0, cum[np.maximum(lo_pos - 1, 0)], 0.0)
    hi_cum = cum[hi_pos - 1]
    x = lo_cum[category] + rng.random(len(category)) * (hi_cum - lo_cum)[category]
    p = np.searchsorted(cum, x, "right")
    return np.clip(p, lo_pos[category], hi_pos[category] - 1)

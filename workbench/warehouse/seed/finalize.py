"""Turn drawn orders and lines into the warehouse tables: prices, amounts (integer cents, so
that order totals equal the sum of their lines exactly), status, shipping, returns, payments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .calendar import DAY, HOUR, Calendar
from .catalog import Catalog, price_cents_in_year
from .incidents import CHANNEL_IDX, Incident
from .orders import Frame, take
from .reference import CATEGORIES

PRICE_INFLATION = 1.035  # list prices rise 3.5% every 1 January
CANCEL_RATE = [0.004, 0.035, 0.03, 0.045]
RETURN_CHANNEL_FACTOR = [0.6, 1.3, 1.2, 1.1]
RETURN_REASONS = [
    "changed_mind",
    "damaged",
    "wrong_size",
    "not_as_described",
    "defective",
    "late_delivery",
]
PAYMENT_METHODS = {  # by channel: methods, probabilities
    0: (["card", "cash", "gift_card"], [0.70, 0.25, 0.05]),
    1: (["card", "paypal", "invoice", "gift_card"], [0.55, 0.30, 0.10, 0.05]),
    2: (["card", "paypal", "apple_pay"], [0.45, 0.25, 0.30]),
    3: (["marketplace"], [1.0]),
}


def ts(seconds: np.ndarray, null: np.ndarray | None = None) -> np.ndarray:
    out = (np.asarray(seconds, dtype=np.int64) * 1_000_000).astype("datetime64[us]")
    if null is not None:
        out[null] = np.datetime64("NaT")
    return out


def sort_by_time(orders: Frame, lines: Frame) -> tuple[Frame, Frame]:
    """Order ids increase with time; lines are grouped by order, then by product."""
    perm = np.argsort(orders["t"], kind="stable")
    inv = np.empty_like(perm)
    inv[perm] = np.arange(len(perm))
    orders = take(orders, perm)
    lines = dict(lines, order=inv[lines["order"]])
    lines = take(lines, np.argsort(lines["order"] * 10_000 + lines["product"], kind="stable"))
    return orders, lines


def finalize(
    rng: np.random.Generator,
    cal: Calendar,
    cat: Catalog,
    customers: pd.DataFrame,
    orders: Frame,
    lines: Frame,
    incidents: list[Incident],
) -> dict[str, pd.DataFrame]:
    orders, lines = sort_by_time(orders, lines)
    n, m = len(orders["t"]), len(lines["order"])
    lo = lines["order"]
    t_line = orders["t"][lo]
    products = cat.products
    category = products.category_id.to_numpy()[lines["product"]] - 1

    # Prices in the year of the order, keeping the .99 endings of today's list prices.
    years_back = (cal.end - dt.timedelta(days=1)).year - pd.to_datetime(
        t_line, unit="s"
    ).year.to_numpy()
    f = PRICE_INFLATION**years_back
    list_cents = np.round(products.list_price.to_numpy() * 100).astype(np.int64)[lines["product"]]
    price = price_cents_in_year(list_cents, years_back, PRICE_INFLATION)
    cost = np.round(products.unit_cost.to_numpy()[lines["product"]] * 100 / f).astype(np.int64)
    for inc in incidents:
        if inc.kind == "pricing_error":
            hit = (
                (lines["product"] == inc.params["product_idx"])
                & (t_line >= inc.start_s)
                & (t_line < inc.end_s)
            )
            price[hit] = inc.params["wrong_cents"]
    qty, disc = lines["qty"], lines["disc_pct"]
    line_cents = (qty * price * (100 - disc) + 50) // 100
    gross_cents = qty * price
    cost_cents = qty * cost

    # Status and shipping, as of the end of the history.
    channel = orders["channel"]
    cancelled = (rng.random(n) < np.array(CANCEL_RATE)[channel]) & (orders["incident_id"] == 0)
    delay = np.maximum(HOUR, rng.lognormal(np.log(18 * HOUR), 0.5, n)).astype(np.int64)
    shipped = np.where(channel == CHANNEL_IDX["store"], orders["t"], orders["t"] + delay)
    processing = ~cancelled & (shipped >= cal.end_s)
    no_ship = cancelled | processing

    # Returns, per line, only those that have happened by the end of the history.
    fraud_ids = [i.incident_id for i in incidents if i.kind == "fraud_burst"]
    p = (
        np.array([c[6] for c in CATEGORIES])[category]
        * np.array(RETURN_CHANNEL_FACTOR)[channel[lo]]
    )
    p = p * np.where(disc > 0, 1.25, 1.0)
    spike = np.zeros(m, bool)
    for inc in incidents:
        if inc.kind == "returns_spike":
            spike = (
                (category == inc.params["category_idx"])
                & np.isin(channel[lo], inc.params["channels"])
                & (t_line >= inc.start_s)
                & (t_line < inc.end_s)
            )
            p[spike] = inc.magnitude
    returned_at = shipped[lo] + ((1 + rng.gamma(2.0, 3.5, m)) * DAY).astype(np.int64)
    is_ret = (
        (rng.random(m) < p)
        & ~no_ship[lo]
        & ~np.isin(orders["incident_id"][lo], fraud_ids)
        & (returned_at < cal.end_s)
    )
    partial = is_ret & (qty > 1) & (rng.random(m) < 0.3)
    ret_qty = np.where(is_ret, qty, 0)
    ret_qty[partial] = 1 + (rng.random(partial.sum()) * (qty[partial] - 1)).astype(np.int64)
    refund_cents = np.where(is_ret, (line_cents * ret_qty + qty // 2) // np.maximum(qty, 1), 0)
    refund_cents = np.minimum(refund_cents, line_cents)

    def per_order(x: np.ndarray) -> np.ndarray:
        return np.bincount(lo, weights=x, minlength=n).round().astype(np.int64)

    net, gross, refund = per_order(line_cents), per_order(gross_cents), per_order(refund_cents)
    n_returned = per_order(is_ret.astype(np.int64))
    status = np.where(
        cancelled,
        "cancelled",
        np.where(processing, "processing", np.where(n_returned > 0, "returned", "completed")),
    )
    promo_code = np.append(cal.promotions.promo_code.to_numpy(), [None])[orders["promo"]]
    is_promo = per_order(lines["promo_line"].astype(np.int64)) > 0
    promo_code[~is_promo] = None  # promo_code is a fresh (fancy-indexed) object array

    # The first non-cancelled order of each customer (orders are sorted by time). Customers who
    # signed up before the history began bought before it too: their first order is not in it.
    signup = customers.set_index("customer_id").signup_at
    valid = np.flatnonzero(~cancelled)
    cust_ids, first_pos = np.unique(orders["customer_id"][valid], return_index=True)
    newcomer = signup.loc[cust_ids].to_numpy() >= cal.start_s
    is_first = np.zeros(n, bool)
    is_first[valid[first_pos[newcomer]]] = True
    first_order_at = pd.Series(orders["t"][valid[first_pos[newcomer]]], index=cust_ids[newcomer])
    veterans = customers.customer_id[customers.signup_at < cal.start_s].to_numpy()
    before = signup.loc[veterans].to_numpy() + (rng.gamma(1.0, 10.0, len(veterans)) * DAY).astype(
        np.int64
    )
    first_order_at = pd.concat(
        [first_order_at, pd.Series(np.minimum(before, cal.start_s - HOUR), index=veterans)]
    )

    order_id = np.arange(1, n + 1)
    stores_region = cat.stores.set_index("store_id").region_id
    tables = {}
    tables["orders"] = pd.DataFrame(
        {
            "order_id": order_id,
            "customer_id": orders["customer_id"],
            "store_id": orders["store_id"],
            "channel_id": channel + 1,
            "region_id": stores_region.loc[orders["store_id"]].to_numpy(),
            "ordered_at": ts(orders["t"]),
            "status": status,
            "promo_code": promo_code,
            "is_promo": is_promo,
            "is_first_order": is_first,
            "line_count": np.bincount(lo, minlength=n),
            "gross_amount__cents": gross,
            "discount_amount__cents": gross - net,
            "net_amount__cents": net,
            "refund_amount__cents": refund,
            "shipped_at": ts(shipped, no_ship),
        }
    )
    tables["order_lines"] = pd.DataFrame(
        {
            "order_id": order_id[lo],
            "line_no": np.arange(m) - np.searchsorted(lo, lo, "left") + 1,
            "product_id": lines["product"] + 1,
            "quantity": qty,
            "unit_price__cents": price,
            "discount": disc / 100,
            "line_amount__cents": line_cents,
            "unit_cost__cents": cost,
            "cost_amount__cents": cost_cents,
            "returned_quantity": ret_qty,
            "refund_amount__cents": refund_cents,
        }
    )
    r = np.flatnonzero(is_ret)
    r = r[np.argsort(returned_at[r], kind="stable")]
    reason_p = np.tile([0.3, 0.12, 0.2, 0.18, 0.12, 0.08], (len(r), 1))
    fashion = np.isin(category[r], [4, 5])
    reason_p[fashion] = [0.2, 0.03, 0.6, 0.12, 0.02, 0.03]
    reason_p[spike[r]] = [0.03, 0.01, 0.9, 0.05, 0.0, 0.01]
    reason = (rng.random(len(r))[:, None] > np.cumsum(reason_p, axis=1)).sum(axis=1)
    tables["returns"] = pd.DataFrame(
        {
            "return_id": np.arange(1, len(r) + 1),
            "order_id": order_id[lo[r]],
            "line_no": tables["order_lines"].line_no.to_numpy()[r],
            "product_id": lines["product"][r] + 1,
            "returned_at": ts(returned_at[r]),
            "quantity": ret_qty[r],
            "refund_amount__cents": refund_cents[r],
            "reason": np.array(RETURN_REASONS)[np.minimum(reason, len(RETURN_REASONS) - 1)],
        }
    )
    paid = np.flatnonzero(~cancelled)
    method = np.empty(len(paid), dtype=object)
    u = rng.random(len(paid))
    for c, (names, probs) in PAYMENT_METHODS.items():
        k = channel[paid] == c
        method[k] = np.array(names)[
            np.minimum(np.searchsorted(np.cumsum(probs), u[k], "right"), len(names) - 1)
        ]
    tables["payments"] = pd.DataFrame(
        {
            "payment_id": np.arange(1, len(paid) + 1),
            "order_id": order_id[paid],
            "paid_at": ts(orders["t"][paid] + rng.integers(0, 120, len(paid))),
            "method": method,
            "amount__cents": net[paid],
            "status": "captured",
        }
    )
    cust = customers.copy()
    cust["first_order_at"] = ts(
        first_order_at.reindex(cust.customer_id).fillna(0).to_numpy(),
        ~cust.customer_id.isin(first_order_at.index).to_numpy(),
    )
    cust["signup_at"] = ts(cust.signup_at.to_numpy())
    tables["customers"] = cust.drop(columns=["activity", "segment_idx", "region_idx"])
    inc_orders = np.flatnonzero(orders["incident_id"] > 0)
    tables["incident_orders"] = pd.DataFrame(
        {"incident_id": orders["incident_id"][inc_orders], "order_id": order_id[inc_orders]}
    )
    return tables

"""Export what the dashboard shows: CSV and Excel of the data, PNG and PDF of a report page.

All four come from the same snapshot the screen shows (same filters, same moment), not from a
new query, so an export always matches the page.  PNG and PDF are drawn with matplotlib on the
server (no browser screenshot): the KPI cards and the main charts, in the Okabe-Ito palette,
with the filters and the data's age in the header.
"""

from __future__ import annotations

import io

import pandas as pd

from workbench.ui.dashboard.data import Snapshot, kpi_values, tidy
from workbench.ui.dashboard.members import Members
from workbench.ui.dashboard.spec import PanelSpec
from workbench.ui.theme import PALETTE


def describe(snap: Snapshot, m: Members | None = None) -> list[tuple[str, str]]:
    fresh = snap.freshness or {}
    rows = [("Exported at", f"{snap.fetched_at:%Y-%m-%d %H:%M:%S}" if snap.fetched_at else "")]
    if snap.window:
        rows.append(
            (
                "Time range",
                f"{snap.window.start:%Y-%m-%d %H:%M} to {snap.window.end:%Y-%m-%d %H:%M}",
            )
        )
    top = m.levels[0].all if m is not None and m.levels else "All"
    rows.append(("Drill path", " > ".join(snap.drill.crumbs(top))))
    rows.append(("Data last committed", str(fresh.get("last_commit") or "n/a")))
    rows.append(("Streaming", "yes" if fresh.get("streaming") else "no"))
    return rows


def to_csv(snap: Snapshot) -> bytes:
    return tidy(snap).to_csv(index=False).encode()


def to_excel(snap: Snapshot, m: Members) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        pd.DataFrame(describe(snap, m), columns=["", "value"]).to_excel(
            xl, sheet_name="About", index=False
        )
        k = pd.DataFrame(kpi_values(snap, m))
        if not k.empty:
            k.to_excel(xl, sheet_name="KPIs", index=False)
        for key, df in snap.frames.items():
            if df is None or df.empty:
                continue
            out = df.copy()
            for c in out.columns:
                if isinstance(out[c].dtype, pd.DatetimeTZDtype):
                    out[c] = out[c].dt.tz_localize(None)
            out.to_excel(xl, sheet_name=key[:31], index=False)
    return buf.getvalue()


def _figure(snap: Snapshot, m: Members):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11.69, 8.27), dpi=110)  # A4 landscape
    fig.suptitle(m.title, x=0.02, ha="left", fontsize=16, fontweight="bold")
    fig.text(
        0.02,
        0.925,
        " | ".join(f"{a}: {b}" for a, b in describe(snap, m)[1:4]),
        fontsize=8,
        color="#4d4d4d",
    )
    kpis = kpi_values(snap, m)
    for i, k in enumerate(kpis[:4]):
        ax = fig.add_axes((0.02 + i * 0.245, 0.77, 0.23, 0.13))
        ax.axis("off")
        ax.add_patch(
            plt.Rectangle((0, 0), 1, 1, fill=False, edgecolor="#999999", transform=ax.transAxes)
        )
        ax.text(0.05, 0.72, k["label"], fontsize=10, transform=ax.transAxes)
        ax.text(
            0.05, 0.30, _fmt(k["value"]), fontsize=18, fontweight="bold", transform=ax.transAxes
        )
        if k["delta_pct"] is not None:
            ax.text(
                0.95,
                0.30,
                f"{k['delta_pct']:+.1f}% vs prev.",
                fontsize=9,
                ha="right",
                transform=ax.transAxes,
            )
    grid = [
        (0.06, 0.42, 0.42, 0.28),
        (0.55, 0.42, 0.42, 0.28),
        (0.06, 0.06, 0.42, 0.28),
        (0.55, 0.06, 0.42, 0.28),
    ]
    axes = [fig.add_axes(g) for g in grid]
    # the report page: the spec's first time series, the drill level, its first stacked bars
    # and its first donut
    first: dict[str | None, PanelSpec] = {}
    for p in m.chart_panels():
        first.setdefault(p.chart, p)
    draw = {"line": _trend, "stacked_bar": _stacked, "donut": _donut}
    level, metric = snap.drill.level(m)
    _bars(axes[1], snap.frames.get("drill"), level, metric, "By " + (level or ""))
    for ax, chart in ((axes[0], "line"), (axes[2], "stacked_bar"), (axes[3], "donut")):
        panel = first.get(chart)
        if panel is None:
            ax.axis("off")
        else:
            draw[chart](ax, snap.frames.get(panel.source), panel)
    return fig, plt


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"


def _empty(ax, title):
    ax.set_title(title, fontsize=10, loc="left")
    ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _trend(ax, df, p):
    title = f"{p.y} over time"
    if df is None or df.empty:
        return _empty(ax, title)
    d = df.sort_values(p.x)
    ax.plot(d[p.x], d[p.y], color=PALETTE[0], lw=1.8)
    ax.set_title(title, fontsize=10, loc="left")
    ax.tick_params(labelsize=7)


def _bars(ax, df, dim, metric, title):
    if df is None or df.empty or dim not in df.columns:
        return _empty(ax, title)
    d = df.head(15)
    ax.bar(d[dim].astype(str), d[metric].astype(float), color=PALETTE[0])
    ax.set_title(title, fontsize=10, loc="left")
    ax.tick_params(axis="x", labelrotation=40, labelsize=7)
    ax.tick_params(axis="y", labelsize=7)


def _stacked(ax, df, p):
    title = f"{p.y} by {p.x} and {p.by}"
    if df is None or df.empty:
        return _empty(ax, title)
    wide = df.pivot_table(index=p.x, columns=p.by, values=p.y, aggfunc="sum").fillna(0)
    bottom = None
    for i, c in enumerate(wide.columns):
        ax.bar(
            wide.index.astype(str),
            wide[c],
            bottom=bottom,
            label=str(c),
            color=PALETTE[i % len(PALETTE)],
        )
        bottom = wide[c] if bottom is None else bottom + wide[c]
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10, loc="left")
    ax.tick_params(labelsize=7)


def _donut(ax, df, p):
    title = f"{p.y} share by {p.x}"
    if df is None or df.empty:
        return _empty(ax, title)
    d = df.sort_values(p.y, ascending=False)
    ax.pie(
        d[p.y].astype(float).clip(lower=0),
        labels=d[p.x].astype(str),
        colors=PALETTE[: len(d)],
        wedgeprops={"width": 0.45},
        textprops={"fontsize": 7},
    )
    ax.set_title(title, fontsize=10, loc="left")


def to_image(snap: Snapshot, m: Members, fmt: str = "png") -> bytes:
    fig, plt = _figure(snap, m)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt)
    finally:
        plt.close(fig)
    return buf.getvalue()

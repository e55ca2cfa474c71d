"""Pick a sensible hvPlot chart for a query result: time → line, one category → bar,
two categories → heatmap, one number → a big-number table. Colour-blind-safe palette."""
from __future__ import annotations

import pandas as pd

# Okabe & Ito (2008): distinguishable under the common colour-vision deficiencies
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]


def chart_for(df: pd.DataFrame, spec, kind: str | None = None, metadata: dict | None = None, **opts):
    import hvplot.pandas  # noqa: F401  (registers .hvplot)
    metadata = metadata or {}
    dims = [c for c in spec.dimensions if c in df.columns]
    mets = [c for c in spec.metrics if c in df.columns]
    time_dims = [d for d in dims if metadata.get(d, {}).get("type") == "time"]
    if kind is None:
        if not mets:
            kind = "table"
        elif time_dims:
            kind = "line"
        elif len(dims) == 1:
            kind = "bar"
        elif len(dims) == 2 and len(mets) == 1:
            kind = "heatmap"
        else:
            kind = "table"
    opts.setdefault("responsive", True)
    opts.setdefault("height", 350)
    if kind == "table":
        return df.hvplot.table(**opts)
    if kind == "heatmap":
        return df.hvplot.heatmap(x=dims[0], y=dims[1], C=mets[0], cmap="cividis", **opts)
    x = time_dims[0] if time_dims else (dims[0] if dims else None)
    by = [d for d in dims if d != x][:1] or None
    data = df.sort_values(x) if x and kind in ("line", "area") else df
    return getattr(data.hvplot, kind)(x=x, y=mets if not by else mets[0], by=by,
                                      color=OKABE_ITO if by or len(mets) > 1 else OKABE_ITO[4],
                                      **opts)

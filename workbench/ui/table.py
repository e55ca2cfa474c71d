"""The result table: read-only, paginated, numbers right-aligned and formatted by the
semantic layer's ``format`` (currency, percent, integer, number)."""

from __future__ import annotations

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import CellFormatter, DateFormatter, NumberFormatter

_FORMATS = {
    "currency": "0,0.00",
    "percent": "0.0%",
    "integer": "0,0",
    "number": "0,0.[00]",
}


def formatters_for(df: pd.DataFrame, formats: dict[str, str] | None = None) -> dict:
    formats = formats or {}
    out: dict[str, CellFormatter] = {}
    for column in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[column]):
            values = df[column].dropna()
            midnight = values.empty or bool((values == values.dt.normalize()).all())
            out[column] = DateFormatter(format="%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S")
            continue
        if not pd.api.types.is_numeric_dtype(df[column]) or pd.api.types.is_bool_dtype(df[column]):
            continue
        fmt = formats.get(column)
        if fmt is None:
            fmt = "integer" if pd.api.types.is_integer_dtype(df[column]) else "number"
        out[column] = NumberFormatter(
            format=_FORMATS.get(fmt, _FORMATS["number"]), text_align="right"
        )
    return out


def result_table(
    df: pd.DataFrame | None = None, formats: dict[str, str] | None = None, page_size: int = 15
) -> pn.widgets.Tabulator:
    df = df if df is not None else pd.DataFrame()
    return pn.widgets.Tabulator(
        df,
        disabled=True,
        show_index=False,
        pagination="local",
        page_size=page_size,
        formatters=formatters_for(df, formats),
        layout="fit_data_stretch",
        sizing_mode="stretch_width",
    )


def set_result(
    table: pn.widgets.Tabulator, df: pd.DataFrame, formats: dict[str, str] | None = None
) -> None:
    table.formatters = formatters_for(df, formats)
    table.value = df

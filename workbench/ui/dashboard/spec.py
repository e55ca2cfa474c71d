"""The dashboard spec: which KPIs, panels and drill path the live KPI dashboard shows.

It is YAML (``semantic/dashboards/kpi.yml``, or the file ``WORKBENCH_DASHBOARD_SPEC`` names),
Lumen-style: named queries of the semantic layer, and panels that draw one query's result with a
registered chart type (``workbench.charts``).  Every member name lives in the file, none in the
code, so a new KPI or panel is a YAML edit.  It is read through :mod:`workbench.specfile`: an
error names the file, the line and the field.  docs/dashboard.md shows how to add a KPI or panel.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.errors import SpecError, closest
from workbench.specfile import read_yaml, validate_spec

#: In a query's ``dimensions`` or a panel's ``x``: the dashboard's time dimension (``time``).
TIME = "$time"
#: Panels the dashboard builds itself: only their place in the list (and a title) is declared.
BUILT_IN_PANELS = {
    "drill": "the drill bar: the current drill level's metric, click a bar to drill down",
    "explore": "a time series of the metric picked with the search box",
}
#: Keys the dashboard uses for its own snapshot frames and board panels.
RESERVED = {"kpi", "kpi_previous", "kpis", "incidents", "table"}
SPEC_FILE = Path("dashboards") / "kpi.yml"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuerySpec(_Spec):
    """One semantic query, run on every refresh that has new data; panels draw its result."""

    metrics: tuple[str, ...] = Field(
        min_length=1,
        description="Metrics the query asks for; the first is what a panel without `y` would draw.",
    )
    dimensions: tuple[str, ...] = Field(
        (),
        description="Dimensions it groups by. `$time` is the "
        "dashboard's time dimension, at the time range's grain "
        "(the result is then ordered by time).",
    )
    limit: int | None = Field(None, ge=1, description="At most this many rows.")
    lines: bool = Field(
        False,
        description="The metrics are on a line-level model: the drill "
        "path filters it through each level's `line_dimension` where it has one.",
    )
    check: bool = Field(
        False,
        description="Asked once when the dashboard opens (one row): when "
        "the namespace cannot answer it (say no join path between its "
        "dimensions) its panels are left out instead of failing every second.",
    )


class PanelSpec(_Spec):
    """One panel on the board: a chart of one query's result (or a built-in panel's place)."""

    key: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Names the panel in saved "
        "layouts; `drill` and `explore` are the built-in panels.",
    )
    title: str | None = Field(None, description="Heading of the panel's card.")
    chart: str | None = Field(
        None,
        description="A registered chart type that draws on the "
        "dashboard (`workbench.charts` entry point: line, area, bar, "
        "stacked_bar, scatter, heatmap, histogram, box, treemap, donut).",
    )
    query: str | None = Field(
        None, description="The query under `queries` it draws; default: the panel's key."
    )
    x: str | None = Field(
        None,
        description="The member on the x axis (`$time`: the time "
        "dimension); for a treemap the group, for a donut the slices.",
    )
    y: str | None = Field(None, description="The metric drawn (the value).")
    by: str | None = Field(
        None,
        description="The member that splits it: series, stacks, "
        "colours, the heatmap's second axis.",
    )
    label: str | None = Field(
        None,
        description="The member naming each mark (a scatter "
        "point, a treemap tile); the text summary ranks by it.",
    )
    summary: str | None = Field(
        None, description="The metric the panel's one-line text summary ranks by (default: `y`)."
    )
    markers: bool = Field(
        False, description="Mark the anomalies of `y` (split by `by`) on this time series."
    )

    @field_validator("chart")
    @classmethod
    def _registered_chart(cls, name: str | None) -> str | None:
        if name is None:
            return name
        from workbench.ui.charts import CHARTS, ChartType

        try:
            chart_type = CHARTS.get(name)
        except KeyError as e:  # an unknown name: the registry's message says "did you mean"
            raise ValueError(str(e)) from None
        if (
            chart_type.live is ChartType.live
            and chart_type.dashboard_panel is ChartType.dashboard_panel
        ):
            raise ValueError(f"the chart type '{name}' does not draw on the dashboard")
        return name

    @model_validator(mode="after")
    def _complete(self) -> PanelSpec:
        if self.key in BUILT_IN_PANELS:
            extra = [
                f
                for f in ("chart", "query", "x", "y", "by", "label", "summary")
                if getattr(self, f) is not None
            ]
            if extra:
                raise ValueError(
                    f"'{self.key}' is a built-in panel ({BUILT_IN_PANELS[self.key]}); "
                    f"it takes only a title, not {', '.join(extra)}"
                )
            return self
        missing = [f for f in ("title", "chart", "y") if getattr(self, f) is None]
        if missing:
            raise ValueError(f"panel '{self.key}' needs {', '.join(missing)}")
        return self

    @property
    def source(self) -> str:
        """The query (snapshot frame) it draws."""
        return self.query or self.key


class DrillLevel(_Spec):
    """One step of the drill path."""

    dimension: str = Field(description="The dimension shown at this level.")
    label: str | None = Field(
        None, description="The level's picker label (default: the dimension, capitalised)."
    )
    all: str | None = Field(
        None,
        description="The picker's 'nothing picked' entry and the "
        "path's first crumb (default: 'All <dimension>s').",
    )
    metric: str | None = Field(
        None,
        description="The metric shown at this level (default: "
        "the drill's `metric`; then the table shows only it).",
    )
    lines: bool = Field(
        False,
        description="This level's metric is on a line-level model: the "
        "path filters it through `line_dimension`s.",
    )
    line_dimension: str | None = Field(
        None,
        description="The same dimension as a line-level "
        "model names it, where the namespace has one.",
    )


class DrillSpec(_Spec):
    """The drill path: the bar and the table show one level, a click goes one level down."""

    metric: str = Field(
        description="The metric of the drill bar (and the explore panel's default)."
    )
    metrics: tuple[str, ...] = Field(
        (),
        description="The drill table's metrics at levels "
        "without a metric of their own (default: `metric`).",
    )
    levels: tuple[DrillLevel, ...] = Field(
        min_length=1, description="Outermost first; the last level is shown but not drilled into."
    )


class DashboardSpec(_Spec):
    """The whole dashboard: a file's top level."""

    title: str = Field("Live KPI dashboard", description="The page's heading.")
    namespaces: tuple[str, ...] = Field(
        min_length=1,
        description="Namespaces to show, in order "
        "of preference: the first the server has is used; one "
        "marked `live: true` in its model only once it answers.",
    )
    time: str = Field(description="The time dimension (else the namespace's first one).")
    freshness_metric: str | None = Field(
        None,
        description="The metric of the small query that "
        "asks how fresh the data is (default: the first KPI).",
    )
    kpis: tuple[str, ...] = Field(
        min_length=1,
        description="The KPI cards' metrics, in order; "
        "each shows its value and the change against the previous "
        "period of the same length.",
    )
    drill: DrillSpec = Field(description="The drill path.")
    queries: dict[str, QuerySpec] = Field(
        default_factory=dict,
        description="Named queries; panels draw their results, the exports list them.",
    )
    panels: tuple[PanelSpec, ...] = Field(
        min_length=1,
        description="The board's panels in their default order (a person may rearrange them).",
    )


def spec_path(models_dir: str | Path | None = None) -> Path:
    """The dashboard spec in use: ``WORKBENCH_DASHBOARD_SPEC``, else ``dashboards/kpi.yml`` in
    the project's semantic models folder."""
    if os.environ.get("WORKBENCH_DASHBOARD_SPEC"):
        return Path(os.environ["WORKBENCH_DASHBOARD_SPEC"])
    if models_dir is None:
        try:
            from workbench.config import load_settings

            settings = load_settings()
            models_dir = settings.path(settings.models_dir)
        except Exception:  # noqa: BLE001  a broken workbench.yml: the cwd's semantic/ still works
            models_dir = Path.cwd() / "semantic"
    return Path(models_dir) / SPEC_FILE


def load_dashboard(path: str | Path | None = None) -> DashboardSpec:
    """Read and check a dashboard spec; a ``SpecError`` names the file, line and field."""
    path = Path(path) if path is not None else spec_path()
    if not path.is_file():
        raise SpecError(
            "the dashboard spec is missing (docs/dashboard.md says what goes in it)", str(path)
        )
    root, src = read_yaml(path, "a mapping with 'kpis', 'drill' and 'panels'")
    spec = validate_spec(DashboardSpec, root, src)
    keys: set[str] = set()
    for i, panel in enumerate(spec.panels):
        if panel.key in keys or panel.key in RESERVED:
            raise src.error(
                f"the panel key '{panel.key}' is "
                + ("used twice" if panel.key in keys else "reserved"),
                ("panels", i, "key"),
            )
        keys.add(panel.key)
        if panel.key not in BUILT_IN_PANELS and panel.source not in spec.queries:
            hint = closest(panel.source, spec.queries)
            raise src.error(
                f"no query '{panel.source}' under 'queries'"
                + (f" (did you mean {', '.join(hint)}?)" if hint else ""),
                ("panels", i, "query" if panel.query else "key"),
            )
    for name in spec.queries:
        if name in RESERVED or name in BUILT_IN_PANELS:
            raise src.error(f"the query name '{name}' is reserved", ("queries", name))
    return spec

"""The chart types only the dashboard draws, registered like every other chart type.

Each is declared as a ``workbench.charts`` entry point in pyproject.toml, beside ``line`` and
``bar`` (workbench.ui.charts), which draw both in the query builder and on the dashboard.  A
panel of the dashboard spec names its type (``chart: heatmap``) and which members go where
(``x``, ``y``, ``by``, ``label``); the drawing itself is in :mod:`workbench.ui.dashboard.charts`.
None of these is picked by ``auto_chart`` (``accepts`` is the base class's: never).
"""

from __future__ import annotations

from workbench.ui.charts import ChartType
from workbench.ui.dashboard import charts as live


class AreaChart(ChartType):
    """Stacked areas over time: ``x`` the time, ``by`` the series, ``y`` the metric."""

    name = "area"

    def live(self, x, y, by=None, label=None):
        return live.stacked_area(x, by, y)


class StackedBarChart(ChartType):
    """Bars of ``x`` stacked by ``by``, height ``y``."""

    name = "stacked_bar"

    def live(self, x, y, by=None, label=None):
        return live.stacked_bars(x, by, y)


class ScatterChart(ChartType):
    """One point per ``label``: metric ``x`` against metric ``y``, coloured by ``by``."""

    name = "scatter"

    def live(self, x, y, by=None, label=None):
        return live.scatter(x, y, label, by)


class HeatmapChart(ChartType):
    """``x`` against ``by``, cells coloured by ``y`` (cividis)."""

    name = "heatmap"

    def live(self, x, y, by=None, label=None):
        return live.heatmap(x, by, y)


class HistogramChart(ChartType):
    """The distribution of ``y`` over the result's rows (12 bins)."""

    name = "histogram"

    def live(self, x, y, by=None, label=None):
        return live.histogram(y)


class BoxChart(ChartType):
    """Box plots of ``y``, one per value of ``x``."""

    name = "box"

    def live(self, x, y, by=None, label=None):
        return live.box(x, y)


class TreemapChart(ChartType):
    """Tiles of ``label`` sized by ``y``, grouped and coloured by ``x`` (squarified)."""

    name = "treemap"

    def live(self, x, y, by=None, label=None):
        return live.treemap(x, label, y)


class DonutChart(ChartType):
    """Each ``x``'s share of ``y``, as a Bokeh donut (HoloViews has no pie)."""

    name = "donut"

    def dashboard_panel(
        self, key, title, x, y, by=None, label=None, describe=None, marks_render=None
    ):
        return live.DonutPanel(key, title, x, y)

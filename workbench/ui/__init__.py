"""Panel components shared by the Workbench apps.

Apps in ``apps/`` compose these on top of the public Workbench API (``workbench.connect()``);
nothing here writes SQL.  Import the submodules you need: ``theme`` (palette, page shell),
``charts`` (chart factory on hvPlot), ``table`` (result table), ``sql_view``, ``messages``
(errors and notices); one package per app's components: ``catalog`` (the catalog explorer),
``dashboard`` (the live KPI dashboard), ``quality`` (the quality app).
"""

from workbench.ui.theme import OKABE_ITO, PALETTE, page

__all__ = ["OKABE_ITO", "PALETTE", "page"]

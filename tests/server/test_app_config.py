"""The extension's configuration: one extension named ``workbench``, and settings written for its
former name (``c.WorkbenchPipelines.*``) still apply."""

from __future__ import annotations

from traitlets.config import Config

from workbench.server import _jupyter_server_extension_points
from workbench.server.app import WorkbenchApp


def test_the_package_declares_one_extension_named_workbench():
    [point] = _jupyter_server_extension_points()
    assert point["app"] is WorkbenchApp and point["module"] == "workbench.server.app"
    assert WorkbenchApp.name == "workbench"


def test_former_section_applies_and_the_new_one_wins():
    old = WorkbenchApp(config=Config({"WorkbenchPipelines": {"max_rows": 7, "query_workers": 2}}))
    assert (old.max_rows, old.query_workers) == (7, 2)
    both = WorkbenchApp(
        config=Config({"WorkbenchPipelines": {"max_rows": 7}, "WorkbenchApp": {"max_rows": 9}})
    )
    assert both.max_rows == 9
    assert WorkbenchApp().max_rows == 50_000

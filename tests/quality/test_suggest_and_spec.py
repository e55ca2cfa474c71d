"""Suggestion (profile → proposal → review → accept), suite file errors, scoring, the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench.quality.ge_runtime import CheckOutcome
from workbench.quality.scoring import score
from workbench.quality.suite_spec import load_suite
from workbench.semantic.errors import ModelError

REPO = Path(__file__).resolve().parents[2]


def test_proposal_must_be_reviewed_then_runs(demo_wh, tmp_path):
    import workbench.quality as quality

    wh = tmp_path / "s.duckdb"
    shutil.copy(demo_wh, wh)
    prop = quality.propose_suite(wh, "stores", out_dir=tmp_path / "proposals")
    spec = load_suite(prop)
    assert spec.status == "proposed" and spec.key == ["store_id"]
    names = {c.name for c in spec.checks}
    assert {
        "store_id_present",
        "store_id_unique",
        "store_type_known",
        "region_known",
        "square_meters_in_range",
    } <= names
    known = spec.check("store_type_known").kwargs["value_set"]
    assert "fulfilment_centre" in known
    with pytest.raises(ValueError, match="proposed"):
        quality.validate(wh, spec, "duckdb", store_results=False, data_docs=False)
    accepted = quality.accept_proposal(
        prop,
        "ana@example.com",
        drop=["region_known"],
        edits={"square_meters_in_range": {"min_value": 1}},
        suites_dir=tmp_path / "suites",
    )
    assert not prop.exists()
    spec = load_suite(accepted)
    assert spec.status == "active" and spec.reviewed_by == "ana@example.com"
    assert "region_known" not in {c.name for c in spec.checks}
    assert spec.check("square_meters_in_range").kwargs["min_value"] == 1
    run = quality.validate(wh, spec, "duckdb", data_docs=False, store_results=False, history=False)
    assert run.passed, run.results

    from workbench.quality.cli import app

    res = CliRunner().invoke(app, [str(accepted), "--warehouse", str(wh), "--no-docs"])
    assert res.exit_code == 0, res.output
    assert "rows quarantined" in res.output


def test_suite_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "suite: bad\ntarget: {table: orders}\nkey: [order_id]\nchecks:\n"
        "  - name: ok\n    expect: expect_column_values_to_not_be_null\n    column: a\n"
        "    dimension: completeness\n"
        "  - name: nope\n    expect: expect_column_values_to_be_purple\n    column: a\n"
        "    dimension: validity\n"
    )
    with pytest.raises(ModelError) as e:
        load_suite(bad)
    assert e.value.line == 10 and "purple" in str(e.value) and "bad.yml" in str(e.value)
    bad.write_text(
        "suite: bad\ntarget: {table: orders}\nkey: [order_id]\nchecks:\n"
        "  - name: x\n    expect: expect_column_values_to_not_be_null\n    dimension: beauty\n"
    )
    with pytest.raises(ModelError) as e:
        load_suite(bad)
    assert e.value.line == 7 and "dimension" in str(e.value)


def test_repo_suites_load():
    """Every suite shipped in pipelines/quality loads as an active, reviewed-in suite named for
    its file.  The folder is found from this file, not the working directory, and must not be
    empty: a wrong path would otherwise find nothing and pass."""
    from workbench.quality.suite_spec import list_suites, suite_path

    folder = REPO / "pipelines" / "quality"
    files = sorted(folder.glob("*.y*ml"))
    assert files, f"no suites found in {folder}"
    assert list_suites(folder) == [f.stem for f in files]
    for f in files:
        suite = load_suite(suite_path(f.stem, folder))
        assert suite.suite == f.stem and suite.status == "active", f
        names = [c.name for c in suite.checks]
        assert names and len(names) == len(set(names)), f"{f}: check names {names}"


def test_score_by_hand():
    outs = [
        CheckOutcome("a", "x", "completeness", 1, "c", False, 100, 10),
        CheckOutcome("b", "x", "completeness", 3, "c", True, 100, 0),
        CheckOutcome("t", "x", "freshness", 1, "c", False),
    ]
    s = score("t", outs, {"completeness": 0.3, "freshness": 0.1, "validity": 0.6})
    assert s.dimensions == {"completeness": pytest.approx(100 * (0.9 + 3) / 4), "freshness": 0}
    assert s.weights == {"completeness": 0.75, "freshness": 0.25}
    assert s.overall == pytest.approx(0.75 * 97.5)
    assert "freshness" in s.explain() and "10 of 100 rows fail" in s.explain()

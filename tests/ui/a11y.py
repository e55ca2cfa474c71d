"""The accessibility audit the browser tests share: axe-core (the npm package that
scripts/prepare_services.sh installs into build/axe, pinned there) injected into a page by
Playwright, run with the WCAG 2.1 A/AA rules.  Nothing is fetched from a CDN."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
AXE_JS = REPO / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
WCAG21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")
# The states every page is audited in (issue 15); a test's report names at least these.
MAIN_STATES = ("loaded", "panel expanded", "error shown", "phone")


def axe_path(skip_or_fail) -> Path:
    if not AXE_JS.is_file():
        skip_or_fail(f"axe-core is not installed at {AXE_JS} (run scripts/prepare_services.sh)")
    return AXE_JS


def audit(page, axe_js: Path, state: str) -> list[dict]:
    """The WCAG 2.1 A/AA violations on ``page`` now, each printed with its nodes' selectors."""
    # The product's ARIA repairs for Tabulator and Choices.js (workbench.ui.aria, loaded by
    # theme.configure on every page): audit what people get, so they must be there.
    assert page.evaluate("!!window.workbenchAria"), f"{state}: workbench.ui.aria is not loaded"
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_js))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG21_AA,
    )
    violations = result["violations"]
    counts = Counter(v["impact"] for v in violations)
    print(f"\n[axe] {state}: {len(violations)} violation(s) {dict(counts)}")
    for v in violations:
        # A target inside a shadow root is a list of selectors, host first (Panel's widgets).
        targets = [
            " >> ".join(t if isinstance(t, str) else " ".join(t) for t in n["target"])
            for n in v["nodes"]
        ]
        print(f"  - {v['id']} ({v['impact']}): {v['help']}")
        for target in targets[:6]:
            print(f"      {target}")
        if len(targets) > 6:
            print(f"      (+{len(targets) - 6} more)")
        if v["nodes"]:
            node = v["nodes"][0]
            print(f"      e.g. {node['html'][:160]}")
            print("      " + (node.get("failureSummary") or "").replace("\n", " / ")[:300])
    return violations


def missing_states(report: dict[str, list[dict]]) -> list[str]:
    """The main states a test's report leaves out."""
    return [s for s in MAIN_STATES if s not in report]


def blocking(report: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Per state, the ids of serious or critical violations (what the audit fails on).  There
    is no allow-list: the third-party widgets' ARIA is repaired in the product
    (workbench.ui.aria), so the pages people use are what passes."""
    out = {}
    for state, vs in report.items():
        bad = [f"{v['id']} ({v['impact']})" for v in vs if v["impact"] in BLOCKING]
        if bad:
            out[state] = bad
    return out

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
# Violations inside third-party widget DOM the apps can't reach from Python (the markup is
# built in the browser by the library): (rule, a string in the node's HTML) -> why.  Printed
# and counted every run; remove an entry once upstream fixes it.  Never add app markup here.
KNOWN_THIRD_PARTY = {
    ("aria-required-children", "tabulator"):
        "Tabulator 6 puts its focusable table holder and pagination buttons directly inside "
        "role=grid (olifolkerd/tabulator); Panel's Tabulator widget exposes no role option",
    ("aria-allowed-attr", "choices__item"):
        "Choices.js (Panel MultiChoice) marks selected items aria-selected on role-less divs",
}


def axe_path(skip_or_fail) -> Path:
    if not AXE_JS.is_file():
        skip_or_fail(f"axe-core is not installed at {AXE_JS} (run scripts/prepare_services.sh)")
    return AXE_JS


def audit(page, axe_js: Path, state: str) -> list[dict]:
    """The WCAG 2.1 A/AA violations on ``page`` now, each printed with its nodes' selectors."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_js))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG21_AA)
    violations = result["violations"]
    counts = Counter(v["impact"] for v in violations)
    known = sum(known_third_party(v) for v in violations)
    print(f"\n[axe] {state}: {len(violations)} violation(s) {dict(counts)}"
          + (f", {known} of them in known third-party widgets" if known else ""))
    for v in violations:
        # A target inside a shadow root is a list of selectors, host first (Panel's widgets).
        targets = [" >> ".join(t if isinstance(t, str) else " ".join(t) for t in n["target"])
                   for n in v["nodes"]]
        tag = " [known third-party]" if known_third_party(v) else ""
        print(f"  - {v['id']} ({v['impact']}){tag}: {v['help']}")
        for target in targets[:6]:
            print(f"      {target}")
        if len(targets) > 6:
            print(f"      (+{len(targets) - 6} more)")
        if v["nodes"]:
            node = v["nodes"][0]
            print(f"      e.g. {node['html'][:160]}")
            print("      " + (node.get("failureSummary") or "").replace("\n", " / ")[:300])
    return violations


def known_third_party(violation: dict) -> bool:
    return all(any(rule == violation["id"] and marker in node["html"]
                   for rule, marker in KNOWN_THIRD_PARTY)
               for node in violation["nodes"])


def blocking(report: dict[str, list[dict]]) -> dict[str, list[str]]:
    """Per state, the ids of serious or critical violations (what the audit fails on), less
    those wholly inside the listed third-party widgets."""
    out = {}
    for state, vs in report.items():
        bad = [f"{v['id']} ({v['impact']})" for v in vs
               if v["impact"] in BLOCKING and not known_third_party(v)]
        if bad:
            out[state] = bad
    return out

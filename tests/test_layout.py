"""The architecture as built: reports read the store only, and no layer knows scenario kinds."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "choicelab"
FORMER_KINDS = (
    "case_study",
    "clone_robustness",
    "borda_identity",
    "sensitivity",
    "axiom_matrix",
    "byo_data",
    "selftest",
)


def _imports(path: Path) -> set:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return out


def test_reports_import_nothing_from_sim_or_axioms():
    found = {
        str(p.relative_to(ROOT)): sorted(m for m in _imports(p) if m.startswith(("choicelab.sim", "choicelab.axioms")))
        for p in (ROOT / "reports").rglob("*.py")
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_no_scenario_kind_literal_in_reports_or_the_command_line():
    hits = []
    for folder in ("reports", "cli"):
        for path in (ROOT / folder).rglob("*.py"):
            for lineno, line in enumerate(path.read_text().splitlines(), start=1):
                for kind in FORMER_KINDS:
                    if re.search(rf"[\"']{kind}[\"']", line):
                        hits.append(f"{path.name}:{lineno}: {kind}")
    assert hits == []


def test_the_command_line_lives_in_one_package():
    """Only choicelab/cli parses arguments; the domain packages know no command line."""
    offenders = [
        str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if "argparse" in _imports(p) and p.parent.name != "cli"
    ]
    assert offenders == []

"""The documentation's generated pages cover the code, and the project names no private notes.

The pages are generated into a temporary folder by ``docs/_ext/generate.py`` (what ``make docs``
runs at every build); the whole Sphinx build runs in ``make docs`` only, not here.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("choicelab_docs_generate", DOCS / "_ext" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """(folder, {relative path: text}) of every page the generator writes."""
    root = tmp_path_factory.mktemp("docs")
    written = _generator().write_all(root)
    assert written, "the generator wrote nothing"
    return root, {str(p.relative_to(root)): p.read_text() for p in written}


def _all_text(pages: dict) -> str:
    return "\n".join(pages.values())


def test_every_axiom_id_is_in_the_generated_pages(generated):
    from choicelab.axioms.base import list_axioms

    _, pages = generated
    text = _all_text(pages)
    for axiom in list_axioms():
        # a reference to its heading on the contract page, in the theory table and the registry
        assert f"`{axiom.id} <{axiom.id.lower()}>`" in pages["_generated/theory-table.md"], axiom.id
        assert f"`{axiom.id} <{axiom.id.lower()}>`" in pages["_generated/registries/axioms.md"], axiom.id
        assert f"_generated/theory/{axiom.id}.md" in pages, axiom.id
        assert axiom.name in text, axiom.id


def test_every_estimator_and_measure_name_is_in_the_generated_pages(generated):
    from choicelab.estimators.registry import list_estimators
    from choicelab.scenarios.measures import list_measures

    _, pages = generated
    estimators = pages["_generated/registries/estimators.md"]
    measures = pages["_generated/registries/measures.md"]
    table = pages["_generated/theory-table.md"]
    for entry in list_estimators():
        if entry.name.startswith("contract-check."):  # temporary names of testing.check_estimator
            continue
        assert f"| `{entry.name}` |" in estimators, entry.name
        assert f"`{entry.name}`" in table, f"{entry.name} has no column in the theory table"
    for measure in list_measures():
        assert f"| `{measure.name}` |" in measures, measure.name


def test_every_other_registry_entry_is_in_the_generated_pages(generated):
    from choicelab.estimators.weightings import list_weightings
    from choicelab.reports.figures import list_figures
    from choicelab.scenarios.conditions import list_conditions

    _, pages = generated
    for name in (c.name for c in list_conditions()):
        assert f"| `{name}` |" in pages["_generated/registries/conditions.md"], name
    for name in (w.name for w in list_weightings()):
        assert f"| `{name}` |" in pages["_generated/registries/weightings.md"], name
    for name in list_figures():
        assert f"| `{name}` |" in pages["_generated/registries/figures.md"], name


def test_every_scenario_key_is_in_the_scenario_file_reference(generated):
    from choicelab.scenarios.experiment import ExperimentSpec
    from choicelab.scenarios.world import WorldSpec

    _, pages = generated
    reference = pages["_generated/scenario-file.md"]
    for key in ExperimentSpec.model_json_schema()["properties"]:
        assert f"`[{key}]`" in reference, f"top-level key [{key}] has no section"
    for key in WorldSpec.model_json_schema()["properties"]:
        assert f"`world.{key}`" in reference, f"world.{key} is missing"
    # every row of every key table has an example
    for line in reference.splitlines():
        if line.startswith("| `") and line.count("|") >= 6 and "see {ref}" not in line:
            assert line.rstrip(" |").rsplit("|", 1)[-1].strip(), f"no example in: {line}"


def test_one_page_per_builtin_scenario(generated):
    from choicelab.scenarios.spec import builtin_path, list_builtin

    _, pages = generated
    for name in list_builtin():
        page = pages[f"reference/scenarios/{name}.md"]
        assert f"# `{name}`" in page
        assert builtin_path(name).read_text().rstrip("\n") in page, f"{name}: the TOML text is not on its page"


def test_the_theory_table_is_the_checkers(generated):
    """Cell by cell, the rendered table says what choicelab.axioms.base.THEORY says."""
    from choicelab.axioms.base import THEORY, list_axioms

    _, pages = generated
    generate = _generator()
    rows = [line for line in pages["_generated/theory-table.md"].splitlines() if line.startswith("|")]
    header = [c.strip().strip("`") for c in rows[0].strip("|").split("|")][1:]
    assert header == generate.theory_columns()
    seen = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        axiom = re.match(r"\{ref\}`(\w+) <", cells[0]).group(1)
        for estimator, cell in zip(header, cells[1:]):
            seen[(axiom, estimator)] = cell
    assert [a for a, _ in dict.fromkeys((a, 0) for a, _ in seen)] == [a.id for a in list_axioms()]
    for (axiom, estimator), cell in seen.items():
        assert cell == THEORY.get((axiom, estimator), generate.OPEN), (axiom, estimator, cell)
    assert set(THEORY) <= set(seen)


def test_the_contract_page_anchors_every_item():
    from choicelab.axioms.base import list_axioms

    page = (DOCS / "contract.md").read_text()
    for label in ("eq-1", "eq-2"):
        assert f"\n({label})=\n" in page, label
    for axiom in list_axioms():
        anchor = f"\n({axiom.id.lower()})=\n### {axiom.id} "
        assert anchor in page, f"contract.md: no heading with the anchor ({axiom.id.lower()})= for {axiom.id}"
        assert f"```{{include}} _generated/theory/{axiom.id}.md\n```" in page, axiom.id


def _repository_files() -> list[Path]:
    """The project's files: tracked and untracked-but-not-ignored (build outputs excluded)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        paths = [ROOT / p for p in listed.split("\0") if p]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: walk the tree
        paths = [p for p in ROOT.rglob("*") if p.is_file()]
    skip = (ROOT / ".git", ROOT / ".venv", DOCS / "_build")
    return [p for p in paths if p.is_file() and not any(p.is_relative_to(s) for s in skip)]


# spelled in pieces so that this file does not contain what it looks for
_NOTES = ("../" + "shared", "DESIGN" + ".md")
_SPEC = "SP" + "EC"


def test_no_file_names_the_private_notes():
    hits = []
    for path in _repository_files():
        data = path.read_bytes()
        hits += [f"{path.relative_to(ROOT)}: {note}" for note in _NOTES if note.encode() in data]
    assert hits == []


def test_the_docs_never_say_spec():
    hits = []
    for path in _repository_files():
        if path.is_relative_to(DOCS) and _SPEC.encode() in path.read_bytes():
            hits.append(str(path.relative_to(ROOT)))
    assert hits == []


def test_no_text_file_holds_control_characters():
    """A backslash eaten by a string escape (\\t in \\theta, \\v in \\varepsilon) leaves a control character."""
    bad = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
    hits = []
    for path in _repository_files():
        if path.suffix in (".md", ".py", ".toml", ".txt", ".rst"):
            hits += [f"{path.relative_to(ROOT)}:{m.start()}" for m in bad.finditer(path.read_bytes())]
    assert hits == []


def test_the_offline_check_catches_a_remote_script(tmp_path):
    spec = importlib.util.spec_from_file_location("choicelab_docs_offline", DOCS / "_ext" / "check_offline.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "mathjax" / "tex-chtml.js").write_text("")
    page = '<span class="math">x</span><script defer src="_static/mathjax/tex-chtml.js?v=1"></script>'
    (tmp_path / "index.html").write_text(page + '<a href="https://example.org">a link is fine</a>')
    assert check.problems(tmp_path) == []
    (tmp_path / "cdn.html").write_text('<script src="https://cdn.example.org/mathjax/tex-chtml.js"></script>')
    (tmp_path / "style.css").write_text("@import 'https://fonts.example.org/x.css';")
    assert sorted(check.problems(tmp_path)) == [
        "cdn.html: loads https://cdn.example.org/mathjax/tex-chtml.js",
        "style.css: loads https://fonts.example.org/x.css",
    ]

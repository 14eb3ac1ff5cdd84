"""Reports built from small stored batches: every declared figure and table, escaping, the command."""
from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import pytest

from choicelab import reports
from choicelab.cli import main
from choicelab.scenarios.runner import run_batch
from choicelab.scenarios.spec import Run, builtin_path, parse_scenario
from choicelab.scenarios.store import Store

# small versions of the built-in scenarios (same worlds, fewer seeds and steps)
SMALL = {
    "psz-case-study": dict(seeds=3, steps=30),
    "psz-clone-robustness": dict(seeds=2, names='["mle", "weighted_mle"]'),
    "psz-borda": dict(seeds=1),
    "xk-sensitivity": dict(names='["mle"]', points=5, n_per_pair=4000, map_points=15),
    "axiom-matrix": dict(names='["mle", "weighted_mle", "borda"]'),
    "byo-data": {},
}
AXIOMS = ("A2", "A4", "A5", "A3")  # three with known violations, one that holds for the MLEs


def png_pixels(data: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(data), format="png")


def embedded_figures(page: str) -> dict:
    found = re.findall(r'<figure data-figure="([^"]+)"><img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    return {key: base64.b64decode(data) for key, data in found}


def small_scenario(builtin_text, name: str):
    text = builtin_text(name, **SMALL[name])
    if name == "axiom-matrix":
        ids = ", ".join(f'["{a}"]' for a in AXIOMS)
        text, n = re.subn(r'(?s)\[sweep\]\n"axioms.ids" = .*?\]\]\n', f'[sweep]\n"axioms.ids" = [{ids}]\n', text, count=1)
        assert n == 1
    return parse_scenario(text, builtin_path(name))


@pytest.fixture(scope="module")
def built(tmp_path_factory, builtin_text):
    """Every built-in kind, small, in one store, and the reports of all of them."""
    folder = tmp_path_factory.mktemp("reports")
    db = folder / "r.sqlite"
    for name in SMALL:
        summary = run_batch(small_scenario(builtin_text, name), db, workers=1, progress=False)
        assert summary.done == summary.total and not summary.errors, (name, summary.errors)
    files = {f.batch: f for f in reports.build_report(db, out=folder / "out")}
    return db, files


# Figures each built-in batch declares, and the figure keys its report must then hold.
EXPECTED_FIGURES = {
    "psz-case-study": {"topic_rewards"},
    "psz-clone-robustness": {"delta_curves", "voronoi_cells"},
    "psz-borda": {"residuals", "majority_graph"},
    "xk-sensitivity": {"sensitivity_heatmap", "three_option", "pairwise_vs_tuple"},
    "byo-data": {"clone_diagnostic", "voronoi_cells"},
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_declared_figure_is_embedded_non_blank_and_beside_the_markdown(built, name):
    db, files = built
    f = files[name]
    page = f.html.read_text()
    figs = embedded_figures(page)
    with Store(db) as store:
        declared = next(b for b in store.batches() if b["name"] == name)["params"]["report"]["figures"]
    assert declared, name
    if name == "axiom-matrix":
        # one majority graph per violated cell whose witness is a small matrix (A4 / A5 here)
        assert {k for k in figs if k.startswith("majority_graph_")} and "Theory against measurement" in page
    else:
        assert set(figs) == EXPECTED_FIGURES[name]
    md = f.markdown.read_text()
    for key, png in figs.items():
        pixels = png_pixels(png)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 200
        assert pixels[..., :3].std() > 0.05, f"{name}: figure {key} is blank"
        # the Markdown twin links the same PNG, written beside it
        assert f"(fig-{key}.png)" in md
        assert (f.folder / f"fig-{key}.png").read_bytes() == png
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained


def test_case_study_topic_table_matches_an_independent_recomputation(built):
    db, files = built
    md = files["psz-case-study"].markdown.read_text()
    with Store(db) as store:
        runs = store.runs("psz-case-study", status="done")
        assert len(runs) == 3
        for est in ("mle", "weighted_mle"):
            for dataset in ("original", "clones"):
                per_run = []
                for run in runs:
                    blobs = store.blobs(run["run_id"])
                    labels = blobs[f"labels.{dataset}"]
                    m0 = blobs["labels.original"].size
                    r = blobs[f"{est}.{dataset}.rewards"]
                    per_run.append(r[:m0][labels[:m0] == "history"].mean())
                v = np.asarray(per_run)
                cell = f"{v.mean():.4f} ± {v.std(ddof=1) / np.sqrt(v.size):.4f}"
                row = next(line for line in md.splitlines() if line.startswith("| history |"))
                assert cell in row, (est, dataset, cell, row)
    # the theory table: the standard MLE's top topic changes with the clones, the weighted one's does not
    rows = {line.split(" | ")[0].strip("| "): line for line in md.splitlines() if "(A1 " in line}
    assert "history | food | changed" in rows["mle"] and "✓ agrees" in rows["mle"]
    assert "history | history | unchanged" in rows["weighted\\_mle"] and "✓ agrees" in rows["weighted\\_mle"]


def test_theory_table_agrees_with_the_stored_verdicts_and_writes_replayable_witnesses(built):
    from choicelab import axioms

    db, files = built
    f = files["axiom-matrix"]
    md = f.markdown.read_text()
    with Store(db) as store:
        stored = {(r.key.split(".")[0], r.estimator): r.value for r in store.results(batch="axiom-matrix", metric="verdict")
                  if r.key.endswith(".agrees")}
    assert stored  # cells theory speaks about
    for (axiom_id, est), agrees in stored.items():
        line = next(x for x in md.splitlines() if x.startswith(f"| {axiom_id} | {est.replace('_', chr(92) + '_')} |"))
        assert ("✓ agrees" in line) == (agrees == 1.0), line
    # A5 for the MLE is violated (SPEC A5): its witness file replays to the same violation
    witness = next(p for p in f.witnesses if p.name.startswith("A5.mle."))
    assert f"[witnesses/{witness.name}](witnesses/{witness.name})" in md
    again = axioms.replay(json.loads(witness.read_text()))
    assert again.measured == "violated"
    # clone robustness: A1 violated for the standard MLE, held for the weighted one, as theory says
    md = files["psz-clone-robustness"].markdown.read_text()
    assert re.search(r"\| A1 \| mle \| violated \| violated \(2 violated\) \| ✓ agrees", md)
    assert re.search(r"\| A1 \| weighted\\_mle \| holds \| holds \(2 holds\) \| ✓ agrees", md)
    p4 = re.search(r"\| P4 \| mle \| holds \| holds \(4 holds\) \| ✓ agrees \| (\S+) \|",
                   files["psz-borda"].markdown.read_text())
    assert p4 and float(p4.group(1)) < 1e-8  # magnitude: the worst Borda-identity residual over the runs


def test_settings_and_seeds_are_in_the_report(built):
    _, files = built
    md = files["psz-case-study"].markdown.read_text()
    assert "| estimators.neural.steps | 30 |" in md and "| data.n | 1000 |" in md
    assert "offsets \\[0, 1, 2\\]" in md or "offsets [0, 1, 2]" in md


HOSTILE = '<script>alert("x")</script>'
HOSTILE_TOPIC = '<img src=x onerror=alert(1)>|**bold**'


def test_hostile_strings_come_out_escaped(tmp_path):
    """Names, descriptions and labels reach the report escaped in HTML and inert in Markdown."""
    db = tmp_path / "h.sqlite"
    name = f"evil{HOSTILE}/../x"
    with Store(db) as store:
        store.record_batch(name, "case_study", source="x.toml", scenario_text=f"# {HOSTILE}",
                           params={"params": {"estimators": {"names": ["mle"]}, "note": HOSTILE},
                                   "report": {"figures": ["topic_rewards"]}, "seeds": [0], "base_seed": 0,
                                   "description": f"A {HOSTILE} description"})
        run = Run("r0", name, "case_study", {"estimators": {"names": ["mle"]}}, 0, {})
        store.mark_running([run])
        rows = [(f"mle{HOSTILE}", f"topic_reward.{ds}", topic, v) for ds in ("original", "clones")
                for topic, v in ((HOSTILE_TOPIC, 1.0 if ds == "original" else 0.0), ("plain", 0.5))]
        store.record_done("r0", rows, {"labels.original": np.array([HOSTILE_TOPIC, "plain"])}, seconds=0.1)
    (f,) = reports.build_report(db, out=tmp_path / "out")
    assert f.folder.parent == tmp_path / "out" and f.folder.name.startswith("batch-")  # no path from the name
    page = f.html.read_text()
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;|**bold**" in page
    assert set(embedded_figures(page)) == {"topic_rewards"}
    md = f.markdown.read_text()
    outside_code = re.sub(r"`[^`]*`", "", md)  # a code span shows its text literally (CommonMark)
    assert "<script" not in outside_code and "<img" not in outside_code
    assert "&lt;script&gt;" in outside_code
    assert "&lt;img src=x onerror=alert(1)&gt;\\|\\*\\*bold\\*\\*" in md  # a pipe cannot break the table


def test_report_command_writes_and_reports_bad_input_in_one_line(built, tmp_path, capsys):
    db, _ = built
    out = tmp_path / "cli"
    assert main(["report", "--db", str(db), "--batch", "psz-borda", "--out", str(out)]) == 0
    assert (out / "psz-borda" / "index.html").is_file() and (out / "psz-borda" / "report.md").is_file()
    assert "psz-borda:" in capsys.readouterr().out
    assert main(["report", "--db", str(db), "--batch", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'nope'" in err and "psz-borda" in err
    missing = tmp_path / "missing.sqlite"
    assert main(["report", "--db", str(missing), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(missing) in err
    assert not missing.exists()  # a report never creates a store

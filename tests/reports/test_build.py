"""Reports built from small stored batches of the built-in experiments: every declared figure and
table, theory marks and witnesses, escaping of hostile text, the command."""
from __future__ import annotations

import base64
import dataclasses
import io
import json
import re

import numpy as np
from scipy import stats as st
import pandas as pd
import pytest

from choicelab import reports
from choicelab.cli import main
from choicelab.scenarios.runner import run_batch
from choicelab.scenarios.spec import builtin_path, expand, parse_scenario
from choicelab.scenarios.store import Store

_HEADER = r"^\[\[?[A-Za-z0-9_.\"-]+\]\]?[ \t]*$"  # a table header line (not a description line like "[PSZ] ...")


def _section(text: str, section: str, key: str, value: str) -> str:
    """Set ``key = value`` inside the TOML table ``[section]`` (the key must be there)."""
    pattern = rf"(?ms)(^\[{re.escape(section)}\]\n(?:(?!{_HEADER}).)*?^){re.escape(key)} = [^\n]*$"
    text, n = re.subn(pattern, lambda m: f"{m.group(1)}{key} = {value}", text, count=1)
    assert n == 1, (section, key)
    return text


def _small_text(name: str) -> str:
    """The built-in's TOML with fewer seeds, sweep values and training steps (same worlds and measures)."""
    t = builtin_path(name).read_text()
    if name == "clone-sweep":
        t = _section(_section(t, "scenario", "seeds", "2"), "sweep", '"world.clones.count"', "[0, 2]")
    elif name == "psz-case-study":
        t = _section(_section(t, "scenario", "seeds", "3"), "conditions", "coupling", '"paired"')
        # one design only (the swept report is checked in test_browser.py)
        t, n = re.subn(r'(?ms)^\[sweep\]\n"conditions.coupling" = \[[^\]]*\]\n', "", t, count=1)
        assert n == 1
        for est in ("neural_mle", "neural_weighted_mle"):
            t = _section(_section(t, f"estimators.options.{est}", "steps", "30"), f"estimators.options.{est}", "seeds", "2")
        # the scores of every response, so that the topic table can be recomputed from the store
        t = _section(t, "measures", "names", '["scores", "topic_rewards", "top_topic", "top_change", "fit_quality", '
                                             '"kendall_tau"]')
    elif name == "xk-sensitivity":
        t = _section(t, "estimators", "names", '["mle"]')
        for sec in ("measures.options.three_option", "measures.options.pairwise_vs_tuple"):
            t = _section(_section(t, sec, "points", "5"), sec, "n_per_pair", "4000")
        t = _section(t, "measures.options.sensitivity_map", "points", "15")
    elif name == "axiom-matrix":  # one axiom: A5 (Condorcet consistency), violated by the MLEs
        t = _section(t, "estimators", "names", '["mle", "weighted_mle", "borda", "copeland"]')
        t, n = re.subn(r'(?s)"measures.names" = \[\[.*?\]\]\n', '"measures.names" = [["A5"]]\n', t, count=1)
        assert n == 1
    elif name == "psz-borda":
        t = _section(t, "scenario", "seeds", "1")
    elif name == "psz-clone-robustness":
        t = _section(_section(t, "scenario", "seeds", "2"), "estimators", "names", '["mle", "weighted_mle"]')
        t = _section(t, "measures.options.a1_curve", "eps", "[3e-2, 1e-3, 1e-4]")
        t = _section(t, "measures.options.a1_curve", "indices", "[0]")
    return t


BATCHES = ("clone-sweep", "psz-case-study", "xk-sensitivity", "axiom-matrix", "psz-borda", "psz-clone-robustness",
           "byo-data")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Every built-in, small, in one store, and the reports of all of them."""
    folder = tmp_path_factory.mktemp("reports")
    db = folder / "r.sqlite"
    for name in BATCHES:
        sc = parse_scenario(_small_text(name), builtin_path(name))
        summary = run_batch(sc, db, workers=1, progress=False)
        assert summary.done == summary.total and not summary.errors, (name, summary.errors)
    files = {f.batch: f for f in reports.build_report(db, out=folder / "out")}
    assert set(files) == set(BATCHES)
    return db, files


def png_pixels(data: bytes) -> np.ndarray:
    import matplotlib.image as mpimg

    return mpimg.imread(io.BytesIO(data), format="png")


def embedded_figures(page: str) -> dict:
    found = re.findall(r'<figure data-figure="([^"]+)"><img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)
    return {key: base64.b64decode(data) for key, data in found}


def _declared(db, name) -> list:
    with Store(db) as store:
        return store.batch(name)["params"]["report"]["figures"]


def _md_table(md: str, header_start: str) -> list[list[str]]:
    """Rows (cells split on unescaped pipes) of the first Markdown table whose header starts so."""
    lines = md.splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[k + 2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return [[c.strip() for c in re.split(r"(?<!\\)\|", lines[k])[1:-1]]] + rows


def _fmt(v) -> str:
    """A report cell, recomputed with scipy: the mean (4 significant digits) and its 95% Student-t
    interval (3 digits; none when every run gave the same value), Markdown-escaped brackets."""
    v = np.asarray(v, dtype=float)
    if v.size < 2 or v.std() == 0:
        return f"{v.mean():.4g}"
    lo, hi = st.t.interval(0.95, v.size - 1, loc=v.mean(), scale=st.sem(v))
    return f"{v.mean():.4g} \\[{lo:.3g}, {hi:.3g}\\]"


# Figures each batch must embed: per declared figure, the keys (one per sweep point unless across the sweep)
EXPECTED_FIGURES = {
    "clone-sweep": {"scores_by_item-0", "scores_by_item-2"},
    "psz-case-study": {"topic_rewards_by_condition", "effects"},  # effects: the forest plot of its conditions
    "xk-sensitivity": {"three_option_curves", "sensitivity_heatmap"},
    "psz-borda": {"identity_residuals", "majority_graph-4", "majority_graph-8", "majority_graph-16",
                  "majority_graph-32"},
    "psz-clone-robustness": {"a1_curves"},
    "byo-data": {"clone_diagnostic", "voronoi_cells"},
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FIGURES))  # axiom-matrix declares none: its output is the theory table
def test_every_declared_figure_is_embedded_non_blank_and_beside_the_markdown(built, name):
    db, files = built
    f = files[name]
    page = f.html.read_text()
    figs = embedded_figures(page)
    declared = _declared(db, name)
    assert declared, name
    md = f.markdown.read_text()
    assert "could not be drawn" not in md, [line for line in md.splitlines() if "could not be drawn" in line]
    for figure in declared:  # every declared figure is drawn at least once
        assert any(key == figure or key.startswith(figure + "-") for key in figs), (name, figure, sorted(figs))
    assert set(figs) == EXPECTED_FIGURES[name]
    assert set(f.figures) == set(figs)
    for key, png in figs.items():
        pixels = png_pixels(png)
        assert pixels.shape[0] > 200 and pixels.shape[1] > 200
        assert pixels[..., :3].std() > 0.05, f"{name}: figure {key} is blank"
        # the Markdown twin links the same PNG, written beside it
        assert f"(fig-{key}.png)" in md
        assert (f.folder / f"fig-{key}.png").read_bytes() == png
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained


def test_case_study_topic_table_matches_a_recomputation_from_the_stored_scores(built):
    """Topic reward cell = mean [95% CI] over runs of the mean stored score of the topic's 3 originals."""
    db, files = built
    md = files["psz-case-study"].markdown.read_text()
    with Store(db) as store:
        frame = store.to_frame("results", "psz-case-study")
    assert frame["run_id"].nunique() == 3
    scores = frame[frame.measure == "scores"].assign(i=lambda d: d["item"].astype(int))
    table = _md_table(md[md.index("_measure scores:"):], "| condition | item | label | mle |")  # after scores
    header = [h.replace("\\_", "_") for h in table[0]]
    assert header == ["condition", "item", "label", "mle", "weighted_mle", "neural_mle", "neural_weighted_mle"]
    rows = {(r[0].replace("\\_", "_"), r[1]): r for r in table[1:]}
    assert len(rows) == 15  # 3 conditions x 5 topics
    tops = {}
    for cond in ("original", "clones", "aa_control"):
        for topic in ("history", "food", "art", "architecture", "nightlife"):
            for k, est in enumerate(header[3:], start=3):
                fit = scores[(scores.condition == cond) & (scores.estimator == est) & (scores.i < 15)
                             & (scores.label == topic)]
                per_run = fit.groupby("run_id")["value"].agg(["mean", "size"])
                assert per_run["size"].tolist() == [3, 3, 3]
                v = per_run["mean"].to_numpy()
                assert rows[(cond, topic)][k] == _fmt(v), (cond, topic, est)
                for run_id, value in per_run["mean"].items():
                    best = tops.setdefault((run_id, cond, est), (topic, value))
                    if value > best[1]:
                        tops[(run_id, cond, est)] = (topic, value)
    # the top-change table: the share of runs whose top topic differs between the conditions
    table = _md_table(md[md.index("_measure top\\_topic:"):], "| condition | item | label |")
    header = [h.replace("\\_", "_") for h in table[0]]
    (row,) = [r for r in table[1:] if r[0] == "clones" and r[1] == "changed"]
    for k, est in enumerate(header[3:], start=3):
        flips = [float(tops[(run_id, "original", est)][0] != tops[(run_id, "clones", est)][0])
                 for run_id in sorted(frame["run_id"].unique())]
        v = np.asarray(flips)
        assert row[k] == _fmt(v), (est, row[k], flips)


def test_each_sweep_point_is_its_own_section(built):
    """clone-sweep: one section per clone count, its scores table summarising that count's runs only."""
    db, files = built
    md = files["clone-sweep"].markdown.read_text()
    with Store(db) as store:
        frame = store.to_frame("results", "clone-sweep")
    for count in (0, 2):
        section = md[md.index(f"### world.clones.count = {count}"):]
        table = _md_table(section, "| condition | item | label |")
        header = table[0]
        assert header[3:] == ["mle", "weighted\\_mle", "borda"]
        assert [r[1] for r in table[1:]] == [str(i) for i in range(8 + count)]
        assert all(r[2] == "0 (clone of 0)" for r in table[1:] if int(r[1]) >= 8)
        for r in table[1:]:
            for k, est in enumerate(("mle", "weighted_mle", "borda"), start=3):
                v = frame[(frame["world.clones.count"] == count) & (frame.measure == "scores")
                          & (frame.estimator == est) & (frame["item"] == r[1])]["value"].to_numpy()
                assert v.size == 2 and r[k] == _fmt(v)


@pytest.mark.parametrize("name", ["axiom-matrix", "psz-borda", "psz-clone-robustness"])
def test_theory_marks_match_the_stored_verdicts(built, name):
    db, files = built
    f = files[name]
    md = f.markdown.read_text()
    with Store(db) as store:
        verdicts = store.to_frame("verdicts", name)
        sweep_keys = list(store.batch(name)["params"]["sweep"])
    assert not verdicts.empty
    table = _md_table(md, "| " + (" | ".join(k.replace("_", "\\_") for k in sweep_keys) + " | " if sweep_keys else "")
                      + "condition | axiom | estimator | theory |")
    rows = {tuple(r[:len(sweep_keys) + 3]): r for r in table[1:]}
    mark = {True: "✓ agrees", False: "✗ disagrees", None: "–"}
    groups = verdicts.groupby(sweep_keys + ["condition", "axiom", "estimator"], sort=False)
    assert len(rows) == len(groups)
    for values, sub in groups:
        values = values if isinstance(values, tuple) else (values,)
        point = tuple(v if isinstance(v, str) and not v.startswith("[") else
                      json.dumps(json.loads(v) if isinstance(v, str) else v).replace("[", "\\[").replace("]", "\\]")
                      for v in values[:len(sweep_keys)])
        key = point + (values[-3], values[-2], values[-1].replace("_", "\\_"))
        row = rows[key]
        measured = list(sub["measured"])
        combined = "violated" if "violated" in measured else "holds" if all(m == "holds" for m in measured) \
            else "inconclusive"
        expected = next((e for e in sub["expected"] if e), None)
        agrees = None if expected is None or combined == "inconclusive" else combined == expected
        theory, shown, agreement, witness = row[len(sweep_keys) + 3:]
        assert theory == (expected or "–")
        assert shown == f"{combined} ({measured.count(combined)} of {len(measured)} runs)"
        assert agreement == mark[agrees], (key, agreement)
        if len(sub) == 1:  # one run: the mark is the stored verdict's own
            stored = sub["agrees"].iloc[0]
            assert agreement == mark[None if pd.isna(stored) else bool(stored)]
        assert witness.startswith("[witness](witnesses/") == (combined == "violated")
    page = f.html.read_text()
    assert page.count('<span class="ok">✓ agrees</span>') == sum(r[-2] == "✓ agrees" for r in rows.values())
    if name == "psz-clone-robustness":  # A1: violated by the standard MLE in every run, held by the weighted one
        assert rows[("default", "A1", "mle")][3:6] == ["violated", "violated (2 of 2 runs)", "✓ agrees"]
        assert rows[("default", "A1", "weighted\\_mle")][3:6] == ["holds", "holds (2 of 2 runs)", "✓ agrees"]
    if name == "axiom-matrix":
        cells = {est: rows[('\\["A5"\\]', "default", "A5", est)][4:7] for est in ("mle", "copeland")}
        assert cells == {"mle": ["violated", "violated (1 of 1 runs)", "✓ agrees"],
                         "copeland": ["holds", "holds (1 of 1 runs)", "✓ agrees"]}


def test_witness_of_a_violated_cell_is_a_file_beside_the_report_that_replays(built):
    """A5 is violated by the MLE: its witness file sits beside the report, is linked from it, holds the
    stored witness, and choicelab.axioms.replay re-runs it to the same violation."""
    from choicelab import axioms

    db, files = built
    f = files["axiom-matrix"]
    md = f.markdown.read_text()
    witness = next(p for p in f.witnesses if p.name.startswith("A5-mle-"))
    assert witness.parent == f.folder / "witnesses" and witness.is_file()
    assert f"[witness](witnesses/{witness.name})" in md
    assert f'<a href="witnesses/{witness.name}">witness</a>' in f.html.read_text()
    record = json.loads(witness.read_text())
    assert set(record) == {"axiom", "estimator", "condition", "run_id", "seed", "witness"}
    assert (record["axiom"], record["estimator"], record["condition"], record["seed"]) == ("A5", "mle", "default", 0)
    with Store(db) as store:
        (stored,) = [v for v in store.verdicts(batch="axiom-matrix") if v.estimator == "mle"]
    assert record["run_id"] == stored.run_id and stored.measured == "violated"
    assert record["witness"] == (json.loads(stored.witness) if isinstance(stored.witness, str) else stored.witness)
    again = axioms.replay(record["witness"])
    assert again.measured == "violated"
    assert again.magnitude == pytest.approx(stored.magnitude, rel=1e-9)
    # cells that hold have no witness file
    assert not [p for p in f.witnesses if p.name.startswith("A5-copeland-")]


def test_settings_and_seeds_are_in_the_report(built):
    _, files = built
    md = files["psz-case-study"].markdown.read_text()
    assert "| estimators.options.neural\\_mle.steps | 30 |" in md and "| data.n | 1000 |" in md
    assert "offsets \\[0, 1, 2\\]" in md
    assert "```toml" in md and "steps = 30" in md  # the scenario file as run


HOSTILE = '<script>alert("x")</script>'
HOSTILE_LABEL = '<img src=x onerror=alert(1)>|**bold**'


def test_hostile_strings_come_out_escaped(tmp_path):
    """A batch name, a description and alternative labels reach the report escaped in HTML and inert in Markdown."""
    text = f"""
[scenario]
name = "hostile"
description = '''A {HOSTILE} description'''

[world.alternatives]
generator = "points"
X = [[0.0], [1.0], [3.0]]
labels = ['{HOSTILE_LABEL}', "plain", "$x^2$"]

[[world.population.types]]
share = 1.0
reward = "linear"
theta = [1.0]

[estimators]
names = ["mle", "borda"]

[measures]
names = ["scores", "top_item"]

[report]
figures = ["scores_by_item"]
"""
    sc = parse_scenario(text, tmp_path / "hostile.toml")
    name = f"evil{HOSTILE}/../x"  # a batch of a store need not come from a scenario file
    runs = [dataclasses.replace(r, batch=name) for r in expand(sc)]
    db = tmp_path / "h.sqlite"
    with Store(db) as store:
        store.record_batch(name, "experiment", source="x.toml", scenario_text=f"# {HOSTILE}\n{text}",
                           params={"params": sc.params, "sweep": {}, "report": sc.report, "seeds": [0], "base_seed": 0,
                                   "description": sc.description, "about": sc.about})
        summary = run_batch(runs, store, workers=1, progress=False)
        assert summary.done == 1
        labels = {r.label for r in store.results(batch=name) if r.measure == "scores"}
    assert labels == {HOSTILE_LABEL, "plain", "$x^2$"}
    (f,) = reports.build_report(db, out=tmp_path / "out")
    assert f.folder.parent == tmp_path / "out" and f.folder.name.startswith("batch-")  # no path from the name
    page = f.html.read_text()
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;|**bold**" in page
    assert set(embedded_figures(page)) == {"scores_by_item"}
    assert png_pixels(embedded_figures(page)["scores_by_item"])[..., :3].std() > 0.05
    md = f.markdown.read_text()
    outside_code = re.sub(r"`[^`\n]*`", "", re.sub(r"(?ms)^```toml\n.*?^```$", "", md))  # code shows text literally
    assert "<script" not in outside_code and "<img" not in outside_code
    assert "&lt;script&gt;" in outside_code
    assert "&lt;img src=x onerror=alert(1)&gt;\\|\\*\\*bold\\*\\*" in md  # a pipe cannot break the table
    top = _md_table(md[md.index("_measure scores:"):], "| condition | estimator | item | most frequent |")
    assert {r[1].replace("\\_", "_"): r[3] for r in top[1:]} == {"mle": "$x^2$", "borda": "$x^2$"}


def test_report_command_writes_and_reports_bad_input_in_one_line(built, tmp_path, capsys):
    db, _ = built
    out = tmp_path / "cli"
    assert main(["report", "--db", str(db), "--batch", "psz-borda", "--out", str(out)]) == 0
    assert (out / "psz-borda" / "index.html").is_file() and (out / "psz-borda" / "report.md").is_file()
    assert capsys.readouterr().out.startswith(f"psz-borda: {out / 'psz-borda' / 'index.html'} and ")
    assert main(["report", "--db", str(db), "--batch", "nope", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "'nope'" in err and "psz-borda" in err and err.startswith("choicelab: report: ")
    missing = tmp_path / "missing.sqlite"
    assert main(["report", "--db", str(missing), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(missing) in err
    assert not missing.exists()  # a report never creates a store

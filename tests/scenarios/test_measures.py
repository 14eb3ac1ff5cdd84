"""What measures compute: the built-in presets and the measures against independent computations and theory.

Every run goes through ``run_task("experiment", params, seed)`` (what a worker calls), and every
number is checked against a recomputation that does not use the measure: the sim API, numpy,
scipy, or the estimators called directly.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, logit
from scipy.stats import kendalltau

from choicelab import sim
from choicelab.scenarios.runner import run_batch
from choicelab.scenarios.spec import builtin_path, expand, load_scenario, parse_scenario
from choicelab.scenarios.store import Store
from choicelab.scenarios.tasks import run_task

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"


_HEADER = r"^\[\[?[A-Za-z0-9_.\"-]+\]\]?[ \t]*$"  # a table header line (not a description line like "[PSZ] ...")


def _section(text: str, section: str, key: str, value: str) -> str:
    """Set ``key = value`` inside the TOML table ``[section]`` (the key must be there)."""
    pattern = rf"(?ms)(^\[{re.escape(section)}\]\n(?:(?!{_HEADER}).)*?^){re.escape(key)} = [^\n]*$"
    text, n = re.subn(pattern, lambda m: f"{m.group(1)}{key} = {value}", text, count=1)
    assert n == 1, (section, key)
    return text


def _drop_section(text: str, section: str) -> str:
    text, n = re.subn(rf"(?ms)^\[{re.escape(section)}\]\n(?:(?!{_HEADER}).)*", "", text, count=1)
    assert n == 1, section
    return text


def _rows(out, measure=None):
    return [r for r in out.rows if measure is None or r["measure"] == measure]


def _by(out, measure):
    """{(condition, estimator, item): row} of one measure."""
    return {(r["condition"], r["estimator"], r["item"]): r for r in _rows(out, measure)}


def _exact_case_study(seeds: int, *, data=None) -> str:
    """psz-case-study with the exact estimators only (the neural ones are compared in test_builtins)."""
    text = builtin_path("psz-case-study").read_text()
    text = _section(text, "estimators", "names", '["mle", "weighted_mle"]')
    text = _drop_section(_drop_section(text, "estimators.options.neural_mle"), "estimators.options.neural_weighted_mle")
    text = _drop_section(text, "measures.options.kendall_tau")
    text = _section(text, "measures", "names", '["scores", "weights", "topic_rewards", "top_topic", "top_change"]')
    text = _section(text, "scenario", "seeds", str(seeds))
    # the paper's design: two conditions drawn independently (the effects section is tested in test_effects.py)
    text = _section(_drop_section(text, "sweep"), "conditions", "names", '["original", "clones"]')
    if data is not None:
        assert '[data]\nkind = "comparisons"\nn = 1000\n' in text
        text = text.replace('[data]\nkind = "comparisons"\nn = 1000\n', data)
    return text


def test_case_study_flip_standard_but_not_weighted(tmp_path):
    """[PSZ] case study: on run-averaged topic rewards the standard MLE's top topic changes when
    the food clones are added, the weighted MLE's does not; topic rewards are the means of the
    stored scores of each topic's originals, and top_topic / top_change follow from them per run."""
    sc = parse_scenario(_exact_case_study(6), builtin_path("psz-case-study"))
    db = tmp_path / "cs.sqlite"
    summary = run_batch(sc, db, workers=1, progress=False)
    assert summary.done == 6 and not summary.errors
    with Store(db) as store:
        frame = store.to_frame("results", "psz-case-study")
    topics = ["history", "food", "art", "architecture", "nightlife"]
    tr = frame[frame.measure == "topic_rewards"]
    mean = tr.groupby(["estimator", "condition", "item"])["value"].mean()
    top = {
        (e, c): max(topics, key=lambda t: mean[(e, c, t)])
        for e in ("mle", "weighted_mle")
        for c in ("original", "clones")
    }
    assert top == {
        ("mle", "original"): "history",
        ("mle", "clones"): "food",
        ("weighted_mle", "original"): "history",
        ("weighted_mle", "clones"): "history",
    }
    # per run: topic reward = mean score of the topic's 3 originals; top_topic and top_change follow from them
    scores = frame[frame.measure == "scores"]
    for (run_id, cond, est), sub in scores.groupby(["run_id", "condition", "estimator"]):
        s = sub.assign(i=sub["item"].astype(int)).set_index("i").sort_index()
        assert len(s) == (15 if cond == "original" else 30)
        assert all(s.loc[15:, "label"].str.fullmatch(r"food \(clone of \d+\)"))
        got = tr[(tr.run_id == run_id) & (tr.condition == cond) & (tr.estimator == est)].set_index("item")["value"]
        per_topic = {}
        for t in topics:
            members = s.loc[:14][s.loc[:14, "label"] == t]
            assert len(members) == 3
            per_topic[t] = members["value"].mean()
            assert got[t] == pytest.approx(per_topic[t], abs=1e-12)
        tt = frame[
            (frame.run_id == run_id)
            & (frame.condition == cond)
            & (frame.estimator == est)
            & (frame.measure == "top_topic")
        ]
        assert tt["label"].tolist() == [max(per_topic, key=per_topic.get)]
    for (run_id, est), sub in frame[frame.measure == "top_topic"].groupby(["run_id", "estimator"]):
        labels = dict(zip(sub["condition"], sub["label"]))
        change = frame[(frame.run_id == run_id) & (frame.estimator == est) & (frame.measure == "top_change")]
        assert change["value"].tolist() == [float(labels["original"] != labels["clones"])]
        assert change["label"].tolist() == [f"{labels['original']} -> {labels['clones']}"]
    # the clone-robust weights (Monte Carlo Voronoi shares in 8-D) of a weighted fit sum to 1; none for the MLE
    w = frame[frame.measure == "weights"]
    assert set(w["estimator"]) == {"weighted_mle"}
    np.testing.assert_allclose(w.groupby(["run_id", "condition"])["value"].sum(), 1.0, atol=1e-12)


def test_case_study_clones_condition_holds_five_near_copies_of_each_food_response():
    """The clones condition of the case study, rebuilt as the runner builds it from the run seed."""
    from choicelab.scenarios import conditions
    from choicelab.scenarios.experiment import ExperimentSpec

    run = expand(load_scenario("psz-case-study"))[0]
    spec = ExperimentSpec.model_validate(run.params)
    rng = np.random.default_rng(run.seed)
    world = spec.world.build(rng)
    orig = conditions.get_condition("original").build(world, rng)
    clones = conditions.get_condition("clones").build(world, rng)
    X0, X1 = orig.X, clones.X
    assert X0.shape == (15, 8) and X1.shape == (30, 8) and np.array_equal(X1[:15], X0)
    labels = np.asarray([str(x) for x in clones.labels])
    food = np.flatnonzero(labels[:15] == "food")
    assert set(labels[15:]) == {"food"} and food.size == 3
    assert sorted(np.bincount(clones.clone_of[15:], minlength=15)[food].tolist()) == [5, 5, 5]
    dist = np.linalg.norm(X1[15:] - X1[clones.clone_of[15:]], axis=1)
    assert np.all(dist <= 0.05 + 1e-12) and np.all(dist > 0)
    assert np.all(clones.clone_of[:15] == -1)


def test_reward_change_top_change_and_kendall_tau_against_the_scores_rows():
    """reward_change = scores(clones) - scores(original) per original; top_change = the tops differ
    (item or topic, clones collapsed); kendall_tau = scipy's tau of the originals' scores."""
    text = _exact_case_study(1, data='[data]\nkind = "representative"\n')
    text = _section(text, "estimators", "names", '["mle", "weighted_mle", "borda"]')
    text = _section(
        text, "measures", "names", '["scores", "reward_change", "top_item", "top_topic", "top_change", "kendall_tau"]'
    )
    text += '\n[sweep]\n"measures.options.top_change.of" = ["item", "topic"]\n'
    sc = parse_scenario(text, builtin_path("psz-case-study"))
    runs = expand(sc)
    assert [r.point for r in runs] == [
        {"measures.options.top_change.of": "item"},
        {"measures.options.top_change.of": "topic"},
    ]
    changed = {}
    for run in runs:
        of = run.point["measures.options.top_change.of"]
        out = run_task(run.kind, run.params, run.seed)
        scores, change = _by(out, "scores"), _by(out, "reward_change")
        assert {k[0] for k in change} == {"clones"}  # nothing for the baseline itself
        for est in ("mle", "weighted_mle", "borda"):
            for i in range(15):
                got = change[("clones", est, str(i))]
                assert (
                    got["value"]
                    == scores[("clones", est, str(i))]["value"] - scores[("original", est, str(i))]["value"]
                )
                assert got["label"] == scores[("original", est, str(i))]["label"]
            assert ("clones", est, "15") not in change  # clones have no baseline score
            if of == "item":
                tops = {c: _by(out, "top_item")[(c, est, "top")] for c in ("original", "clones")}
                # top_item collapses a clone into its original: the best score's origin
                for c, row in tops.items():
                    s = {int(k[2]): r["value"] for k, r in scores.items() if k[:2] == (c, est)}
                    best = max(s, key=lambda i: (s[i], -i))
                    origin = (
                        best
                        if best < 15
                        else int(re.search(r"clone of (\d+)", scores[(c, est, str(best))]["label"])[1])
                    )
                    assert row["value"] == float(origin)
                before, after = (str(int(tops[c]["value"])) for c in ("original", "clones"))
                before_label, after_label = tops["original"]["label"], tops["clones"]["label"]
            else:
                before_label, after_label = (
                    _by(out, "top_topic")[(c, est, "top")]["label"] for c in ("original", "clones")
                )
                before, after = before_label, after_label
            row = _by(out, "top_change")[("clones", est, "changed")]
            assert row["value"] == float(before != after)
            assert row["label"] == f"{before} -> {after}"
            changed[(of, est)] = row["value"]
            # Kendall's tau against the reference estimator (mle), originals only
            tau = _by(out, "kendall_tau")
            if est == "mle":
                assert not [k for k in tau if k[1] == "mle"]
            else:
                for c in ("original", "clones"):
                    a = [scores[(c, est, str(i))]["value"] for i in range(15)]
                    b = [scores[(c, "mle", str(i))]["value"] for i in range(15)]
                    assert tau[(c, est, "mle")]["value"] == pytest.approx(kendalltau(a, b).statistic, abs=1e-12)
    # on the exact matrix P the clone effect is structural: the standard MLE and Borda lose history, WAWR does not
    assert changed[("topic", "mle")] == 1.0 and changed[("topic", "borda")] == 1.0
    assert changed[("topic", "weighted_mle")] == 0.0


def test_identity_residual_against_an_independent_computation(builtin_text):
    """P4 / P5 (measure identity_residual): on psz-borda's worlds the fitted rewards satisfy the Borda
    identity with self-terms, centre at 0 and order as the (weighted) Borda scores; verdicts hold."""
    from choicelab.estimators.weights import voronoi_weights

    text = builtin_text("psz-borda", seeds=2).replace(
        'names = ["identity_residual"]', 'names = ["identity_residual", "scores", "weights"]'
    )
    sc = parse_scenario(text, builtin_path("psz-borda"))
    runs = expand(sc)
    assert len(runs) == 8
    for run in runs:
        out = run_task(run.kind, run.params, run.seed)
        m = run.params["world"]["alternatives"]["m"]
        # rebuild the world from the run seed with the sim API alone (the alternatives are drawn first)
        region = sim.Box([0.0, 0.0], [1.0, 1.0])
        alts = sim.uniform_alternatives(region, m, rng=np.random.default_rng(run.seed))
        np.testing.assert_array_equal(out.blobs["X.default"], alts.X)
        pop = sim.Population(
            [
                sim.AnnotatorType(0.4, sim.ideal_point_reward([0.25, 0.25])),
                sim.AnnotatorType(0.35, sim.ideal_point_reward([0.75, 0.5])),
                sim.AnnotatorType(0.25, sim.ideal_point_reward([0.4, 0.85])),
            ],
            beta=3.0,
        )
        R = np.stack([t.reward(alts.X) for t in pop.types])
        P = np.einsum("t,tij->ij", np.array([0.4, 0.35, 0.25]), expit(3.0 * (R[:, :, None] - R[:, None, :])))
        np.testing.assert_allclose(out.blobs["P.default"], P, atol=1e-12)
        rows = _by(out, "identity_residual")
        verdicts = {v["estimator"]: v for v in out.verdicts}
        w_exact = voronoi_weights(alts.X, region)
        for name, w in (("mle", np.ones(m)), ("weighted_mle", w_exact)):
            r = np.array([_by(out, "scores")[("default", name, str(i))]["value"] for i in range(m)])
            if name == "weighted_mle":
                stored_w = np.array([_by(out, "weights")[("default", name, str(i))]["value"] for i in range(m)])
                np.testing.assert_allclose(stored_w, w_exact, atol=1e-12)
            lhs = expit(r[:, None] - r[None, :]) @ w + 0.1 * r
            residual = np.max(np.abs(lhs - P @ w))
            assert residual < 1e-8  # P4 / P5, self-terms included
            assert rows[("default", name, "residual")]["value"] == pytest.approx(residual, abs=1e-9)
            assert rows[("default", name, "weighted_sum")]["value"] == pytest.approx(abs(w @ r), abs=1e-12)
            assert abs(w @ r) < 1e-8
            assert np.array_equal(np.argsort(-r), np.argsort(-(P @ w)))
            assert rows[("default", name, "order_agreement")]["value"] == pytest.approx(1.0, abs=1e-12)
            assert rows[("default", name, "converged")]["value"] == 1.0
            v = verdicts[name]
            assert (v["axiom"], v["expected"], v["measured"], v["agrees"]) == (
                "P4" if name == "mle" else "P5",
                "holds",
                "holds",
                True,
            )
            assert v["magnitude"] < 1e-8
            from choicelab import axioms

            replayed = axioms.replay(v["witness"])  # the one witness format: the fit is measured again
            assert replayed.measured == "holds" and replayed.magnitude < 1e-8
            assert rows[("default", name, "measured")]["label"] == "holds"  # the verdict's own results row
            assert rows[("default", name, "measured")]["value"] == v["magnitude"]
        assert {k[1] for k in _by(out, "weights")} == {"weighted_mle"}  # nothing for the unweighted MLE


def test_clone_robustness_delta_curves_follow_theory():
    """A1 (measure a1_curve): Delta(eps) levels off for the standard MLE and falls to 0 linearly for
    the weighted MLE; the verdicts say so and their magnitude is Delta at the smallest eps."""
    text = builtin_path("psz-clone-robustness").read_text()
    text = _section(text, "estimators", "names", '["mle", "weighted_mle"]')
    text = _section(text, "measures.options.a1_curve", "eps", "[3e-2, 1e-2, 1e-3, 1e-4]")
    text = _section(text, "measures.options.a1_curve", "indices", "[0]")
    run = expand(parse_scenario(text, builtin_path("psz-clone-robustness")))[0]
    out = run_task(run.kind, run.params, run.seed)
    rows = _by(out, "a1_curve")
    delta = {(e, float(k)): r["value"] for (_, e, k), r in rows.items() if k not in ("slope", "converged", "measured")}
    assert len(delta) == 8
    assert delta[("weighted_mle", 1e-4)] < 1e-2
    assert delta[("weighted_mle", 1e-4)] < delta[("weighted_mle", 3e-2)] / 100
    assert delta[("mle", 1e-4)] > 1e-3
    assert delta[("mle", 1e-4)] > 0.5 * delta[("mle", 1e-2)]
    eps = np.array([3e-2, 1e-2, 1e-3, 1e-4])
    for est in ("mle", "weighted_mle"):  # the slope row is the least-squares log-log slope of the curve
        d = np.array([delta[(est, e)] for e in eps])
        assert rows[("default", est, "slope")]["value"] == pytest.approx(
            np.polyfit(np.log(eps), np.log(d), 1)[0], abs=0.05
        )
    assert rows[("default", "weighted_mle", "slope")]["value"] > 0.8
    assert rows[("default", "mle", "slope")]["value"] < 0.2
    verdicts = {v["estimator"]: v for v in out.verdicts}
    assert {e: (v["axiom"], v["measured"], v["agrees"]) for e, v in verdicts.items()} == {
        "mle": ("A1", "violated", True),
        "weighted_mle": ("A1", "holds", True),
    }
    assert {e: v["magnitude"] for e, v in verdicts.items()} == {e: delta[(e, 1e-4)] for e in ("mle", "weighted_mle")}
    assert verdicts["mle"]["witness"]["eps"] == eps.tolist() and verdicts["weighted_mle"]["witness"] is None


def test_sensitivity_matches_the_bt_closed_form():
    """X1, X3, X4 (measures three_option, pairwise_vs_tuple, sensitivity_map) against their closed forms."""
    text = builtin_path("xk-sensitivity").read_text()
    text = _section(text, "estimators", "names", '["mle"]')
    for section in ("measures.options.three_option", "measures.options.pairwise_vs_tuple"):
        text = _section(_section(text, section, "points", "5"), section, "n_per_pair", "4000")
    text = _section(text, "measures.options.sensitivity_map", "points", "9")
    run = expand(parse_scenario(text, builtin_path("xk-sensitivity")))[0]
    out = run_task(run.kind, run.params, run.seed)
    rows = _rows(out, "three_option")
    learned = {r["item"]: r["value"] for r in rows if re.fullmatch(r"[0-9.e-]+", r["item"])}
    closed = {r["item"].split(":")[1]: r["value"] for r in rows if r["item"].startswith("closed_form:")}
    assert len(learned) == 5 and set(closed) == set(learned)
    p_jk = 0.99
    for key, value in closed.items():
        expected = expit(logit(float(key)) + logit(p_jk))  # contract X1
        assert value == pytest.approx(expected, abs=1e-5)  # key rounded to 6 significant digits
        assert learned[key] == pytest.approx(value, abs=2e-2)
    assert min(learned.values()) < 0.1 and max(learned.values()) > 0.9  # near 0 to near 1
    max_error = max(abs(learned[k] - closed[k]) for k in learned)
    assert _by(out, "three_option")[("default", "mle", "max_error")]["value"] == pytest.approx(max_error, abs=1e-12)
    assert [(v["axiom"], v["estimator"], v["measured"], v["agrees"]) for v in out.verdicts] == [
        ("X3", "mle", "holds", True)
    ]
    # X4: PL on full rankings of {i, j, k} recovers the tuple's first-choice probability of the world,
    # and the tuple is less sensitive to P_ij than the chained pairwise prediction
    x4 = _rows(out, "pairwise_vs_tuple")
    pair = {r["item"]: r["value"] for r in x4 if r["label"] == "chained pairwise P_ik"}
    tup = {r["item"]: r["value"] for r in x4 if r["label"] == "first-choice q_i|T"}
    closed_x4 = {r["item"].split(":")[1]: r["value"] for r in x4 if r["item"].startswith("closed_form:")}
    assert set(pair) == set(tup) == set(closed_x4) and len(pair) == 5
    p_ij = np.array(sorted(pair, key=float), dtype=float)
    keys = sorted(pair, key=float)
    u = np.stack([logit(p_ij) + logit(p_jk), np.full_like(p_ij, logit(p_jk)), np.zeros_like(p_ij)])
    np.testing.assert_allclose([tup[k] for k in keys], np.exp(u[0]) / np.exp(u).sum(axis=0), atol=0.03)
    np.testing.assert_allclose([pair[k] for k in keys], [closed_x4[k] for k in keys], atol=0.02)
    sens = {r["estimator"]: r["value"] for r in x4 if r["item"] == "max_sensitivity"}
    assert sens["tuple_pl"] < sens["pairwise_bt"] / 2
    # X1 map: dP_ik/dP_ij = P_ik (1 - P_ik) / (P_ij (1 - P_ij)) over the grid
    smap = {r["item"]: r["value"] for r in _rows(out, "sensitivity_map")}
    g = np.arange(1, 10) / 10
    assert len(smap) == 81
    for a in g:
        for b in g:
            pik = expit(logit(a) + logit(b))
            assert smap[f"{a:.6g},{b:.6g}"] == pytest.approx(pik * (1 - pik) / (a * (1 - a)), rel=1e-10)


def test_axiom_matrix_cells_against_theory():
    """A5 on two estimators: the MLE is not Condorcet consistent (a witness that replays), Copeland is."""
    from choicelab import axioms

    run = expand(load_scenario(DATA / "axiom_matrix_small.toml"))[0]
    out = run_task(run.kind, run.params, run.seed)
    cells = {v["estimator"]: v for v in out.verdicts}
    assert set(cells) == {"mle", "copeland"}
    assert (cells["mle"]["expected"], cells["mle"]["measured"], cells["mle"]["agrees"]) == (
        "violated",
        "violated",
        True,
    )
    assert (cells["copeland"]["expected"], cells["copeland"]["measured"], cells["copeland"]["agrees"]) == (
        "holds",
        "holds",
        True,
    )
    # the verdict's results row mirrors it
    rows = _by(out, "A5")
    assert rows[("default", "mle", "measured")]["label"] == "violated"
    assert rows[("default", "mle", "measured")]["value"] == cells["mle"]["magnitude"]
    witness = cells["mle"]["witness"]
    assert witness is not None and witness["axiom"] == "A5" and witness["estimator"] == "mle"
    # the witness is a Condorcet winner that the MLE does not rank first
    P = np.asarray(witness["instance"]["P"], dtype=float)
    winner = [i for i in range(len(P)) if all(P[i, j] > 0.5 for j in range(len(P)) if j != i)]
    assert len(winner) == 1
    from choicelab.estimators.bt import bt_mle

    assert int(np.argmax(bt_mle(P, lam=0.1).rewards)) != winner[0]
    again = axioms.replay(witness)
    assert again.measured == "violated" and again.magnitude == pytest.approx(cells["mle"]["magnitude"], rel=1e-9)


def test_byo_data_flags_the_planted_near_duplicates():
    """clone_diagnostic's dense flags and collapse_test's refit against a brute-force recomputation
    from the example files: nearest neighbours, exact 2-D Voronoi weights, both BT fits, scipy's tau."""
    from choicelab.estimators.bt import bt_mle_comparisons
    from choicelab.estimators.weights import voronoi_weights
    from choicelab.sim import Box, Comparisons

    run = expand(load_scenario("byo-data"))[0]
    out = run_task(run.kind, run.params, run.seed)
    folder = builtin_path("byo-data").parent / "data"
    X = np.loadtxt(folder / "example_embeddings.csv", delimiter=",", skiprows=1, usecols=(1, 2))
    names = np.loadtxt(folder / "example_embeddings.csv", delimiter=",", skiprows=1, usecols=(0,), dtype=str)
    table = np.loadtxt(folder / "example_comparisons.csv", delimiter=",", skiprows=1, dtype=np.int64)
    m = X.shape[0]
    assert m == 9 and out.blobs["labels.default"].tolist() == names.tolist()
    # brute force: nearest-neighbour distances, the padded bounding box, exact weights, spacing, flags
    D = np.linalg.norm(X[:, None] - X[None], axis=2) + np.diag(np.full(m, np.inf))
    nn = D.min(axis=1)
    lo, hi = X.min(axis=0), X.max(axis=0)
    region = Box(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    w = voronoi_weights(X, region)
    spacing = np.sqrt(np.prod(1.2 * (hi - lo)) / m)
    dense = (m * w < 0.25) | (nn < 0.25 * spacing)
    np.testing.assert_allclose(out.blobs["diagnostic.nn_distance"], nn, rtol=1e-12)
    np.testing.assert_allclose(out.blobs["weights.default"], w, atol=1e-12)
    np.testing.assert_allclose(out.blobs["diagnostic.weight_ratio"], m * w, atol=1e-10)
    np.testing.assert_array_equal(out.blobs["diagnostic.dense"].astype(bool), dense)
    diag = _by(out, "clone_diagnostic")
    flagged = {k[2]: r for k, r in diag.items() if k[2].startswith("dense:")}
    assert set(flagged) == {f"dense:{i}" for i in np.flatnonzero(dense)}
    for i in np.flatnonzero(dense):
        assert flagged[f"dense:{i}"]["label"] == names[i]
        assert flagged[f"dense:{i}"]["value"] == pytest.approx(m * w[i], abs=1e-10)
    # the example data: 'food' and its 4 near-copies form the one dense cluster
    assert {names[i] for i in np.flatnonzero(dense)} == {"food", "food_copy1", "food_copy2", "food_copy3", "food_copy4"}
    value = {k[2]: r["value"] for k, r in diag.items()}
    assert (value["m"], value["n_comparisons"], value["dense_count"], value["collapsed_m"]) == (9, 2000, 5, 5)
    assert value["typical_spacing"] == pytest.approx(spacing, rel=1e-12)
    assert value["median_nn"] == pytest.approx(np.median(nn), rel=1e-12)
    np.testing.assert_array_equal(out.blobs["diagnostic.keep"], [0, 1, 2, 3, 4])
    kept = (table[:, 0] < 5) & (table[:, 1] < 5)
    assert value["collapsed_comparisons"] == kept.sum()
    # both fits on all data and on the collapsed data, recomputed with the estimators called directly
    comps, small = Comparisons(*table.T), Comparisons(*table[kept].T)
    w5 = voronoi_weights(X[:5], region)
    collapse = _by(out, "collapse_test")
    tops = {}
    for est, weights, weights5 in (("mle", None, None), ("weighted_mle", w, w5)):
        r = bt_mle_comparisons(comps, 9, weights=weights, lam=0.1).rewards
        rc = bt_mle_comparisons(small, 5, weights=weights5, lam=0.1).rewards
        stored = np.array([_by(out, "scores")[("default", est, str(i))]["value"] for i in range(9)])
        np.testing.assert_allclose(stored, r, atol=1e-10)
        assert collapse[("default", est, "kendall_tau")]["value"] == pytest.approx(
            kendalltau(r[:5], rc).statistic, abs=1e-12
        )
        top_c = int(np.argmax(rc))
        assert collapse[("default", est, "top_collapsed")]["value"] == float(top_c)
        assert collapse[("default", est, "top_collapsed")]["label"] == names[top_c]
        tops[est] = (_by(out, "top_item")[("default", est, "top")]["label"], names[top_c])
        assert _by(out, "top_item")[("default", est, "top")]["label"] == names[int(np.argmax(r))]
    # the clone effect of [PSZ]: the copies lift food for the standard MLE only
    assert tops["mle"][0].startswith("food") and tops["mle"][1] == "history"
    assert tops["weighted_mle"] == ("history", "history")
    assert (
        collapse[("default", "weighted_mle", "kendall_tau")]["value"]
        > collapse[("default", "mle", "kendall_tau")]["value"]
    )


def test_selftest_measure_raises_only_for_listed_seeds():
    """selftest: seeded draws from the run generator, an LCG checksum, and a RuntimeError for listed seeds."""
    text = (
        '[scenario]\nname = "st"\nseeds = 5\n[data]\nkind = "none"\n[measures]\nnames = ["selftest"]\n'
        "[measures.options.selftest]\nwork = 1000\nvalues = 3\nfail_seeds = [1, 3]\n"
    )
    for run in expand(parse_scenario(text, DATA / "st.toml")):
        if run.seed in (1, 3):
            with pytest.raises(
                RuntimeError,
                match=rf"selftest: seed {run.seed} is listed in "
                r"measures.options.selftest.fail_seeds",
            ):
                run_task(run.kind, run.params, run.seed)
            continue
        out = run_task(run.kind, run.params, run.seed)
        rng = np.random.default_rng(run.seed)  # independent re-computation of the measure's draws
        rows = _by(out, "selftest")
        assert [rows[("default", "selftest", str(k))]["value"] for k in range(3)] == rng.random(3).tolist()
        acc = run.seed
        for _ in range(1000):
            acc = (6364136223846793005 * acc + 1442695040888963407) % (1 << 64)
        assert rows[("default", "selftest", "checksum")]["value"] == float(acc % 1000003)
        np.testing.assert_array_equal(out.blobs["draws"], rng.standard_normal(5))
        assert set(out.blobs) == {"draws"} and out.verdicts == []


def test_run_task_rejects_bad_kind_and_seed():
    params = expand(load_scenario(DATA / "selftest.toml"))[0].params
    with pytest.raises(ValueError, match=r"kind must be one of \['experiment'\], got 'selftest'"):
        run_task("selftest", params, 0)
    for seed in (-1, 2**63, 1.5, True):
        with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\*\*63\)"):
            run_task("experiment", params, seed)


def test_summary_counts_verdicts_and_keeps_sweep_points_apart(tmp_path):
    """The console summary (summarise): per sweep point, a mean per fit, a mode for categorical
    measures, item counts for per-alternative measures, and agree / disagree / undecided per estimator."""
    from choicelab.scenarios.spec import Run
    from choicelab.scenarios.tasks import summarise

    with Store(tmp_path / "s.sqlite") as store:
        store.record_batch(
            "m",
            "experiment",
            params={"sweep": {"world.alternatives.m": [4, 8]}, "about": {"summaries": {"top_item": "mode"}}},
        )
        runs = [
            Run(f"r{k}", "m", "experiment", {}, k % 2, {"world.alternatives.m": 4 if k < 2 else 8}) for k in range(4)
        ]
        store.mark_running(runs)
        for k, run in enumerate(runs):
            rows = [
                {"estimator": "mle", "measure": "kendall_tau", "item": "borda", "value": 0.1 * (k + 1)},
                {
                    "estimator": "mle",
                    "measure": "top_item",
                    "item": "top",
                    "label": "a" if k != 1 else "b",
                    "value": 0.0 if k != 1 else 1.0,
                },
                {"estimator": "mle", "measure": "scores", "item": "0", "value": 1.0},
                {"estimator": "mle", "measure": "scores", "item": "1", "value": 2.0},
            ]
            verdicts = [
                {"axiom": "A5", "estimator": "mle", "expected": "violated", "measured": m, "agrees": a}
                for m, a in (
                    (("violated", True),) if k == 0 else (("holds", False),) if k == 1 else (("inconclusive", None),)
                )
            ]
            store.record_done(run.run_id, rows, {}, seconds=0.0, verdicts=verdicts)
        key = summarise("experiment", store, "m")
    assert key["kind"] == "experiment" and key["sweep_keys"] == ["world.alternatives.m"]
    assert key["verdicts"] == {"mle": {"agree": 1, "disagree": 1, "undecided": 2}}
    assert [p["point"] for p in key["points"]] == [{"world.alternatives.m": 4}, {"world.alternatives.m": 8}]
    first = {r["measure"]: r for r in key["points"][0]["rows"]}
    assert first["kendall_tau"]["mean"] == pytest.approx(0.15) and first["kendall_tau"]["runs"] == 2
    assert first["scores"]["items"] == 2 and "mean" not in first["scores"]
    assert (first["top_item"]["label"], first["top_item"]["label_runs"], first["top_item"]["runs"]) in (
        ("a", 1, 2),
        ("b", 1, 2),
    )
    second = {r["measure"]: r for r in key["points"][1]["rows"]}
    assert second["kendall_tau"]["mean"] == pytest.approx(0.35)  # never averaged across sweep points
    assert (second["top_item"]["label"], second["top_item"]["label_runs"]) == ("a", 2)

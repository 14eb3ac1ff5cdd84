"""What runs compute: the built-in scenarios against independent computations and theory."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit, logit

from choicelab.scenarios.runner import run_batch
from choicelab.scenarios.spec import builtin_path, expand, load_scenario, parse_scenario
from choicelab.scenarios.store import Store
from choicelab.scenarios.tasks import _world, run_task, summarise

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"


def test_case_study_flip_standard_but_not_weighted(tmp_path, builtin_text):
    """[PSZ] case study: on run-averaged topic rewards the standard MLE's top topic changes when
    the food clones are added, the weighted MLE's does not -- exact and neural (paper settings)."""
    sc = parse_scenario(builtin_text("psz-case-study", seeds=6), builtin_path("psz-case-study"))
    assert sc.params["estimators"]["neural"]["steps"] == 500 and sc.params["estimators"]["neural"]["seeds"] == 20
    db = tmp_path / "cs.sqlite"
    summary = run_batch(sc, db, workers=2)
    assert summary.done == 6 and not summary.errors
    with Store(db) as store:
        key = summarise("case_study", store, "psz-case-study")["estimators"]
        for est in ("mle", "neural_mle"):
            assert key[est]["original"]["top_topic"] == "history"
            assert key[est]["clones"]["top_topic"] == "food"
            assert key[est]["flip"] is True
        for est in ("weighted_mle", "neural_weighted_mle"):
            assert key[est]["original"]["top_topic"] == "history"
            assert key[est]["clones"]["top_topic"] == "history"
            assert key[est]["flip"] is False
        # the scenario's caveat: the paper's settings leave the networks under-trained on the replica
        for est in ("neural_mle", "neural_weighted_mle"):
            assert _mean_rows(store, "psz-case-study", est, "fit_quality.original", "kendall_tau_vs_exact") < 0.8
        # topic rewards are the means over each topic's original responses of the stored reward vectors
        run_id = sorted(store.done_run_ids("psz-case-study"))[0]
        blobs = store.blobs(run_id)
        rows = {(r.estimator, r.metric, r.key): r.value for r in store.results(run_id=run_id)}
        labels = blobs["labels.clones"]
        m0 = blobs["labels.original"].size
        for est in ("mle", "weighted_mle", "neural_mle", "neural_weighted_mle"):
            r = blobs[f"{est}.clones.rewards"]
            for topic in ("history", "food", "art", "architecture", "nightlife"):
                members = np.flatnonzero(labels[:m0] == topic)
                assert members.size == 3
                assert rows[(est, "topic_reward.clones", topic)] == pytest.approx(r[members].mean(), abs=1e-12)
        # the clones dataset holds 5 near-duplicates of each food response within eps = 0.05
        X0, X1 = blobs["X.original"], blobs["X.clones"]
        assert X1.shape == (30, 8) and np.array_equal(X1[:15], X0)
        assert set(labels[15:]) == {"food"}
        food = np.flatnonzero(labels[:15] == "food")
        dist = np.linalg.norm(X1[15:, None, :] - X1[None, food, :], axis=2).min(axis=1)
        assert np.all(dist <= 0.05 + 1e-12)
        np.testing.assert_allclose(blobs["weights.clones"].sum(), 1.0, atol=1e-12)


def _mean_rows(store, batch: str, estimator: str, metric: str, key: str) -> float:
    return float(np.mean([r.value for r in store.results(batch=batch, estimator=estimator, metric=metric)
                          if r.key == key]))


def test_converged_variant_shows_the_flip_with_networks_that_match_the_exact_fits(tmp_path, builtin_text):
    """psz-case-study-converged: the same flip, and the networks now order the responses as the
    exact MLEs do (Kendall tau near 1), where the paper's settings leave them near 0.5."""
    name = "psz-case-study-converged"
    sc = parse_scenario(builtin_text(name, seeds=4), builtin_path(name))
    db = tmp_path / "conv.sqlite"
    assert run_batch(sc, db, workers=2, progress=False).done == 4
    with Store(db) as store:
        key = summarise("case_study", store, name)["estimators"]
        assert key["neural_mle"]["flip"] is True and key["neural_mle"]["clones"]["top_topic"] == "food"
        assert key["neural_weighted_mle"]["flip"] is False
        assert key["neural_weighted_mle"]["clones"]["top_topic"] == "history"
        for est in ("neural_mle", "neural_weighted_mle"):
            assert _mean_rows(store, name, est, "fit_quality.original", "kendall_tau_vs_exact") > 0.95
            assert _mean_rows(store, name, est, "fit_quality.clones", "kendall_tau_vs_exact") > 0.7


def test_borda_identity_against_an_independent_computation(tmp_path, builtin_text):
    sc = parse_scenario(builtin_text("psz-borda", seeds=2), builtin_path("psz-borda"))
    db = tmp_path / "b.sqlite"
    assert run_batch(sc, db, workers=1).done == 8
    with Store(db) as store:
        for run in expand(sc):
            blobs = store.blobs(run.run_id)
            # rebuild the world from the run seed, exactly as the task does (positions come first)
            region, alts, pop = _world(run.params, np.random.default_rng(run.seed))
            m = alts.m
            assert m == run.params["world"]["alternatives"]["m"]
            R = pop.rewards(alts.X)  # (T, m)
            P = np.einsum("t,tij->ij", pop.shares, expit(pop.beta * (R[:, :, None] - R[:, None, :])))
            np.fill_diagonal(P, 0.5)
            for name, w in (("mle", np.ones(m)), ("weighted_mle", blobs["weights"])):
                r = blobs[f"{name}.rewards"]
                lhs = expit(r[:, None] - r[None, :]) @ w + 0.1 * r
                assert np.max(np.abs(lhs - P @ w)) < 1e-8  # P4 / P5, self-terms included
                assert abs(w @ r) < 1e-8
                assert np.array_equal(np.argsort(-r), np.argsort(-(P @ w)))
                rows = {(r_.metric, r_.key): r_.value for r_ in store.results(run_id=run.run_id, estimator=name)}
                assert rows[("residual", "max")] < 1e-8 and rows[("order_agreement", "kendall_tau")] == pytest.approx(1.0, abs=1e-12)
                assert rows[("verdict", "P4.measured" if name == "mle" else "P5.measured")] == 1.0
                assert rows[("magnitude", "P4" if name == "mle" else "P5")] < 1e-8
            np.testing.assert_allclose(blobs["P"], P, atol=1e-12)


def test_clone_robustness_delta_curves_follow_theory(tmp_path, builtin_text):
    """A1: Delta(eps) levels off for the standard MLE and falls to 0 for the weighted MLE."""
    text = builtin_text("psz-clone-robustness", seeds=1, names='["mle", "weighted_mle"]',
                         eps="[1e-1, 1e-2, 1e-3, 1e-4]", indices="[0]")
    sc = parse_scenario(text, builtin_path("psz-clone-robustness"))
    run = expand(sc)[0]
    out = run_task(run.kind, run.params, run.seed)
    delta = {(e, k): v for e, mt, k, v in out.rows if mt == "delta"}
    assert delta[("weighted_mle", "0.0001")] < 1e-2
    assert delta[("weighted_mle", "0.0001")] < delta[("weighted_mle", "0.1")] / 100
    assert delta[("mle", "0.0001")] > 1e-3
    assert delta[("mle", "0.0001")] > 0.5 * delta[("mle", "0.01")]
    measured = {e: v for e, mt, k, v in out.rows if mt == "verdict" and k == "A1.measured"}
    assert measured == {"mle": 0.0, "weighted_mle": 1.0}
    magnitude = {e: v for e, mt, k, v in out.rows if mt == "magnitude" and k == "A1"}
    assert magnitude == {e: delta[(e, "0.0001")] for e in ("mle", "weighted_mle")}  # Delta at the smallest eps
    assert out.blobs["mle.delta_curve"].shape == (2, 4)
    # the figure's instance: M plus one clone of index 0 at the largest eps, and its Voronoi weights
    Xc, wc = out.blobs["X.with_clone"], out.blobs["weights.with_clone"]
    assert Xc.shape == (9, 2) and np.linalg.norm(Xc[-1] - Xc[0]) <= 0.1 + 1e-12  # within eps of index 0
    assert wc.sum() == pytest.approx(1.0) and wc[0] + wc[-1] < 2.5 / 9


def test_sensitivity_matches_the_bt_closed_form(builtin_text):
    text = builtin_text("xk-sensitivity", names='["mle"]', points=5, map_points=9, n_per_pair=4000)
    run = expand(parse_scenario(text, builtin_path("xk-sensitivity")))[0]
    out = run_task(run.kind, run.params, run.seed)
    learned = {k: v for e, mt, k, v in out.rows if mt == "learned_p_ik"}
    closed = {k: v for e, mt, k, v in out.rows if mt == "closed_form_p_ik"}
    assert len(learned) == 5
    p_jk = 0.99
    for key, value in closed.items():
        expected = expit(logit(float(key)) + logit(p_jk))  # SPEC X1
        assert value == pytest.approx(expected, abs=1e-5)  # key rounded to 6 significant digits
        assert learned[key] == pytest.approx(value, abs=2e-2)
    assert min(learned.values()) < 0.1 and max(learned.values()) > 0.9  # near 0 to near 1
    assert [(e, v) for e, mt, k, v in out.rows if mt == "verdict"] == [("mle", 1.0)]
    # X4: PL on full rankings of {i, j, k} recovers the tuple's first-choice probability of the world,
    # and the tuple is less sensitive to P_ij than the chained pairwise prediction
    p_ij, pair_p_ik, tuple_q, closed_x4 = out.blobs["pairwise_vs_tuple"]
    u = np.stack([logit(p_ij) + logit(p_jk), np.full_like(p_ij, logit(p_jk)), np.zeros_like(p_ij)])
    np.testing.assert_allclose(tuple_q, np.exp(u[0]) / np.exp(u).sum(axis=0), atol=0.03)
    np.testing.assert_allclose(pair_p_ik, closed_x4, atol=0.02)
    sens = {e: v for e, mt, k, v in out.rows if mt == "max_sensitivity"}
    assert sens["tuple_pl"] < sens["pairwise_bt"] / 2
    g = out.blobs["sensitivity_grid"]
    np.testing.assert_allclose(g, np.arange(1, 10) / 10)
    pik = expit(logit(g)[:, None] + logit(g)[None, :])
    np.testing.assert_allclose(out.blobs["sensitivity_map"], pik * (1 - pik) / (g * (1 - g))[:, None], rtol=1e-10)


def test_axiom_matrix_cells_against_theory():
    text = (DATA / "axiom_matrix_small.toml").read_text()
    run = expand(parse_scenario(text, DATA / "axiom_matrix_small.toml"))[0]
    out = run_task(run.kind, run.params, run.seed)
    rows = {(e, k): v for e, mt, k, v in out.rows if mt == "verdict"}
    # SPEC A5: the MLE is not Condorcet consistent, Copeland is
    assert rows[("mle", "A5.expected")] == 0.0 and rows[("copeland", "A5.expected")] == 1.0
    assert rows[("mle", "A5.measured")] == 0.0 and rows[("copeland", "A5.measured")] == 1.0
    assert rows[("mle", "A5.agrees")] == 1.0 and rows[("copeland", "A5.agrees")] == 1.0
    verdict = json.loads(str(out.blobs["verdict.A5.mle"]))
    assert verdict["axiom"] == "A5" and verdict["measured"] == "violated" and verdict["witness"] is not None


def test_byo_data_flags_the_planted_near_duplicates():
    from choicelab.estimators.bt import bt_mle_comparisons
    from choicelab.estimators.weights import voronoi_weights
    from choicelab.sim import Box, Comparisons

    run = expand(load_scenario("byo-data"))[0]
    out = run_task(run.kind, run.params, run.seed)
    labels = out.blobs["labels"].tolist()
    dense = {labels[i] for i in np.flatnonzero(out.blobs["dense"])}
    # the example data: 'food' and its 4 near-copies (within 0.008 per axis) form one dense cluster
    assert dense == {"food", "food_copy1", "food_copy2", "food_copy3", "food_copy4"}
    rows = {(e, mt, k): v for e, mt, k, v in out.rows}
    assert rows[("data", "clone_diagnostic", "m")] == 9
    assert rows[("data", "clone_diagnostic", "collapsed_m")] == 5
    assert rows[("data", "clone_diagnostic", "n_comparisons")] == 2000
    np.testing.assert_array_equal(out.blobs["collapsed_keep"], [0, 1, 2, 3, 4])
    # independent recomputation from the files: nearest neighbours, Voronoi weights, both fits
    folder = builtin_path("byo-data").parent / "data"
    X = np.loadtxt(folder / "example_embeddings.csv", delimiter=",", skiprows=1, usecols=(1, 2))
    table = np.loadtxt(folder / "example_comparisons.csv", delimiter=",", skiprows=1, dtype=np.int64)
    D = np.linalg.norm(X[:, None] - X[None], axis=2) + np.diag(np.full(9, np.inf))
    np.testing.assert_allclose(out.blobs["nn_distance"], D.min(axis=1), rtol=1e-12)
    lo, hi = X.min(axis=0), X.max(axis=0)
    region = Box(lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
    w = voronoi_weights(X, region)  # exact in 2-D
    np.testing.assert_allclose(out.blobs["weights"], w, atol=1e-12)
    comps = Comparisons(*table.T)
    kept = (table[:, 0] < 5) & (table[:, 1] < 5)
    small = Comparisons(*table[kept].T)
    w5 = voronoi_weights(X[:5], region)
    for est, weights, weights5 in (("mle", None, None), ("weighted_mle", w, w5)):
        r = bt_mle_comparisons(comps, 9, weights=weights, lam=0.1).rewards
        rc = bt_mle_comparisons(small, 5, weights=weights5, lam=0.1).rewards
        np.testing.assert_allclose(out.blobs[f"{est}.rewards"], r, atol=1e-10)
        np.testing.assert_allclose(out.blobs[f"{est}.rewards.collapsed"], rc, atol=1e-10)
    top = {e: k for e, mt, k in rows if mt == "top_alternative"}
    top_c = {e: k for e, mt, k in rows if mt == "top_alternative_collapsed"}
    # the clone effect of [PSZ]: the copies lift food for the standard MLE only
    assert top["mle"].startswith("food") and top_c["mle"] == "history"
    assert top["weighted_mle"] == top_c["weighted_mle"] == "history"
    assert rows[("weighted_mle", "kendall_tau", "collapsed")] > rows[("mle", "kendall_tau", "collapsed")]


def test_run_task_rejects_bad_kind_and_seed():
    with pytest.raises(ValueError, match="kind must be one of"):
        run_task("nope", {}, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        run_task("selftest", {}, -1)


def test_summaries_from_hand_written_rows(tmp_path):
    from choicelab.scenarios.spec import Run

    with Store(tmp_path / "s.sqlite") as store:
        store.record_batch("m", "axiom_matrix")
        runs = [Run(f"r{k}", "m", "axiom_matrix", {}, k, {}) for k in range(2)]
        store.mark_running(runs)
        store.record_done("r0", [("mle", "verdict", "A5.agrees", 1.0), ("mle", "verdict", "A4.agrees", 0.0),
                                 ("mle", "verdict", "A9.agrees", float("nan")), ("mle", "magnitude", "A5", 0.3)], {},
                          seconds=0.0)
        store.record_done("r1", [("mle", "verdict", "X3.error", 1.0), ("copeland", "verdict", "A5.agrees", 1.0)], {},
                          seconds=0.0)
        cells = summarise("axiom_matrix", store, "m")["cells"]
        assert cells == {"mle": {"agree": 1, "disagree": 1, "undecided": 1, "error": 1},
                         "copeland": {"agree": 1, "disagree": 0, "undecided": 0, "error": 0}}
        store.record_batch("b", "identity_residual")
        runs = [Run(f"b{k}", "b", "identity_residual", {}, k, {}) for k in range(2)]
        store.mark_running(runs)
        for k, run in enumerate(runs):
            store.record_done(run.run_id, [("mle", "residual", "max", 1e-10 * (k + 1)), ("mle", "converged", "", 1.0)],
                              {}, seconds=0.0)
        assert summarise("identity_residual", store, "b")["means"] == {"mle residual max": pytest.approx(1.5e-10)}

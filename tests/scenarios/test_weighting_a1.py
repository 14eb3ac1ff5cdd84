"""Measure a1_by_weighting: the A1 curve of the weighted MLE under each weighting, on one instance."""

from __future__ import annotations

import numpy as np
import pytest

from choicelab.scenarios.spec import builtin_path, expand, parse_scenario
from choicelab.scenarios.tasks import run_task


def _run(text):
    run = expand(parse_scenario(text, builtin_path("psz-clone-robustness")))[0]
    return run, run_task(run.kind, run.params, run.seed)


def _scenario(weightings='["voronoi", "uniform", "inverse_kde", "radius_graph"]'):
    text = builtin_path("psz-clone-robustness").read_text()
    names = 'names = ["mle", "weighted_mle", "neural_mle", "neural_weighted_mle"]'
    text = text.replace(names, 'names = ["mle", "weighted_mle"]')
    text = text.replace('names = ["a1_curve"]', 'names = ["a1_curve", "a1_by_weighting"]')
    text = text.replace("indices = [0, 1, 2]", "indices = [0]")
    text = text.replace("eps = [3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4]", "eps = [1e-2, 1e-3, 1e-4]")
    text += (
        "\n[measures.options.a1_by_weighting]\n"
        f"weightings = {weightings}\n"
        "eps = [1e-2, 1e-3, 1e-4]\nindices = [0]\n"
        "\n[measures.options.a1_by_weighting.options]\nradius_graph = {alpha = 0.5}\n"
    )
    return text


def test_voronoi_curve_is_a1_curve_with_the_same_draws():
    from choicelab.axioms import generators as gen
    from choicelab.axioms.clones import a1_curve
    from choicelab.scenarios.measures.weighting_a1 import a1_curves_by_weighting

    inst = gen.random_world_instances(np.random.default_rng(2), 1, d_choices=(2,), m_range=(6, 6))[0]
    eps = [1e-2, 1e-3]
    res = a1_curves_by_weighting("weighted_mle", inst, ["voronoi", "uniform"], eps_grid=eps, indices=[0, 2], rng=5)
    seed = int(np.random.default_rng(5).integers(2**63 - 1))
    ref = a1_curve("weighted_mle", inst, eps_grid=eps, indices=[0, 2], rng=np.random.default_rng(seed))
    assert res["voronoi"]["delta"] == ref["delta"]
    assert res["voronoi"]["per_index"] == {int(k): v for k, v in ref["per_index"].items()}
    assert res["uniform"]["delta"] != ref["delta"]


def test_scenario_rows_follow_theory_per_weighting():
    run, out = _run(_scenario())
    rows = {(r["estimator"], r["item"]): r for r in out.rows if r["measure"] == "a1_by_weighting"}
    assert rows and all(e == "weighted_mle" for e, _ in rows)  # nothing for the unweighted MLE
    eps = ["0.01", "0.001", "0.0001"]
    d = {w: np.array([rows[("weighted_mle", f"{w}:{e}")]["value"] for e in eps]) for w in ("voronoi", "uniform")}
    # clone-proof Voronoi weights: Delta -> 0 linearly; uniform weights (the standard MLE, P7): a positive limit
    assert d["voronoi"][-1] < 1e-2 and d["voronoi"][-1] < d["voronoi"][0] / 30
    assert d["uniform"][-1] > 1e-3 and d["uniform"][-1] > 0.5 * d["uniform"][1]
    assert rows[("weighted_mle", "voronoi:outcome")]["label"] == "voronoi: A1 holds"
    assert rows[("weighted_mle", "uniform:outcome")]["label"] == "uniform: A1 violated"
    # the other weightings were run on the same instance
    for w in ("inverse_kde", "radius_graph"):
        assert np.isfinite(rows[("weighted_mle", f"{w}:slope")]["value"])


def test_a1_curves_by_weighting_matches_a_direct_refit_in_3d():
    """Inverse-KDE weights in 3-D (no exact Voronoi shortcut): Delta recomputed by hand from the same draws."""
    from choicelab.axioms import fitting
    from choicelab.axioms import generators as gen
    from choicelab.axioms.clones import _delta, _direction, _with_clone
    from choicelab.estimators.weights import inverse_kde_weights
    from choicelab.scenarios.measures.weighting_a1 import a1_curves_by_weighting

    inst = gen.random_world_instances(np.random.default_rng(4), 1, d_choices=(3,), m_range=(5, 5))[0]
    eps = [1e-2, 1e-4]
    res = a1_curves_by_weighting("weighted_mle", inst, ["inverse_kde"], eps_grid=eps, indices=[1, 3], rng=9)
    # the draws: a seed from rng, then (per weighting) the fit seed and one direction per index
    seed = int(np.random.default_rng(9).integers(2**63 - 1))
    r = np.random.default_rng(seed)
    r.integers(2**63 - 1)

    def rewards(i):
        return fitting.fit_outcome("weighted_mle", i, weights=inverse_kde_weights(i.X)).scores

    base = rewards(inst)
    for k in (1, 3):
        u = _direction(3, r)
        for j, e in enumerate(eps):
            p = inst.X[k] + e * u
            if not inst.region.contains(p[None])[0]:
                p = inst.X[k] - e * u
            expected = _delta(base, rewards(_with_clone(inst, k, p)), k)
            assert res["inverse_kde"]["per_index"][k][j] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert res["inverse_kde"]["delta"] == [max(res["inverse_kde"]["per_index"][k][j] for k in (1, 3)) for j in range(2)]
    # inverse KDE is continuous, so an eps-clone's effect tends to that of an exact clone, which is not zero
    assert res["inverse_kde"]["delta"][-1] > 1e-3


def test_a1_by_weighting_rejects_unknown_names_and_stray_options():
    from choicelab.axioms import generators as gen
    from choicelab.scenarios.measures.weighting_a1 import a1_curves_by_weighting

    inst = gen.random_world_instances(np.random.default_rng(0), 1, d_choices=(2,), m_range=(4, 4))[0]
    with pytest.raises(ValueError, match="unknown weighting 'voronoy'"):
        a1_curves_by_weighting("weighted_mle", inst, ["voronoy"], eps_grid=[1e-2, 1e-3])
    with pytest.raises(ValueError, match=r"options given for weightings not in the list: \['radius_graph'\]"):
        a1_curves_by_weighting(
            "weighted_mle", inst, ["uniform"], options={"radius_graph": {"alpha": 1.0}}, eps_grid=[1e-2, 1e-3]
        )


_WORLD_3D = """
[scenario]
name = "weight-error-3d"
description = "Voronoi weights by Monte Carlo in 3-D: the weighted MLE reports what their error does."
seeds = 1
base_seed = 0

[world.region]
type = "box"
lo = [0.0, 0.0, 0.0]
hi = [1.0, 1.0, 1.0]

[world.alternatives]
generator = "uniform"
m = 7

[world.population]
choice = "bt"
beta = 3.0

[[world.population.types]]
share = 0.6
reward = "ideal_point"
center = [0.2, 0.3, 0.4]

[[world.population.types]]
share = 0.4
reward = "ideal_point"
center = [0.8, 0.6, 0.5]

[data]
kind = "representative"

[estimators]
names = ["mle", "weighted_mle"]
lam = 0.1

[measures]
names = ["weights", "weight_error"]
"""


def test_weight_error_measure_runs_in_a_scenario_with_monte_carlo_weights():
    run = expand(parse_scenario(_WORLD_3D, builtin_path("clone-sweep")))[0]
    out = run_task(run.kind, run.params, run.seed)
    mine = [r for r in out.rows if r["measure"] == "weight_error"]
    assert {r["estimator"] for r in mine} == {"weighted_mle"}  # nothing for the unweighted MLE
    rows = {r["item"]: r for r in mine}
    se = np.array([rows[str(i)]["value"] for i in range(7)])
    assert np.all(se > 0) and rows["max"]["value"] == se.max()
    w = [r["value"] for r in out.rows if r["measure"] == "weights" and r["estimator"] == "weighted_mle"]
    counts = np.array(w) * 200_000
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-6)  # Monte Carlo shares k / N


def test_weight_error_measure_is_the_delta_method_on_the_condition_weights():
    from types import SimpleNamespace

    from choicelab.axioms import generators as gen
    from choicelab.estimators.registry import get_estimator
    from choicelab.estimators.weight_error import propagate_weight_error
    from choicelab.estimators.weights import voronoi_weights
    from choicelab.scenarios.measures import MeasureContext, get_measure

    inst = gen.random_world_instances(np.random.default_rng(7), 1, d_choices=(3,), m_range=(6, 6))[0]
    w = voronoi_weights(inst.X, inst.region, n_samples=50_000, rng=1)
    out = get_estimator("weighted_mle").fit(inst, data=None, weights=w, lam=0.1, rng=0)
    assert out.weight_error is None  # given weights: the fit knows nothing of their error
    spec = SimpleNamespace(estimators=SimpleNamespace(weights={"name": "voronoi", "n_samples": 50_000}, lam=0.1))
    cond = SimpleNamespace(instance=inst, weights=w, data=None, alternatives=inst.alternatives)

    def context(spec):
        return MeasureContext(
            spec=spec,
            seed=0,
            rng=None,
            world=None,
            conditions={"c": cond},
            outputs={},
            condition="c",
            estimator="weighted_mle",
            output=out,
        )

    rows = {r.item: r.value for r in get_measure("weight_error").fn(context(spec))}
    eff = propagate_weight_error(inst.P, out.scores, w, 0.1, (np.diag(w) - np.outer(w, w)) / 50_000)
    np.testing.assert_allclose([rows[i] for i in range(6)], eff.reward_stderr, rtol=1e-10)
    assert rows["expected_discordant_pairs"] == pytest.approx(eff.expected_discordant_pairs, rel=1e-10)
    # exact weights (a 2-D box) or another weighting: no rows
    spec2 = SimpleNamespace(estimators=SimpleNamespace(weights={"name": "inverse_kde"}, lam=0.1))
    assert list(get_measure("weight_error").fn(context(spec2))) == []
    # precision-targeted weights: the covariance is bounded by the target, diag((t w)^2)
    spec3 = SimpleNamespace(estimators=SimpleNamespace(weights={"name": "voronoi", "rel_stderr": 0.05}, lam=0.1))
    rows3 = {r.item: r.value for r in get_measure("weight_error").fn(context(spec3))}
    eff3 = propagate_weight_error(inst.P, out.scores, w, 0.1, np.diag((0.05 * w) ** 2))
    np.testing.assert_allclose([rows3[i] for i in range(6)], eff3.reward_stderr, rtol=1e-10)
    assert not np.allclose(eff3.reward_stderr, eff.reward_stderr)

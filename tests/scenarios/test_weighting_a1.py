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

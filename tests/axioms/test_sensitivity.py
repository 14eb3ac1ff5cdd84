"""X1-X4: closed forms against finite differences and brute-force scans; the checks themselves."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from choicelab.axioms import sensitivity as sens


def _sig(x):
    return expit(x)


# --------------------------------------------------------------------------------------- X1 closed form


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-6, 6), min_size=3, max_size=3))
def test_bt_chain_matches_bt_rewards(r):
    ri, rj, rk = r
    p_ij, p_jk = _sig(ri - rj), _sig(rj - rk)
    assert sens.bt_chain(p_ij, p_jk) == pytest.approx(_sig(ri - rk), abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-6, 6), min_size=3, max_size=3))
def test_bt_sensitivity_matches_finite_differences_of_the_bt_model(r):
    # move r_i only: P_jk stays fixed, P_ij and P_ik move
    ri, rj, rk = r
    h = 1e-5
    dp_ij = _sig(ri + h - rj) - _sig(ri - h - rj)
    dp_ik = _sig(ri + h - rk) - _sig(ri - h - rk)
    fd = dp_ik / dp_ij
    closed = sens.bt_sensitivity(_sig(ri - rj), _sig(rj - rk))
    assert closed == pytest.approx(fd, rel=1e-6)


def test_bt_sensitivity_hand_values():
    # P_ik = 1/2 at (0.01, 0.99): 0.25 / (0.01 * 0.99)
    assert sens.bt_sensitivity(0.01, 0.99) == pytest.approx(0.25 / (0.01 * 0.99), rel=1e-12)
    # P_jk = 1/2 (no information) gives P_ik = P_ij and sensitivity exactly 1
    assert sens.bt_sensitivity(0.3, 0.5) == pytest.approx(1.0, rel=1e-12)
    # dominant preferences stay finite: a = logit(1e-12), b = -a gives 1/(4 p (1-p))
    p = 1e-12
    assert sens.bt_sensitivity(p, 1 - p) == pytest.approx(1 / (4 * p * (1 - p)), rel=1e-3)


def test_sensitivity_map_layout_and_values():
    p_ij = np.array([0.01, 0.2, 0.5])
    p_jk = np.array([0.3, 0.99])
    vals = sens.sensitivity_map(p_ij, p_jk)
    assert vals.shape == (3, 2)
    for a, x in enumerate(p_ij):
        for b, y in enumerate(p_jk):
            p_ik = _sig(math.log(x / (1 - x)) + math.log(y / (1 - y)))
            assert vals[a, b] == pytest.approx(p_ik * (1 - p_ik) / (x * (1 - x)), rel=1e-10)
    assert sens.sensitivity_map(p_ij).shape == (3, 3)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_probabilities_outside_open_interval_raise(bad):
    with pytest.raises(ValueError, match="p_ij"):
        sens.bt_sensitivity(bad, 0.5)
    with pytest.raises(ValueError, match="p_jk"):
        sens.bt_chain(0.5, bad)


# --------------------------------------------------------------------------------------- X2 thresholds


def _brute_scan(n=801, span=14.0):
    """S = P_ik(1-P_ik)/(P_ij(1-P_ij)) on a grid in logit space, computed directly from expit."""
    a = np.linspace(-span, span, n)
    A, B = np.meshgrid(a, a, indexing="ij")
    p_ij, p_jk, p_ik = _sig(A), _sig(B), _sig(A + B)
    S = p_ik * (1 - p_ik) / (p_ij * (1 - p_ij))
    return p_ij, p_jk, S


@pytest.mark.parametrize("kappa", [1.5, 4.0, 25.0, 400.0])
def test_x2_thresholds_against_brute_force_scan(kappa):
    t = sens.x2_thresholds(kappa)
    assert t.p_ij_low == pytest.approx((1 - math.sqrt(1 - 1 / kappa)) / 2)
    assert t.p_ij_high == pytest.approx((1 + math.sqrt(1 - 1 / kappa)) / 2)
    p_ij, p_jk, S = _brute_scan()
    high = S > kappa
    assert high.any()
    # necessary conditions: every point above kappa sits outside the P_ij band, P_jk opposite and dominant
    assert np.all((p_ij[high] < t.p_ij_low) | (p_ij[high] > t.p_ij_high))
    assert np.all(t.allows(p_ij[high], p_jk[high]))
    assert np.all(S <= 1 / (4 * p_ij * (1 - p_ij)) * (1 + 1e-12))
    # the P_ij threshold is sharp: points above kappa come as close to it as the grid allows
    below = p_ij[high & (p_ij < 0.5)]
    assert below.max() == pytest.approx(t.p_ij_low, rel=0.05)
    # the P_jk threshold kappa/(1+kappa) is approached (S -> e^|b| as |a| grows)
    assert p_jk[high].max() > 0.99  # sanity: high sensitivity lives at dominant P_jk
    assert p_jk[high & (p_ij < 0.5)].min() == pytest.approx(t.p_jk_high, abs=0.02)


def test_x2_thresholds_rejects_kappa_below_one():
    with pytest.raises(ValueError, match="kappa"):
        sens.x2_thresholds(0.5)


# --------------------------------------------------------------------------------------- X4 closed form


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 6), st.integers(0, 2**31 - 1))
def test_pl_tuple_sensitivity_matches_finite_differences(K, seed):
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 2.5, size=K)
    i, l = rng.choice(K, size=2, replace=False)
    h = 1e-4  # central differences: truncation ~h^2, far below the tolerance
    # difference the smaller of P_il and 1 - P_il: near 0 a sigmoid keeps its relative precision,
    # near 1 the step of P would drown in rounding (u_i - u_l of 11 gives P_il = 1 - 2e-5)
    sign = 1.0 if u[i] < u[l] else -1.0

    def q_and_p(ul):
        v = u.copy()
        v[l] = ul
        e = np.exp(v - v.max())
        return e[i] / e.sum(), _sig(sign * (v[i] - v[l]))

    q_plus, p_plus = q_and_p(u[l] + h)
    q_minus, p_minus = q_and_p(u[l] - h)
    fd = (q_plus - q_minus) / (sign * (p_plus - p_minus))
    closed = sens.pl_tuple_sensitivity(u, int(i), int(l))
    assert closed == pytest.approx(fd, rel=1e-5)
    assert closed <= 1.0 + 1e-12


def test_pl_first_choice_hand_value():
    u = np.log([1.0, 2.0, 3.0, 4.0])
    assert sens.pl_first_choice(u, 1, members=[0, 1, 2]) == pytest.approx(2 / 6)
    assert sens.pl_first_choice(u, 3) == pytest.approx(4 / 10)
    with pytest.raises(ValueError, match="member"):
        sens.pl_first_choice(u, 3, members=[0, 1])


# --------------------------------------------------------------------------------------- X2 check


def test_x2_check_holds_on_the_grid():
    meas = sens._check_x2("mle", None, np.random.default_rng(0), quick=True)
    assert meas.measured == "holds"
    assert meas.magnitude < 1e-9
    assert meas.data["finite_difference_error"] < 1e-6
    kappas = [row["kappa"] for row in meas.data["per_kappa"]]
    assert kappas == list(sens.X2_KAPPAS)
    assert all(row["violations"] == 0 and row["points_above"] > 0 for row in meas.data["per_kappa"])
    vals = np.asarray(meas.data["map"]["values"])
    assert vals.shape == (41, 41) and np.all(vals > 0)


def test_x2_check_detects_a_planted_wrong_sensitivity(monkeypatch):
    true_map = sens.sensitivity_map
    monkeypatch.setattr(sens, "sensitivity_map", lambda grid, p_jk=None: 3.0 * true_map(grid, p_jk))
    meas = sens._check_x2("mle", None, np.random.default_rng(0), quick=True)
    assert meas.measured == "violated"
    assert meas.witness is not None and meas.magnitude > 1.0


# --------------------------------------------------------------------------------------- X4 bound helper


def test_x4_bound_helper_agrees_on_random_utilities_and_catches_a_wrong_formula(monkeypatch):
    rng = np.random.default_rng(3)
    for K in (3, 5):
        err, largest = sens._x4_bound_errors(rng.normal(0, 2, size=K))
        assert err < 1e-5 and largest <= 1.0
    # a wrong closed form (moving r_i instead of r_l) is caught by the finite differences
    monkeypatch.setattr(
        sens,
        "pl_tuple_sensitivity",
        lambda u, i, l, members=None: (lambda q, p: q * (1 - q) / (p * (1 - p)))(
            sens.pl_first_choice(u, i), float(expit(u[i] - u[l]))
        ),
    )
    err, _ = sens._x4_bound_errors(np.array([0.3, -1.0, 2.0]))
    assert err > 1e-2


# --------------------------------------------------------------------------------------- X1 check


def test_x1_check_holds_on_fitted_worlds():
    meas = sens._check_x1("mle", None, np.random.default_rng(0), quick=True)
    assert meas.measured == "holds", meas.detail
    assert meas.magnitude < sens.X1_TOL
    for row in meas.data["worlds"]:
        assert row["identity_residual"] < 1e-9
        assert row["finite_difference"] == pytest.approx(row["closed_form"], rel=1e-3)


def test_x1_check_detects_a_planted_wrong_closed_form(monkeypatch):
    real = sens.bt_sensitivity
    monkeypatch.setattr(sens, "bt_sensitivity", lambda p_ij, p_jk: 1.05 * real(p_ij, p_jk))
    meas = sens._check_x1("mle", None, np.random.default_rng(0), quick=True)
    assert meas.measured == "violated" and meas.magnitude > 0.04
    details = meas.witness["details"]
    assert details["closed_form"] != pytest.approx(details["finite_difference"], rel=1e-3)


def test_x1_on_trained_pairs_only_with_the_count_solver():
    # the tabular MLE on (i, j), (j, k) counts predicts the untrained pair as X1 says, and its
    # finite-difference derivative in the data P_ij matches the closed form
    from choicelab.estimators.bt import bt_mle_counts

    def fitted_p_ik(p_ij, p_jk, n=1e6):
        N = np.zeros((3, 3))
        N[0, 1], N[1, 0] = n * p_ij, n * (1 - p_ij)
        N[1, 2], N[2, 1] = n * p_jk, n * (1 - p_jk)
        r = bt_mle_counts(N, lam=1e-6, tol=1e-13).rewards
        return expit(r[0] - r[2])

    for p_ij, p_jk in ((0.2, 0.7), (0.02, 0.97), (0.9, 0.3)):
        assert fitted_p_ik(p_ij, p_jk) == pytest.approx(float(sens.bt_chain(p_ij, p_jk)), abs=1e-8)
        h = 1e-5
        fd = (fitted_p_ik(p_ij + h, p_jk) - fitted_p_ik(p_ij - h, p_jk)) / (2 * h)
        assert fd == pytest.approx(float(sens.bt_sensitivity(p_ij, p_jk)), rel=1e-4)


# --------------------------------------------------------------------------------------- X3 data


def test_three_option_data_never_shows_the_untrained_pair():
    from choicelab.sim import win_counts

    comps, (rp_ij, rp_jk) = sens.three_option_data(0.013, 0.99, 1000)
    N = win_counts(comps, 3)
    assert N[0, 2] == 0 and N[2, 0] == 0
    assert (N[0, 1], N[1, 0], N[1, 2], N[2, 1]) == (13, 987, 990, 10)
    assert (rp_ij, rp_jk) == (0.013, 0.99)
    with pytest.raises(ValueError, match="n_per_pair"):
        sens.three_option_data(0.0001, 0.99, 1000)


def test_default_grid_spans_the_swing():
    grid = sens.default_p_ij_grid(0.99, points=7)
    pred = sens.bt_chain(grid, 0.99)
    assert pred[0] == pytest.approx(expit(-3.0)) and pred[-1] == pytest.approx(expit(3.0))
    assert np.all(np.diff(grid) > 0) and grid[-1] - grid[0] < 0.2


# --------------------------------------------------------------------------------------- X4 check


def test_pl_ranking_counts_are_pl_probabilities():
    u = np.log([3.0, 2.0, 1.0])
    rk = sens.pl_ranking_counts(u, 600000)
    got = {tuple(g[0] for g in order): int(c) for order, c in zip(rk.orders, rk.counts)}
    # P(0 > 1 > 2) = 3/6 * 2/3, P(2 > 1 > 0) = 1/6 * 2/5
    assert got[(0, 1, 2)] == 200000
    assert got[(2, 1, 0)] == 40000
    assert sum(got.values()) == pytest.approx(600000, abs=3)


def test_x4_check_holds_and_the_tuple_is_less_sensitive():
    meas = sens._check_x4("pl_mle", None, np.random.default_rng(1), quick=True)
    assert meas.measured == "holds", meas.detail
    assert meas.magnitude < sens.X4_TOL
    assert all(row["largest"] <= 1.0 for row in meas.data["tuples"])
    assert any(row["source"] == "pl_mle" for row in meas.data["tuples"])
    exp = meas.data["experiment"]
    assert exp["max_pairwise_sensitivity"] > 10 * exp["max_tuple_sensitivity"]
    assert exp["max_tuple_sensitivity"] < 1.2
    np.testing.assert_allclose(exp["tuple_p_ik"], exp["closed_form_p_ik"], atol=1e-3)
    np.testing.assert_allclose(exp["pairwise_p_ik"], exp["closed_form_p_ik"], atol=0.01)


# --------------------------------------------------------------------------------------- X3


def test_three_option_experiment_mle_follows_the_closed_form():
    grid = sens.default_p_ij_grid(0.99, points=7)
    curves = sens.three_option_experiment("mle", grid, 0.99, rng=0)
    # closed form computed here from the realised data
    pred = expit(np.log(curves.realised_p_ij / (1 - curves.realised_p_ij)) + np.log(0.99 / 0.01))
    np.testing.assert_allclose(curves.learned_p_ik, pred, atol=0.01)
    assert curves.learned_p_ik[0] < 0.1 and curves.learned_p_ik[-1] > 0.9
    assert np.all(np.diff(curves.learned_p_ik) > 0)
    # the fitted model reproduces its trained pairs, and is BT on the untrained one
    np.testing.assert_allclose(curves.learned_p_ij, curves.realised_p_ij, rtol=0.05)
    np.testing.assert_allclose(curves.learned_p_ik, sens.bt_chain(curves.learned_p_ij, curves.learned_p_jk), atol=1e-12)
    assert curves.converged.all()


def test_three_option_experiment_dpo_is_exact_on_the_trained_pairs():
    grid = sens.default_p_ij_grid(0.99, points=3)
    curves = sens.three_option_experiment("dpo", grid, 0.99, rng=0)
    np.testing.assert_allclose(curves.learned_p_ik, curves.closed_form_p_ik, atol=1e-4)
    assert curves.learned_p_ik[0] < 0.1 and curves.learned_p_ik[-1] > 0.9


def test_three_option_experiment_neural_small():
    grid = sens.default_p_ij_grid(0.99, points=3)
    curves = sens.three_option_experiment("neural_mle", grid, 0.99, rng=1, quick=True)
    np.testing.assert_allclose(curves.learned_p_ik, curves.closed_form_p_ik, atol=0.05)
    assert curves.learned_p_ik[0] < 0.1 and curves.learned_p_ik[-1] > 0.9


def test_x3_check_holds_for_mle_and_detects_a_damped_model(monkeypatch):
    import json

    from choicelab.estimators import registry

    meas = sens._check_x3("mle", None, np.random.default_rng(0), quick=True)
    assert meas.measured == "holds", meas.detail
    assert meas.magnitude < 0.02
    json.dumps(meas.data)
    # planted: a model whose rewards are shrunk towards 0 does not extrapolate as X1 says
    mle = registry.get_estimator("mle")

    def damped(instance, **kw):
        out = mle.fit(instance, **kw)
        return registry._reward_output("damped", 0.4 * out.scores, out.raw, out.converged)

    monkeypatch.setitem(
        registry._ESTIMATORS,
        "damped",
        registry.Estimator(
            name="damped", kind="reward", description="mle scores times 0.4", needs="matrix", fit=damped
        ),
    )
    bad = sens._check_x3("damped", None, np.random.default_rng(0), quick=True)
    assert bad.measured == "violated" and bad.magnitude > 0.1
    assert bad.witness["estimator"] == "damped"


def test_experiment_inputs_are_validated():
    with pytest.raises(ValueError, match="p_ij_grid"):
        sens.three_option_experiment("mle", [0.1], 0.99)
    with pytest.raises(ValueError, match="p_ij_grid"):
        sens.three_option_experiment("mle", [0.1, 1.0], 0.99)
    with pytest.raises(ValueError, match="p_jk"):
        sens.three_option_experiment("mle", [0.1, 0.2], 1.5)
    with pytest.raises(ValueError, match="unknown estimator"):
        sens.three_option_experiment("nope", [0.1, 0.2], 0.9)
    with pytest.raises(ValueError, match="n must"):
        sens.pl_ranking_counts([0.0, 1.0], 0)
    with pytest.raises(TypeError, match="rng"):
        sens.three_option_experiment("mle", [0.1, 0.2], 0.9, rng="x")


def test_registered_sensitivity_axioms():
    from choicelab.axioms import base

    for axiom_id in ("X1", "X2", "X3", "X4"):
        assert base.get_axiom(axiom_id).check is getattr(sens, f"_check_{axiom_id.lower()}")
    assert sens._check_x4("mle", None, np.random.default_rng(0)).measured == "inconclusive"

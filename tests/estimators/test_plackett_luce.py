"""Tests for the Plackett-Luce MLE (contract §2, "Plackett-Luce")."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.estimators.plackett_luce import pl_mle
from choicelab.estimators.reference import pl_mle_cvxpy
from choicelab.sim.data import Comparisons, Rankings


def strict(orders, counts, m, unlisted_last=False):
    return Rankings(
        orders=tuple(tuple((int(x),) for x in o) for o in orders),
        counts=np.asarray(counts),
        m=m,
        unlisted_last=unlisted_last,
    )


def random_rankings(rng, m, n, length, unlisted_last):
    orders = [rng.permutation(m)[:length] for _ in range(n)]
    return strict(orders, rng.integers(1, 5, size=n), m, unlisted_last)


def sample_pl(rng, u, n, length=None):
    """PL rankings by the Gumbel-max trick: sort u + Gumbel noise, best first."""
    keys = u[None, :] + rng.gumbel(size=(n, u.size))
    return np.argsort(-keys, axis=1)[:, :length]


# --------------------------------------------------------------------------- against cvxpy
@pytest.mark.parametrize("unlisted_last", [False, True])
@pytest.mark.parametrize("length", [5, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_cvxpy_reference(unlisted_last, length, weighted):
    rng = np.random.default_rng([length, unlisted_last, weighted])
    rk = random_rankings(rng, m=5, n=30, length=length, unlisted_last=unlisted_last)
    w = rng.dirichlet(np.ones(5)) if weighted else None
    fit = pl_mle(rk, weights=w, lam=0.1)
    ref = pl_mle_cvxpy(rk, 5, weights=w, lam=0.1)
    assert fit.converged and ref.converged
    np.testing.assert_allclose(fit.rewards, ref.rewards, atol=1e-6)
    assert fit.objective == pytest.approx(ref.objective, rel=1e-9)


def test_matches_cvxpy_reference_with_lam_zero():
    rng = np.random.default_rng(3)
    rk = random_rankings(rng, m=4, n=40, length=4, unlisted_last=False)
    w = rng.dirichlet(np.ones(4))
    fit = pl_mle(rk, weights=w, lam=0.0)
    ref = pl_mle_cvxpy(rk, 4, weights=w, lam=0.0)
    np.testing.assert_allclose(fit.rewards, ref.rewards, atol=1e-6)
    assert w @ fit.rewards == pytest.approx(0.0, abs=1e-12)


def test_matches_choix_on_full_rankings():
    # choix.opt_rankings penalises alpha ||r||^2 (see choix.opt.Top1Fcts), so alpha = lam / 2
    import choix

    rng = np.random.default_rng(9)
    orders = sample_pl(rng, rng.normal(size=6), 150)
    fit = pl_mle(strict(orders, np.ones(150, dtype=int), 6), lam=0.2)
    ref = choix.opt_rankings(6, [list(map(int, o)) for o in orders], alpha=0.1, method="Newton-CG", tol=1e-12)
    np.testing.assert_allclose(fit.rewards, ref, atol=1e-7)


# --------------------------------------------------------------------------- closed forms and identities
def test_two_items_closed_form():
    # a voters 0 > 1, b voters 1 > 0, lam = 0: r_0 - r_1 = log(a / b), r_0 + r_1 = 0
    fit = pl_mle(strict([[0, 1], [1, 0]], [6, 2], 2), lam=0.0)
    np.testing.assert_allclose(fit.rewards, [np.log(3) / 2, -np.log(3) / 2], atol=1e-10)
    # lam > 0: the stationarity condition  -6 (1 - s) + 2 s + lam r_0 = 0, s = sigma(2 r_0), r_1 = -r_0
    r0 = pl_mle(strict([[0, 1], [1, 0]], [6, 2], 2), lam=0.5).rewards[0]
    s = 1 / (1 + np.exp(-2 * r0))
    assert -6 * (1 - s) + 2 * s + 0.5 * r0 == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("lam", [0.1, 0.0])
def test_length_two_rankings_are_bradley_terry(weighted, lam):
    from choicelab.estimators.bt import bt_mle_comparisons

    rng = np.random.default_rng(11)
    m, n = 5, 200
    pairs = np.array([rng.choice(m, size=2, replace=False) for _ in range(n)])
    w = rng.dirichlet(np.ones(m)) if weighted else None
    pl = pl_mle(strict(pairs, np.ones(n, dtype=int), m), weights=w, lam=lam)
    comps = Comparisons(a=pairs[:, 0], b=pairs[:, 1], winner=pairs[:, 0], annotator=-np.ones(n, dtype=int))
    bt = bt_mle_comparisons(comps, m, weights=w, lam=lam)
    assert pl.converged and bt.converged
    np.testing.assert_allclose(pl.rewards, bt.rewards, atol=1e-8)


def test_uniform_weights_equal_unweighted_with_scaled_lambda():
    # the P7 analogue: w = 1/m scales every stage by 1/m^2 and the regulariser by 1/m
    rng = np.random.default_rng(5)
    rk = random_rankings(rng, m=6, n=50, length=4, unlisted_last=True)
    weighted = pl_mle(rk, weights=np.full(6, 1 / 6), lam=0.2)
    plain = pl_mle(rk, lam=6 * 0.2)
    np.testing.assert_allclose(weighted.rewards, plain.rewards, atol=1e-10)


def test_top_m_minus_one_with_unlisted_last_is_the_full_ranking():
    rng = np.random.default_rng(8)
    full = np.array([rng.permutation(5) for _ in range(30)])
    counts = rng.integers(1, 4, size=30)
    a = pl_mle(strict(full, counts, 5), lam=0.1)
    b = pl_mle(strict(full[:, :4], counts, 5, unlisted_last=True), lam=0.1)
    np.testing.assert_allclose(a.rewards, b.rewards, atol=1e-12)
    # without unlisted_last the same top-4 lists drop the item ranked last: a different fit
    c = pl_mle(strict(full[:, :4], counts, 5, unlisted_last=False), lam=0.1)
    assert np.abs(c.rewards - a.rewards).max() > 1e-3


# --------------------------------------------------------------------------- recovery
@pytest.mark.parametrize("design", ["full", "top2", "subsets"])
def test_recovers_true_utilities(design):
    rng = np.random.default_rng(2024)
    u = np.array([1.0, 0.5, 0.0, -0.3, -1.2])
    n = 20000
    if design == "full":
        rk = strict(sample_pl(rng, u, n), np.ones(n, dtype=int), 5)
    elif design == "top2":
        rk = strict(sample_pl(rng, u, n, length=2), np.ones(n, dtype=int), 5, unlisted_last=True)
    else:
        # rankings of a random 3-subset: PL restricted to the subset (marginalisation)
        subsets = np.array([rng.choice(5, size=3, replace=False) for _ in range(n)])
        keys = u[subsets] + rng.gumbel(size=subsets.shape)
        orders = np.take_along_axis(subsets, np.argsort(-keys, axis=1), axis=1)
        rk = strict(orders, np.ones(n, dtype=int), 5, unlisted_last=False)
    fit = pl_mle(rk, lam=1e-3)
    assert fit.converged
    np.testing.assert_allclose(fit.rewards - fit.rewards.mean(), u - u.mean(), atol=0.05)


# --------------------------------------------------------------------------- properties
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    m=st.integers(2, 6),
    unlisted_last=st.booleans(),
    weighted=st.booleans(),
    lam=st.sampled_from([0.01, 0.1, 1.0]),
)
def test_optimum_properties(seed, m, unlisted_last, weighted, lam):
    rng = np.random.default_rng(seed)
    length = int(rng.integers(1, m + 1))
    rk = random_rankings(rng, m, n=15, length=length, unlisted_last=unlisted_last)
    w = rng.dirichlet(np.ones(m)) if weighted else None
    fit = pl_mle(rk, weights=w, lam=lam)
    assert fit.converged
    ww = np.ones(m) if w is None else w
    # shift invariance of the likelihood forces sum_i w_i r_i = 0 at the optimum
    assert ww @ fit.rewards == pytest.approx(0.0, abs=1e-9)
    # relabelling the alternatives permutes the rewards (neutrality)
    sigma = rng.permutation(m)  # new label of old item i is sigma[i]
    relabelled = Rankings(
        tuple(tuple((int(sigma[g[0]]),) for g in o) for o in rk.orders), rk.counts, m, unlisted_last=unlisted_last
    )
    w2 = None if w is None else w[np.argsort(sigma)]
    fit2 = pl_mle(relabelled, weights=w2, lam=lam)
    np.testing.assert_allclose(fit2.rewards[sigma], fit.rewards, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_counts_equal_repetition(seed):
    rng = np.random.default_rng(seed)
    orders = [rng.permutation(4) for _ in range(6)]
    counts = rng.integers(1, 4, size=6)
    a = pl_mle(strict(orders, counts, 4), lam=0.3)
    b = pl_mle(
        strict([o for o, c in zip(orders, counts) for _ in range(c)], np.ones(counts.sum(), dtype=int), 4), lam=0.3
    )
    np.testing.assert_allclose(a.rewards, b.rewards, atol=1e-10)


# --------------------------------------------------------------------------- failures and validation
def test_non_convergence_is_reported():
    rng = np.random.default_rng(4)
    rk = random_rankings(rng, m=5, n=40, length=5, unlisted_last=False)
    with pytest.warns(RuntimeWarning, match="did not converge"):
        fit = pl_mle(rk, lam=0.1, max_iter=1)
    assert not fit.converged and fit.iterations == 1
    assert "maximum number of iterations (1)" in fit.message
    assert fit.grad_norm > fit.info["gtol"]


def test_lam_zero_needs_strong_connectivity():
    # item 0 is always chosen first: with lam = 0 its reward would run off to infinity
    rk = strict([[0, 1, 2], [0, 2, 1]], [3, 3], 3)
    with pytest.raises(ValueError, match="strongly connected"):
        pl_mle(rk, lam=0.0)
    assert pl_mle(rk, lam=0.1).converged


def test_converged_fit_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pl_mle(strict([[0, 1, 2], [2, 1, 0]], [2, 1], 3), lam=0.1).converged


def test_bad_input_is_rejected():
    rk = strict([[0, 1, 2]], [1], 3)
    tied = Rankings(orders=(((0,), (1, 2)),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match=r"orders\[0\] has the tied group \(1, 2\)"):
        pl_mle(tied)
    with pytest.raises(ValueError, match=r"m = 4 does not match rankings.m = 3"):
        pl_mle(rk, m=4)
    with pytest.raises(ValueError, match=r"weights\[1\] = 0.0"):
        pl_mle(rk, weights=[0.5, 0.0, 0.5])
    with pytest.raises(ValueError, match=r"sum to 1"):
        pl_mle(rk, weights=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"lam must be finite and >= 0, got -1"):
        pl_mle(rk, lam=-1)
    with pytest.raises(TypeError, match=r"choicelab.sim.Rankings"):
        pl_mle([[0, 1, 2]])


def test_log_sum_exp_survives_far_apart_rewards():
    # a stage offering only items ~800 below the best would underflow the shared-max shortcut
    from scipy.special import logsumexp

    from choicelab.estimators.plackett_luce import _Objective

    mask = np.array([[True, True, False, False], [False, False, True, True]])
    obj = _Objective(np.array([0, 2]), mask, np.ones(2), np.ones(4), 0.0, 4)
    r = np.array([0.0, -1.0, -800.0, -801.0])
    lse, prob = obj._lse_prob(r)
    np.testing.assert_allclose(lse, [logsumexp(r[:2]), logsumexp(r[2:])], rtol=1e-15)
    np.testing.assert_allclose(prob[1, 2:], np.exp(r[2:] - logsumexp(r[2:])), rtol=1e-12)
    assert obj.value(r) == pytest.approx((lse[0] - 0.0) + (lse[1] + 800.0), rel=1e-14)

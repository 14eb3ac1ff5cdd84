"""Tests of choicelab.estimators.neural (contract §2 neural estimators, tabular DPO for X3).

Optima are checked against independent scipy solutions of contract Eq. 1 / Eq. 2 and the
Plackett-Luce likelihood; the batched training against an ordinary per-seed nn.Module + Adam
loop built here from the documented initialisation and minibatch scheme.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.special import erf, expit, log_expit, logsumexp

from choicelab.estimators import NeuralFit, neural_bt, neural_pl, tabular_dpo
from choicelab.estimators.neural import output_reg_for_lambda
from choicelab.sim.data import Comparisons, Rankings


# --------------------------------------------------------------------------- helpers
def random_comparisons(m, n, rng, tie_share=0.1):
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    u = rng.random(n)
    winner = np.where(u < (1 - tie_share) * 0.6, a, np.where(u < 1 - tie_share, b, -1))
    return Comparisons(a, b, winner, np.full(n, -1))


def win_matrix(comps, m):
    """N_ij by a plain loop (contract §2: a tie adds 1/2 to each side)."""
    N = np.zeros((m, m))
    for a, b, w in zip(comps.a, comps.b, comps.winner):
        if w == -1:
            N[a, b] += 0.5
            N[b, a] += 0.5
        else:
            N[w, a + b - w] += 1.0
    return N


def eq2_solution(C, lam, w=None):
    """argmin_r -sum_{i != j} w_i w_j C_ij log s(r_i - r_j) + (lam/2) sum_i w_i r_i^2 (Eq. 1 when w = 1)."""
    m = C.shape[0]
    w = np.ones(m) if w is None else w
    WC = np.outer(w, w) * C * (1 - np.eye(m))

    def f(r):
        return -(WC * log_expit(r[:, None] - r[None, :])).sum() + lam / 2 * (w * r**2).sum()

    def g(r):
        S = WC * expit(-(r[:, None] - r[None, :]))
        return -(S.sum(1) - S.sum(0)) + lam * w * r

    res = minimize(f, np.zeros(m), jac=g, method="BFGS", options={"gtol": 1e-11, "maxiter": 10000})
    assert np.abs(g(res.x)).max() < 1e-7
    return res.x


def pl_nll(r, orders, counts, m, unlisted_last):
    """-sum_rankings count * log P(ranking) by the product formula (contract §2, Plackett-Luce)."""
    total = 0.0
    for order, c in zip(orders, counts):
        listed = [g[0] for g in order]
        pool = list(listed) + ([x for x in range(m) if x not in listed] if unlisted_last else [])
        for item in listed:
            total -= c * (r[item] - logsumexp(r[pool]))
            pool.remove(item)
    return total


def documented_generator(base, s):
    """The per-seed generator as the neural module documents it."""
    state = int(np.random.SeedSequence([base, s]).generate_state(1, np.uint64)[0]) >> 1
    return torch.Generator().manual_seed(state)


def loop_reference(X, comps, seed_ids, steps, batch, hidden, lr, base_seed=0, cosine=False):
    """Per-seed nn.Sequential + torch.optim.Adam (float64), network run on every pair.

    ``cosine=True`` anneals the step with torch's CosineAnnealingLR (T_max = steps).
    """
    X_t = torch.as_tensor(X, dtype=torch.float64)
    tie = comps.winner == -1
    first = torch.as_tensor(np.where(tie, comps.a, comps.winner))
    second = torch.as_tensor(np.where(tie, comps.b, comps.loser))
    q = torch.as_tensor(np.where(tie, 0.5, 1.0))
    n = len(comps)
    rewards, curves = [], []
    for s in seed_ids:
        g = documented_generator(base_seed, s)
        model = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], hidden, dtype=torch.float64),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, 1, dtype=torch.float64),
        )
        with torch.no_grad():
            for layer in (model[0], model[2]):
                bound = 1 / np.sqrt(layer.in_features)
                layer.weight.uniform_(-bound, bound, generator=g)
                layer.bias.uniform_(-bound, bound, generator=g)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) if cosine else None
        stream, curve = torch.empty(0, dtype=torch.long), []
        for _ in range(steps):
            while len(stream) < batch:
                stream = torch.cat([stream, torch.randperm(n, generator=g)])
            idx, stream = stream[:batch], stream[batch:]
            opt.zero_grad()
            d = model(X_t[first[idx]])[:, 0] - model(X_t[second[idx]])[:, 0]
            # the textbook -log(1 + e^{-d}): fine for the moderate margins here, independent of neural.py
            loss = (q[idx] * torch.log1p(torch.exp(-d)) + (1 - q[idx]) * torch.log1p(torch.exp(d))).mean()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            curve.append(loss.item())
        with torch.no_grad():
            rewards.append(model(X_t)[:, 0].numpy())
        curves.append(curve)
    return np.array(rewards), np.array(curves)


def mlp_forward(fit, X):
    """Independent numpy forward pass from NeuralFit.params."""
    H = np.asarray(X, float)
    acts = {
        "relu": lambda h: np.maximum(h, 0),
        "tanh": np.tanh,
        "sigmoid": expit,
        "softplus": lambda h: np.logaddexp(0, h),
        "gelu": lambda h: 0.5 * h * (1 + erf(h / np.sqrt(2))),
    }
    out = []
    for s in range(len(fit.seed_ids)):
        h = H
        for k, (W, b) in enumerate(fit.params):
            h = h @ W[s] + b[s]
            if k < len(fit.params) - 1:
                h = acts[fit.activation](h)
        out.append(h[:, 0])
    return np.array(out)


FULL = dict(batch_size=None, dtype="float64", seeds=1)
CONVERGE = dict(lr=0.1, steps=600, lr_schedule="linear", **FULL)  # a decaying step lets Adam settle


# --------------------------------------------------------------------------- optima (Eq. 1 / Eq. 2)
def test_tabular_bt_with_output_reg_solves_eq1():
    rng = np.random.default_rng(1)
    m, n, lam = 5, 60, 0.7
    comps = random_comparisons(m, n, rng)
    rho = lam / n  # derived in neural_bt's docstring: Z = n unweighted
    assert output_reg_for_lambda(lam, comps) == pytest.approx(rho, rel=1e-15)
    fit = neural_bt(np.eye(m), comps, layers=0, output_reg=rho, **CONVERGE)
    ref = eq2_solution(win_matrix(comps, m), lam)
    assert np.abs(fit.rewards() - ref).max() < 1e-3
    assert fit.settings["sampling"] == "full_batch" and fit.settings["model"] == "linear"


def test_tabular_bt_matches_exact_bt_mle_comparisons():
    from choicelab.estimators import bt_mle, bt_mle_comparisons

    rng = np.random.default_rng(11)
    m, n, lam = 4, 50, 1.0
    comps = random_comparisons(m, n, rng)
    w = rng.dirichlet(np.ones(m))
    fit = neural_bt(np.eye(m), comps, layers=0, output_reg=lam / n, **CONVERGE)
    assert np.abs(fit.rewards() - bt_mle_comparisons(comps, m, lam=lam).rewards).max() < 1e-3
    fit_w = neural_bt(
        np.eye(m), comps, weights=w, layers=0, output_reg=output_reg_for_lambda(lam, comps, w), **CONVERGE
    )
    assert np.abs(fit_w.rewards() - bt_mle_comparisons(comps, m, weights=w, lam=lam).rewards).max() < 1e-3
    u = rng.normal(size=m)
    P = expit(u[:, None] - u[None, :])
    fit_p = neural_bt(np.eye(m), P, weights=w, layers=0, output_reg=output_reg_for_lambda(lam, P, w), **CONVERGE)
    assert np.abs(fit_p.rewards() - bt_mle(P, weights=w, lam=lam).rewards).max() < 1e-3


def test_weighted_tabular_bt_with_output_reg_solves_eq2():
    rng = np.random.default_rng(2)
    m, n, lam = 5, 80, 0.3
    comps = random_comparisons(m, n, rng)
    w = rng.dirichlet(np.ones(m))
    Z = sum(w[a] * w[b] for a, b in zip(comps.a, comps.b))
    rho = lam / Z
    assert output_reg_for_lambda(lam, comps, weights=w) == pytest.approx(rho, rel=1e-12)
    fit = neural_bt(np.eye(m), comps, weights=w, layers=0, output_reg=rho, **CONVERGE)
    ref = eq2_solution(win_matrix(comps, m), lam, w)
    assert np.abs(fit.rewards() - ref).max() < 1e-3


def test_matrix_input_solves_eq1_and_eq2_on_P():
    rng = np.random.default_rng(3)
    m, lam = 4, 0.5
    u = rng.normal(size=m)
    P = expit(u[:, None] - u[None, :])
    rho = lam / (m * (m - 1) / 2)  # the items are the m(m-1)/2 unordered pairs
    assert output_reg_for_lambda(lam, P) == pytest.approx(rho, rel=1e-15)
    fit = neural_bt(np.eye(m), P, layers=0, output_reg=rho, **CONVERGE)
    assert np.abs(fit.rewards() - eq2_solution(P, lam)).max() < 1e-3
    w = rng.dirichlet(np.ones(m))
    Z = sum(w[i] * w[j] for i in range(m) for j in range(i + 1, m))
    fit_w = neural_bt(np.eye(m), P, weights=w, layers=0, output_reg=lam / Z, **CONVERGE)
    assert np.abs(fit_w.rewards() - eq2_solution(P, lam, w)).max() < 1e-3


def test_weight_decay_is_adam_l2_on_parameters():
    # layers=0 on one-hot inputs: r_i = W_i + b; Adam's weight_decay adds wd * theta to the
    # gradient, so the fixed point minimises L(W + b) + (wd/2)(|W|^2 + b^2)
    rng = np.random.default_rng(4)
    m, n, wd = 4, 40, 0.05
    comps = random_comparisons(m, n, rng, tie_share=0.0)
    N = win_matrix(comps, m)

    def f(theta):
        r = theta[:m] + theta[m]
        return -(N * log_expit(r[:, None] - r[None, :])).sum() / n + wd / 2 * (theta**2).sum()

    ref = minimize(f, np.zeros(m + 1), method="BFGS", options={"gtol": 1e-11}).x
    fit = neural_bt(np.eye(m), comps, layers=0, weight_decay=wd, **CONVERGE)
    assert np.abs(fit.rewards() - (ref[:m] + ref[m])).max() < 1e-3


# --------------------------------------------------------------------------- batching and seeds
@pytest.mark.parametrize(
    "m, batch, evaluation, schedule", [(6, 8, "all", "constant"), (30, 4, "per_seed_distinct", "cosine")]
)
def test_batched_training_equals_per_seed_nn_module_loop(m, batch, evaluation, schedule):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(m, 3))
    comps = random_comparisons(m, 25, rng)
    fit = neural_bt(
        X, comps, hidden=6, lr=0.01, batch_size=batch, steps=40, seeds=3, dtype="float64", lr_schedule=schedule
    )
    assert fit.settings["evaluation"] == evaluation and fit.settings["sampling"] == "epoch_shuffle"
    rewards, curves = loop_reference(
        X, comps, [0, 1, 2], steps=40, batch=batch, hidden=6, lr=0.01, cosine=schedule == "cosine"
    )
    assert np.abs(fit.per_seed() - rewards).max() < 1e-8
    assert np.abs(fit.loss_curves - curves).max() < 1e-8


def test_seeds_trained_together_equal_seeds_trained_alone():
    rng = np.random.default_rng(6)
    m = 7
    X = rng.normal(size=(m, 4))
    comps = random_comparisons(m, 30, rng)
    kw = dict(hidden=5, lr=0.02, batch_size=8, steps=50, dtype="float64", seed=123)
    together = neural_bt(X, comps, seeds=4, **kw)
    for s in range(4):
        alone = neural_bt(X, comps, seeds=[s], **kw)
        assert np.abs(alone.per_seed()[0] - together.per_seed()[s]).max() < 1e-5
        assert np.abs(alone.loss_curves[0] - together.loss_curves[s]).max() < 1e-5
    assert together.seed_ids == (0, 1, 2, 3)
    assert np.allclose(together.rewards(), together.per_seed().mean(axis=0), rtol=0, atol=1e-15)


def test_same_call_reproduces_and_different_seeds_differ():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(6, 3))
    comps = random_comparisons(6, 30, rng)
    kw = dict(hidden=4, lr=0.01, batch_size=8, steps=20, seeds=3)
    one, two = neural_bt(X, comps, **kw), neural_bt(X, comps, **kw)
    assert np.array_equal(one.per_seed(), two.per_seed())
    assert np.array_equal(one.loss_curves, two.loss_curves)
    per = one.per_seed()
    assert min(np.abs(per[s] - per[t]).max() for s in range(3) for t in range(s)) > 1e-3
    other = neural_bt(X, comps, seed=1, **kw)
    assert np.abs(other.per_seed() - per).max() > 1e-3
    from_rng = neural_bt(X, comps, seed=np.random.default_rng(0), **kw)
    again = neural_bt(X, comps, seed=from_rng.settings["seed"], **kw)
    assert np.array_equal(from_rng.per_seed(), again.per_seed())


# --------------------------------------------------------------------------- losses and weights
def test_uniform_weights_give_exactly_the_unweighted_loss():
    rng = np.random.default_rng(8)
    m = 6
    X = rng.normal(size=(m, 3))
    comps = random_comparisons(m, 40, rng)
    kw = dict(hidden=4, lr=0.01, batch_size=16, steps=30, seeds=2)
    plain = neural_bt(X, comps, **kw)
    uniform = neural_bt(X, comps, weights=np.full(m, 1 / m), **kw)
    assert np.array_equal(plain.loss_curves, uniform.loss_curves)
    assert np.array_equal(plain.per_seed(), uniform.per_seed())
    # with the output regulariser, w = 1/m scales it by 1/m (contract P7: lambda_std = m lambda)
    reg_plain = neural_bt(X, comps, output_reg=0.1, dtype="float64", **kw)
    reg_uniform = neural_bt(X, comps, weights=np.full(m, 1 / m), output_reg=0.1 * m, dtype="float64", **kw)
    assert np.abs(reg_plain.per_seed() - reg_uniform.per_seed()).max() < 1e-10


def test_final_loss_is_the_documented_weighted_objective():
    rng = np.random.default_rng(9)
    m, n, rho = 6, 50, 0.2
    X = rng.normal(size=(m, 3))
    comps = random_comparisons(m, n, rng, tie_share=0.2)
    w = rng.dirichlet(np.ones(m))
    fit = neural_bt(
        X, comps, weights=w, hidden=5, lr=0.01, batch_size=16, steps=25, seeds=2, output_reg=rho, dtype="float64"
    )
    omega = w[comps.a] * w[comps.b]
    omega = omega / omega.mean()
    tie = comps.winner == -1
    for s, r in enumerate(mlp_forward(fit, X)):
        d = r[comps.winner] - r[comps.loser]
        dt = r[comps.a] - r[comps.b]
        per = np.where(tie, -0.5 * (log_expit(dt) + log_expit(-dt)), -log_expit(d))
        expected = (omega * per).mean() + rho / 2 * (w * r**2).sum()
        assert fit.final_loss[s] == pytest.approx(expected, rel=1e-12)
    assert np.abs(fit.per_seed() - mlp_forward(fit, X)).max() < 1e-12


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10**6), m=st.integers(2, 6), lam=st.floats(0.01, 5.0), weighted=st.booleans())
def test_output_reg_mapping_scales_the_loss_to_eq2(seed, m, lam, weighted):
    # Z * L(r) = F_Eq2(r) with lambda = Z * output_reg, at whatever r the network ends at
    rng = np.random.default_rng(seed)
    comps = random_comparisons(m, int(rng.integers(1, 30)), rng, tie_share=0.3)
    w = rng.dirichlet(np.ones(m)) if weighted else None
    rho = output_reg_for_lambda(lam, comps, weights=w)
    fit = neural_bt(
        rng.normal(size=(m, 2)), comps, weights=w, hidden=3, lr=0.05, steps=2, seeds=1, output_reg=rho, dtype="float64"
    )
    r = fit.per_seed()[0]
    ww = np.ones(m) if w is None else w
    N = win_matrix(comps, m)
    F = -(np.outer(ww, ww) * N * log_expit(r[:, None] - r[None, :])).sum() + lam / 2 * (ww * r**2).sum()
    Z = lam / rho
    assert Z * fit.final_loss[0] == pytest.approx(F, rel=1e-10)


def test_huge_reward_gaps_give_a_finite_loss():
    # inputs 1e4 * one-hot make initial reward gaps of thousands: log(sigmoid) would be -inf in float32
    m = 3
    comps = Comparisons(np.array([0, 1, 1, 2, 0]), np.array([1, 0, 2, 1, 2]), np.array([0, 1, 1, 2, 2]), np.full(5, -1))
    fit = neural_bt(1e4 * np.eye(m), comps, layers=0, lr=1e-6, steps=2, seeds=3, batch_size=None)
    assert np.all(np.isfinite(fit.loss_curves)) and np.all(np.isfinite(fit.final_loss))
    assert fit.loss_curves.min() > 100.0  # each direction of each pair is observed, so gaps cost
    for s, r in enumerate(fit.per_seed()):
        expected = np.logaddexp(0.0, -(r[comps.winner] - r[comps.loser])).mean()
        assert fit.final_loss[s] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "softplus"])
def test_numpy_evaluation_matches_torch_training_for_each_activation(activation):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(5, 3))
    comps = random_comparisons(5, 20, rng, tie_share=0.0)
    fit = neural_bt(
        X, comps, hidden=4, layers=2, activation=activation, lr=0.01, steps=5, seeds=2, batch_size=None, dtype="float64"
    )
    assert [W.shape for W, _ in fit.params] == [(2, 3, 4), (2, 4, 4), (2, 4, 1)]
    for s, r in enumerate(fit.per_seed()):
        expected = -log_expit(r[comps.winner] - r[comps.loser]).mean()
        assert fit.final_loss[s] == pytest.approx(expected, rel=1e-12)
    Y = rng.normal(size=(7, 3))
    assert np.abs(fit.per_seed(Y) - mlp_forward(fit, Y)).max() < 1e-12


# --------------------------------------------------------------------------- Plackett-Luce
@pytest.mark.parametrize(
    "unlisted_last, orders",
    [
        (False, [((0,), (1,), (2,), (3,)), ((2,), (0,), (3,), (1,)), ((1,), (3,), (0,), (2,)), ((3,), (2,))]),
        (True, [((0,), (1,)), ((2,),), ((1,), (3,), (0,)), ((3,), (2,), (1,), (0,))]),
    ],
)
def test_tabular_pl_with_output_reg_solves_regularized_pl(unlisted_last, orders):
    m, lam = 4, 0.4
    counts = np.array([3, 2, 4, 1])
    rk = Rankings(orders=tuple(orders), counts=counts, m=m, unlisted_last=unlisted_last)
    n = int(counts.sum())
    fit = neural_pl(np.eye(m), rk, layers=0, output_reg=lam / n, **CONVERGE)
    ref = minimize(
        lambda r: pl_nll(r, orders, counts, m, unlisted_last) + lam / 2 * (r**2).sum(),
        np.zeros(m),
        method="BFGS",
        options={"gtol": 1e-10},
    ).x
    assert np.abs(fit.rewards() - ref).max() < 1e-3


@pytest.mark.parametrize("unlisted_last", [False, True])
def test_weighted_tabular_pl_matches_pl_mle(unlisted_last):
    from choicelab.estimators import pl_mle

    rng = np.random.default_rng(14)
    m, lam = 5, 0.5
    orders = tuple(tuple((int(x),) for x in rng.permutation(m)[: int(rng.integers(2, m + 1))]) for _ in range(7))
    rk = Rankings(orders=orders, counts=rng.integers(1, 4, size=7), m=m, unlisted_last=unlisted_last)
    w = rng.dirichlet(np.ones(m))
    fit = neural_pl(np.eye(m), rk, weights=w, layers=0, output_reg=output_reg_for_lambda(lam, rk, w), **CONVERGE)
    assert np.abs(fit.rewards() - pl_mle(rk, m, weights=w, lam=lam).rewards).max() < 1e-3
    plain = neural_pl(np.eye(m), rk, layers=0, output_reg=output_reg_for_lambda(lam, rk), **CONVERGE)
    assert output_reg_for_lambda(lam, rk) == pytest.approx(lam / rk.counts.sum(), rel=1e-15)
    assert np.abs(plain.rewards() - pl_mle(rk, m, lam=lam).rewards).max() < 1e-3


@pytest.mark.parametrize("m, batch, output_reg", [(5, 8, 0.3), (40, 4, 0.0)])
def test_pl_on_pairs_is_bt_on_the_same_comparisons(m, batch, output_reg):
    # a ranking of two alternatives i > j is the comparison "i beat j", also with weights
    rng = np.random.default_rng(15)
    X = rng.normal(size=(m, 2))
    comps = random_comparisons(m, 30, rng, tie_share=0.0)
    rk = Rankings(
        orders=tuple(((int(a),), (int(b),)) for a, b in zip(comps.winner, comps.loser)),
        counts=np.ones(30, dtype=np.int64),
        m=m,
    )
    w = rng.dirichlet(np.ones(m))
    kw = dict(weights=w, hidden=4, lr=0.02, batch_size=batch, steps=20, seeds=2, output_reg=output_reg, dtype="float64")
    bt, pl = neural_bt(X, comps, **kw), neural_pl(X, rk, **kw)
    assert bt.settings["evaluation"] == pl.settings["evaluation"]
    # equal up to rounding (logcumsumexp vs log-sigmoid), which Adam's normalisation amplifies a little
    assert np.abs(bt.loss_curves - pl.loss_curves).max() < 1e-9
    assert np.abs(bt.per_seed() - pl.per_seed()).max() < 1e-9
    assert output_reg_for_lambda(0.7, rk, w) == pytest.approx(output_reg_for_lambda(0.7, comps, w), rel=1e-12)


def test_pl_minibatch_final_loss_and_seed_independence():
    rng = np.random.default_rng(12)
    m = 5
    X = rng.normal(size=(m, 2))
    orders = tuple(tuple((int(x),) for x in rng.permutation(m)[: int(rng.integers(2, m + 1))]) for _ in range(6))
    counts = rng.integers(1, 4, size=6)
    rk = Rankings(orders=orders, counts=counts, m=m, unlisted_last=True)
    kw = dict(hidden=4, lr=0.02, batch_size=3, steps=15, dtype="float64")
    fit = neural_pl(X, rk, seeds=3, **kw)
    for s, r in enumerate(fit.per_seed()):
        assert fit.final_loss[s] == pytest.approx(pl_nll(r, orders, counts, m, True) / counts.sum(), rel=1e-12)
    alone = neural_pl(X, rk, seeds=[2], **kw)
    assert np.abs(alone.per_seed()[0] - fit.per_seed()[2]).max() < 1e-8


# --------------------------------------------------------------------------- tabular DPO
def test_tabular_dpo_implicit_reward_matches_logit_P_on_trained_pairs():
    P = np.array([[0.5, 0.8, 0.3], [0.2, 0.5, 0.95], [0.7, 0.05, 0.5]])
    fit = tabular_dpo(P, 3, beta=0.1, pairs=np.array([[0, 1], [1, 2]]))
    assert fit.converged
    r = fit.rewards
    logit = np.log(P / (1 - P))
    assert abs((r[0] - r[1]) - logit[0, 1]) < 1e-3
    assert abs((r[1] - r[2]) - logit[1, 2]) < 1e-3
    # the untrained pair follows X1: logit P_02 = logit P_01 + logit P_12
    assert abs((r[0] - r[2]) - (logit[0, 1] + logit[1, 2])) < 1e-3
    policy = fit.info["policy"]
    assert policy.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.allclose(r, 0.1 * np.log(policy * 3), atol=1e-12)


def test_tabular_dpo_on_comparisons_matches_empirical_logit():
    # pair (0, 1): 0 wins 7, loses 2, one tie -> P^ = 7.5 / 10; pair (2, 3): 3 wins 9 of 10
    a = np.array([0] * 10 + [2] * 10)
    b = np.array([1] * 10 + [3] * 10)
    winner = np.array([0] * 7 + [1] * 2 + [-1] + [3] * 9 + [2])
    comps = Comparisons(a, b, winner, np.full(20, -1))
    fit = tabular_dpo(comps, 4, beta=0.5)
    assert fit.converged
    assert abs((fit.rewards[0] - fit.rewards[1]) - np.log(0.75 / 0.25)) < 1e-3
    assert abs((fit.rewards[3] - fit.rewards[2]) - np.log(0.9 / 0.1)) < 1e-3


def test_tabular_dpo_reports_non_convergence_for_a_unanimous_pair():
    P = np.array([[0.5, 1.0], [0.0, 0.5]])
    with pytest.warns(RuntimeWarning, match="not converged"):
        fit = tabular_dpo(P, 2, beta=0.1, steps=200)
    assert not fit.converged and fit.iterations == 200
    assert "not converged" in fit.message


# --------------------------------------------------------------------------- API and bad input
def test_public_names_and_lazy_torch_import():
    assert NeuralFit.__module__ == "choicelab.estimators.neural"
    code = (
        "import sys, choicelab.estimators as e; e.FitResult; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "from choicelab.estimators import neural_bt, neural_pl, NeuralFit, tabular_dpo"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(13)
    return rng.normal(size=(4, 2)), random_comparisons(4, 10, rng)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=0.0), "lr must be a positive finite number, got 0.0"),
        (dict(lr=float("nan")), "lr must be"),
        (dict(steps=0), "steps must be a positive integer, got 0"),
        (dict(steps=2.5), "steps must be a positive integer, got 2.5"),
        (dict(seeds=0), "seeds must be a positive integer, got 0"),
        (dict(seeds=[1, 1]), r"seeds must be .* got \[1, 1\]"),
        (dict(batch_size=0), "batch_size must be a positive integer, got 0"),
        (dict(layers=-1), "layers must be a non-negative integer, got -1"),
        (dict(hidden=True), "hidden must be a positive integer, got True"),
        (dict(activation="swish"), "activation must be one of .* got 'swish'"),
        (dict(dtype="float16"), "dtype must be .* got 'float16'"),
        (dict(lr_schedule="step"), "lr_schedule must be one of .* got 'step'"),
        (dict(device="tpu"), "'tpu'"),
        (dict(weight_decay=-1.0), "weight_decay must be a non-negative finite number, got -1.0"),
        (dict(output_reg=-0.5), "output_reg must be a non-negative finite number, got -0.5"),
        (dict(seed=-3), "seed must be .* got -3"),
        (dict(weights=np.array([0.5, 0.5, 0.5, 0.5])), "weights must sum to 1 within 1e-09.*got sum 2.0"),
        (dict(weights=np.array([1.5, -0.5, 0.0, 0.0])), r"weights\[1\] = -0.5"),
        (dict(weights=np.ones(3) / 3), r"weights must have shape \(4,\), got shape \(3,\)"),
    ],
)
def test_neural_bt_bad_arguments_raise_with_the_value(small, kwargs, message):
    X, comps = small
    kwargs = {"steps": 1, "seeds": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        neural_bt(X, comps, **kwargs)


def test_neural_bt_bad_data_raise_with_the_value(small):
    X, comps = small
    with pytest.raises(ValueError, match="mentions alternative 3, but there are only m=3"):
        neural_bt(X[:3], random_comparisons(4, 20, np.random.default_rng(0)), steps=1, seeds=1)
    bad_X = X.copy()
    bad_X[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"X\[1, 0\] = nan"):
        neural_bt(bad_X, comps, steps=1, seeds=1)
    P = np.full((4, 4), 0.5)
    P[0, 1] = 0.9
    with pytest.raises(ValueError, match=r"comps\[0, 1\] \+ comps\[1, 0\] = 1.4"):
        neural_bt(X, P, steps=1, seeds=1)
    with pytest.raises(ValueError, match=r"comps has shape \(3, 3\), expected \(4, 4\)"):
        neural_bt(X, np.full((3, 3), 0.5), steps=1, seeds=1)
    with pytest.raises(TypeError, match="got dict"):
        neural_bt(X, {"a": 1}, steps=1, seeds=1)
    with pytest.raises(ValueError, match="pairs is only for a preference matrix"):
        neural_bt(X, comps, steps=1, seeds=1, pairs=np.array([[0, 1]]))
    with pytest.raises(ValueError, match=r"pairs\[1\] = \(2, 2\)"):
        neural_bt(X, np.full((4, 4), 0.5), steps=1, seeds=1, pairs=np.array([[0, 1], [2, 2]]))
    fit = neural_bt(X, comps, steps=1, seeds=1)
    with pytest.raises(ValueError, match="X has 3 columns, but the model was trained on d=2"):
        fit.rewards(np.ones((2, 3)))


def test_device_cuda_is_used_or_refused_clearly(small):
    X, comps = small
    if torch.cuda.is_available():
        gpu = neural_bt(X, comps, steps=3, seeds=2, device="cuda", dtype="float64")
        cpu = neural_bt(X, comps, steps=3, seeds=2, dtype="float64")
        assert np.abs(gpu.per_seed() - cpu.per_seed()).max() < 1e-8
    else:
        with pytest.raises(ValueError, match=r"device='cuda' was requested, but torch.cuda.is_available\(\) is False"):
            neural_bt(X, comps, steps=1, seeds=1, device="cuda")


def test_neural_pl_and_dpo_bad_input_raise_with_the_value():
    X = np.eye(3)
    tied = Rankings(orders=(((0, 1), (2,)),), counts=np.array([1]), m=3)
    with pytest.raises(ValueError, match=r"rankings.orders\[0\] has the tied group \(0, 1\)"):
        neural_pl(X, tied, steps=1, seeds=1)
    with pytest.raises(ValueError, match="rankings.m = 4, but X has 3 rows"):
        neural_pl(X, Rankings(orders=(((0,), (1,)),), counts=np.array([1]), m=4), steps=1, seeds=1)
    with pytest.raises(TypeError, match="rankings must be a choicelab.sim.Rankings, got list"):
        neural_pl(X, [[0, 1, 2]], steps=1, seeds=1)
    P = np.full((3, 3), 0.5)
    with pytest.raises(ValueError, match="beta must be a positive finite number, got 0"):
        tabular_dpo(P, 3, beta=0)
    with pytest.raises(ValueError, match=r"data has shape \(3, 3\), expected \(4, 4\)"):
        tabular_dpo(P, 4)


def test_per_seed_evaluates_large_inputs_in_blocks_like_one_pass():
    rng = np.random.default_rng(16)
    X = rng.normal(size=(5, 2))
    fit = neural_bt(X, random_comparisons(5, 12, rng), hidden=3, steps=3, seeds=2, dtype="float64")
    Y = rng.normal(size=(20000, 2))  # more rows than one evaluation block
    assert np.abs(fit.per_seed(Y) - mlp_forward(fit, Y)).max() < 1e-12


def test_diverging_training_warns():
    X = np.eye(3)
    comps = Comparisons(np.array([0, 1]), np.array([1, 2]), np.array([0, 1]), np.full(2, -1))
    with pytest.warns(RuntimeWarning, match=r"non-finite for seed ids \[0\]"):
        fit = neural_bt(X * 1e30, comps, layers=0, lr=1e30, steps=3, seeds=1, batch_size=None)
    assert not np.all(np.isfinite(fit.loss_curves))


def test_tabular_dpo_loss_on_many_comparisons_is_the_per_comparison_mean():
    # 3 alternatives, 3000 comparisons in both orientations with ties: the reported objective
    # is the mean per-comparison DPO loss at the returned policy
    rng = np.random.default_rng(17)
    comps = random_comparisons(3, 3000, rng, tie_share=0.2)
    fit = tabular_dpo(comps, 3, beta=0.3)
    assert fit.converged
    h = np.log(fit.info["policy"] * 3)
    tie = comps.winner == -1
    d = 0.3 * (h[comps.winner] - h[comps.loser])
    dt = 0.3 * (h[comps.a] - h[comps.b])
    per = np.where(tie, -0.5 * (log_expit(dt) + log_expit(-dt)), -log_expit(d))
    assert fit.objective == pytest.approx(per.mean(), rel=1e-10)
    # at the optimum, on a complete graph, the fit is the BT MLE of the counts (lambda = 0)
    N = win_matrix(comps, 3)
    r = fit.rewards
    grad = [(N[i] * expit(-(r[i] - r))).sum() - (N[:, i] * expit(-(r - r[i]))).sum() for i in range(3)]
    assert np.abs(grad).max() < 1e-3  # tol 1e-8 on the mean loss gradient in logits, times n / beta

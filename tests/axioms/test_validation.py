"""One validation rule each for weights, preference matrices, generators and lambda (choicelab._validation).

The same bad input is rejected with the same message (up to the caller's prefix and argument name)
by the simulator, the estimators, the registry and the axiom checks.
"""

import numpy as np
import pytest

from choicelab import _validation as V
from choicelab import sim
from choicelab.axioms import fitting
from choicelab.axioms.theorems import borda_identity_residual
from choicelab.estimators import bt_mle
from choicelab.estimators.bt import bt_mle_counts
from choicelab.estimators.linear import linear_mle
from choicelab.estimators.registry import get_estimator
from choicelab.estimators.voting import borda, wawr

P3 = np.array([[0.5, 0.7, 0.4], [0.3, 0.5, 0.6], [0.6, 0.4, 0.5]])
X3 = np.array([[0.1, 0.2], [0.5, 0.9], [0.8, 0.3]])

BAD_WEIGHTS = {
    "sum": [0.5, 0.6, 0.2],  # sums to 1.3
    "sum_by_1e-8": [0.5, 0.3, 0.2 + 2e-8],  # accepted by one module before (1e-8), refused by the others (1e-9)
    "negative": [1.2, -0.1, -0.1],
    "nan": [0.5, np.nan, 0.5],
    "shape": [0.5, 0.5],
}


def _message(fn) -> str:
    with pytest.raises(ValueError) as err:
        fn()
    return str(err.value)


def _reference(w, name="weights", who=None) -> str:
    return _message(lambda: V.check_weights(w, 3, name, who))


def _core(message: str, name: str, who) -> str:
    """The message without the caller's ``who: `` prefix and argument name: the rule's own words."""
    if who:
        message = message[len(who) + 2 :]
    return "NAME" + message[len(name) :]


@pytest.mark.parametrize("case", sorted(BAD_WEIGHTS))
def test_the_same_weights_are_rejected_identically_everywhere(case):
    from choicelab.estimators.neural import neural_bt

    w = BAD_WEIGHTS[case]
    inst = sim.Instance.from_matrix(P3)
    pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0, 0.0]))])
    callers = [  # (argument name, caller prefix, call)
        ("weights", "bt_mle", lambda: bt_mle(P3, weights=w)),
        ("weights", "bt_mle_counts", lambda: bt_mle_counts(np.where(np.eye(3) > 0, 0.0, P3), weights=w)),
        ("w", None, lambda: wawr(P3, w)),
        ("weights", "neural_bt", lambda: neural_bt(X3, P3, weights=w, steps=1, seeds=1)),
        ("weights", "weighted_mle", lambda: get_estimator("weighted_mle").fit(inst, weights=w)),
        ("weights", "neural_weighted_mle", lambda: get_estimator("neural_weighted_mle").fit(inst, weights=w)),
        ("weights", "wawr", lambda: get_estimator("wawr").fit(inst, weights=w)),
        ("weights", None, lambda: linear_mle(X3, P3, weights=w)),
        # the axiom checks: the registry adapter and the P4/P5 identity
        ("weights", "weighted_mle", lambda: fitting.fit_outcome("weighted_mle", inst, weights=w)),
        ("weights", None, lambda: borda_identity_residual(P3, np.zeros(3), 0.1, weights=w)),
        # the simulator: a design probability vector follows the same rule
        ("design", None, lambda: pop.sample_comparisons(X3, 5, design=w)),
    ]
    cores = set()
    for name, who, call in callers:
        got = _message(call)
        assert got == _reference(w, name, who), (name, who, got)
        cores.add(_core(got, name, who))
    assert len(cores) == 1, cores  # one rule, one message


def test_plackett_luce_weights_follow_the_rule_and_must_be_positive():
    from choicelab.estimators.plackett_luce import pl_mle

    rk = sim.Rankings(orders=(((0,), (1,), (2,)),), counts=np.array([2]), m=3)
    assert _message(lambda: pl_mle(rk, weights=BAD_WEIGHTS["sum"])) == _reference(BAD_WEIGHTS["sum"])
    assert "must be finite and > 0" in _message(lambda: pl_mle(rk, weights=[0.5, 0.0, 0.5]))


def test_population_shares_sum_to_one_within_the_same_tolerance():
    r = sim.linear_reward([1.0])
    ok = sim.Population([sim.AnnotatorType(0.5, r), sim.AnnotatorType(0.5 + 5e-10, r)])
    assert ok.T == 2
    msg = _message(lambda: sim.Population([sim.AnnotatorType(0.5, r), sim.AnnotatorType(0.5 + 2e-9, r)]))
    assert msg == _message(lambda: V.check_weights([0.5, 0.5 + 2e-9], 2, "shares"))


BAD_MATRICES = {
    "complement": [[0.5, 0.7, 0.4], [0.3, 0.5, 0.65], [0.6, 0.4, 0.5]],  # bt accepted this before
    "diagonal": [[0.5, 0.7, 0.4], [0.3, 0.4, 0.6], [0.6, 0.4, 0.5]],
    "range": [[0.5, 1.2, 0.4], [-0.2, 0.5, 0.6], [0.6, 0.4, 0.5]],
    "nan": [[0.5, np.nan, 0.4], [0.3, 0.5, 0.6], [0.6, 0.4, 0.5]],
}


@pytest.mark.parametrize("case", sorted(BAD_MATRICES))
def test_the_same_matrix_is_rejected_identically_everywhere(case):
    from choicelab.estimators.neural import neural_bt

    P = np.array(BAD_MATRICES[case])
    callers = [  # (argument name, caller prefix, call)
        ("P", None, lambda: sim.Instance.from_matrix(P)),
        ("P", "bt_mle", lambda: bt_mle(P)),
        ("P", None, lambda: borda(P)),
        ("comps", "neural_bt", lambda: neural_bt(X3, P, steps=1, seeds=1)),
        ("P", None, lambda: get_estimator("mle").fit(P)),  # the registry wraps P as an Instance
        ("P", None, lambda: borda_identity_residual(P, np.zeros(3), 0.1)),
    ]
    for name, who, call in callers:
        expected = _message(lambda name=name, who=who: V.check_preference_matrix(P, name, who))
        assert _message(call) == expected, (name, who)


def test_bt_mle_now_refuses_what_the_other_estimators_refuse():
    P = np.array(BAD_MATRICES["complement"])
    msg = _message(lambda: bt_mle(P))
    assert msg.startswith("bt_mle: P[1, 2] + P[2, 1] = 1.05") and "P_ij + P_ji = 1" in msg
    # the count solver is where non-complementary data belong
    N = P.copy()
    np.fill_diagonal(N, 0.0)
    assert bt_mle_counts(N).converged


@pytest.mark.parametrize(
    "bad, exc",
    [(True, TypeError), (np.bool_(False), TypeError), (-1, ValueError), ("seed", TypeError), (1.5, TypeError)],
)
def test_the_same_rng_is_rejected_identically_everywhere(bad, exc):
    from choicelab import axioms
    from choicelab.estimators.neural import neural_bt
    from choicelab.estimators.weights import voronoi_weights

    def message(call):
        with pytest.raises(exc) as err:
            call()
        return str(err.value)

    expected = message(lambda: V.as_rng(bad))
    box = sim.Box([0.0], [1.0])
    calls = [
        lambda: get_estimator("mle").fit(P3, rng=bad),
        lambda: sim.uniform_alternatives(box, 3, rng=bad),
        lambda: voronoi_weights(np.array([[0.2], [0.7]]), box, method="monte_carlo", rng=bad),
        lambda: axioms.check("A5", "mle", instance=P3, rng=bad),
        lambda: axioms.verify(quick=True, rng=bad, axioms=["A5"], estimators=["mle"]),
    ]
    for k, call in enumerate(calls):
        assert message(call) == expected, k
    # a neural base seed follows the same rule under its own name
    assert message(lambda: neural_bt(X3, P3, steps=1, seeds=1, seed=bad)) == message(
        lambda: V.as_seed(bad, "seed", who="neural_bt")
    )


def test_large_and_numpy_integer_seeds_are_accepted():
    assert isinstance(V.as_rng(2**70), np.random.Generator)
    assert isinstance(V.as_rng(np.int64(3)), np.random.Generator)
    g = np.random.default_rng(0)
    assert V.as_rng(g) is g and V.as_seed(5) == 5 and 0 <= V.as_seed(None) < 2**63


@pytest.mark.parametrize("lam", [-1, float("nan"), float("inf")])
def test_the_same_lambda_is_rejected_identically_everywhere(lam):
    from choicelab.estimators.plackett_luce import pl_mle

    rk = sim.Rankings(orders=(((0,), (1,), (2,)),), counts=np.array([2]), m=3)
    cases = [
        (lambda: bt_mle(P3, lam=lam), dict(who="bt_mle", allow_zero=False)),
        (lambda: bt_mle_counts(np.zeros((3, 3)), lam=lam), dict(who="bt_mle_counts")),
        (lambda: get_estimator("mle").fit(P3, lam=lam), dict(who="mle")),
        (lambda: linear_mle(X3, P3, lam=lam), dict()),
        (lambda: pl_mle(rk, lam=lam), dict()),
        (lambda: borda_identity_residual(P3, np.zeros(3), lam), dict()),
    ]
    for call, kw in cases:
        assert _message(call) == _message(lambda kw=kw: V.check_lambda(lam, **kw)), kw
    with pytest.raises(TypeError, match="lam must be a real number, got True"):
        get_estimator("mle").fit(P3, lam=True)


def test_one_weight_tolerance():
    assert V.WEIGHT_SUM_TOL == 1e-9
    V.check_weights([0.5, 0.5 + 9e-10], 2)
    with pytest.raises(ValueError, match=r"weights must sum to 1 within 1e-09 \(they are never rescaled\), got sum"):
        V.check_weights([0.5, 0.5 + 2e-9], 2)

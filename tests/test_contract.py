"""The estimator contract (choicelab.testing.check_estimator): every built-in passes, broken ones fail."""

import numpy as np
import pytest

from choicelab.estimators.registry import list_estimators
from choicelab.testing import ContractFailure, check_estimator

BUILTIN = [e.name for e in list_estimators() if e.source == "choicelab"]


@pytest.mark.parametrize("name", BUILTIN)
def test_every_builtin_estimator_passes_the_contract(name):
    passed = check_estimator(name)
    assert {"shapes", "determinism", "bad input"} <= set(passed)
    # seed-free estimators are relabelling-equivariant; neural nets and sampled-ranking fits are exempt
    if name not in ("neural_mle", "neural_weighted_mle", "pl_mle"):
        assert "relabelling" in passed, name


def test_a_small_function_of_p_passes():
    def copeland_like(P):
        return (np.asarray(P) > 0.5).sum(axis=1).astype(float)

    assert "relabelling" in check_estimator(copeland_like)


@pytest.mark.parametrize(
    "broken, check",
    [
        (lambda P: np.full(len(P), np.nan), "shapes"),
        (lambda P: np.arange(len(P), dtype=float), "relabelling"),  # ignores who is who
        (lambda P: np.random.default_rng().random(len(P)), "determinism"),  # draws from no given seed
        (lambda P: np.ones(len(P) + 1), "shapes"),
    ],
)
def test_broken_estimators_are_caught_naming_the_check(broken, check):
    with pytest.raises((ContractFailure, ValueError)) as info:
        check_estimator(broken)
    # the registry's adapter already refuses a wrong shape or non-finite scores (ValueError naming it)
    assert f"the {check} check" in str(info.value) or "returned" in str(info.value)


def test_accepting_a_bad_matrix_is_caught():
    from choicelab.estimators.registry import register, unregister

    @register("lenient-any", kind="rule")
    def _lenient(instance, **kw):  # takes the instance, never validates P
        return np.asarray(instance.P).sum(axis=1)

    try:
        # Instance.from_matrix validates P for every registry entry, so the contract holds
        assert "bad input" in check_estimator("lenient-any")
    finally:
        unregister("lenient-any")


def test_a_wrong_signature_is_refused_at_registration_naming_the_plugin():
    from choicelab.estimators.registry import register

    def three_args(x, y, z):
        return x

    with pytest.raises(TypeError, match=r"register\('bad-sig'\): .*three_args\(x, y, z\) cannot be called"):
        register("bad-sig")(three_args)
    with pytest.raises(ValueError, match="already registered"):
        register("borda")(lambda P: P.sum(axis=1))

"""Named estimators behind one interface (the estimator registry).

Every estimator, reward model or voting rule, is called the same way::

    out = get_estimator("weighted_mle").fit(instance, data=None, weights=None, lam=0.1,
                                            rng=None, quick=False, **options)
    out.scores, out.order, out.winners, out.converged, out.raw

Data
    ``data=None`` means representative data, the exact matrix ``instance.P`` (the regime of the
    theorems, contract §1 Data (a)). A :class:`~choicelab.sim.Comparisons` means sampled data: the
    exact Bradley-Terry estimators minimise contract Eq. 1 / Eq. 2 with ``P`` replaced by the win
    counts ``N``; the neural ones the mean per-comparison loss; the voting rules run on the
    empirical matrix ``P-hat`` (every pair must have been compared). A
    :class:`~choicelab.sim.Rankings` is accepted by ``pl_mle`` as is, and by the pairwise
    estimators through the comparisons it implies (``Rankings.to_comparisons``).

Weights
    ``weighted_mle``, ``neural_weighted_mle`` and ``wawr`` use the given ``weights``, or else
    the Voronoi weights of ``instance.X`` in ``instance.region`` (contract §2, exact in d = 1 and in
    a 2-D box, Monte Carlo otherwise, drawn from ``rng``), recomputed on whatever alternatives
    the instance has, so exact clones split their cell. A matrix-only instance needs explicit
    weights. The unweighted estimators refuse weights (use the weighted ones).

Order
    ``order`` lists the alternatives best first. Reward estimators sort their scores; scores
    within :data:`ORDER_TOL` of each other tie and keep index order. Voting rules keep the
    order of their :class:`~choicelab.estimators.results.RuleResult` (each rule documents its
    tie-break).

torch and cvxpy are imported only when a neural estimator (or DPO) is fitted.

Examples
--------
>>> import numpy as np
>>> from choicelab import sim
>>> inst = sim.Instance.from_matrix([[0.5, 0.8], [0.2, 0.5]])
>>> out = get_estimator("mle").fit(inst)
>>> out.order.tolist(), out.kind
([0, 1], 'reward')
"""

from __future__ import annotations

import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from choicelab._validation import as_rng, check_lambda, check_weights

__all__ = [
    "Estimator",
    "EstimatorOutput",
    "get_estimator",
    "list_estimators",
    "register",
    "unregister",
    "ORDER_TOL",
    "QUICK_NEURAL",
    "DATA_FORMS",
]

WEIGHT_ERROR_MAX_M = 3000  # weight-error propagation solves a dense m x m system: skipped above this
ORDER_TOL = 1e-9  # reward scores this close tie (the exact solvers stop at a relative gradient of 1e-10)
KINDS = ("reward", "rule")
NEEDS = ("matrix", "positions", "comparisons")
# what an estimator can be fitted on: the exact matrix P (representative data), sampled comparisons, rankings
DATA_FORMS = ("matrix", "comparisons", "rankings")
# quick=True caps the neural budget at these values (the contract defaults: 20 seeds, 500 steps)
QUICK_NEURAL = {"seeds": 4, "steps": 200}
QUICK_DPO_STEPS = 5000
PL_RANKINGS = 4000  # rankings sampled for pl_mle on representative data (quick: a quarter)


@dataclass(frozen=True, eq=False)
class EstimatorOutput:
    """One estimator's answer on one instance, in a form every axiom check can read.

    Attributes
    ----------
    scores : (m,) ndarray
        Larger is better: rewards for reward estimators, the rule's scores for voting rules.
    order : (m,) ndarray of int
        Alternatives best first (ties: see the module docstring; tolerance ``order_tol``).
    kind : {"reward", "rule"}
    raw : FitResult, RuleResult, NeuralFit or LinearFit
        What the underlying estimator returned.
    converged : bool
        The solver's own flag. Rules are exact (True). Neural models train for a fixed budget
        and have no convergence test: True when every seed's final loss is finite.
    estimator : str
        The registry name.
    winners : tuple of int
        The rule's winners, or every alternative within ``order_tol`` of the top score.
    weights : (m,) ndarray or None
        The weights used (weighted estimators), e.g. the Voronoi weights computed here.
    order_tol : float
        The tie tolerance used for ``order`` and ``winners`` of reward estimators.
    weight_error : WeightErrorEffect or None
        ``weighted_mle`` only, when it estimated Monte Carlo Voronoi weights itself (d >= 3, no
        ``weights`` given, m <= WEIGHT_ERROR_MAX_M): how far the weights' Monte Carlo error can
        move the rewards and the order (:mod:`choicelab.estimators.weight_error`). None otherwise
        (exact or given weights).
    """

    scores: np.ndarray
    order: np.ndarray
    kind: str
    raw: object
    converged: bool
    estimator: str = ""
    winners: tuple = ()
    weights: np.ndarray | None = None
    order_tol: float = ORDER_TOL
    weight_error: object = None


@dataclass(frozen=True)
class Estimator:
    """A registry entry.

    Attributes
    ----------
    name : str
    kind : {"reward", "rule"}
    description : str
    needs : {"matrix", "positions", "comparisons"}
        What the instance must offer: a preference matrix only; positions ``X`` (and a region,
        for Voronoi weights, unless weights are given); or a population to sample from (or
        sampled ``data``).
    fit : callable
        ``fit(instance, *, data=None, weights=None, lam=0.1, rng=None, quick=False, **options)
        -> EstimatorOutput``; ``instance`` is a :class:`~choicelab.sim.Instance` (or an
        ``(m, m)`` preference matrix, wrapped by ``Instance.from_matrix``).
    """

    name: str
    kind: str
    description: str
    needs: str
    fit: Callable = field(repr=False)
    consumes: tuple = DATA_FORMS
    weighted: bool = False
    params: object = None
    source: str = "choicelab"
    extra: str | None = None

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Estimator.kind must be one of {KINDS}, got {self.kind!r}")
        if self.needs not in NEEDS:
            raise ValueError(f"Estimator.needs must be one of {NEEDS}, got {self.needs!r}")
        bad = [c for c in self.consumes if c not in DATA_FORMS]
        if bad or not self.consumes:
            raise ValueError(f"Estimator.consumes must be a non-empty subset of {DATA_FORMS}, got {self.consumes!r}")


# ----------------------------------------------------------------------------- helpers
def _as_rng(rng) -> np.random.Generator:
    return as_rng(rng)


def _as_instance(instance):
    from choicelab.sim.instance import Instance

    if isinstance(instance, Instance):
        return instance
    if isinstance(instance, (np.ndarray, list, tuple)):
        return Instance.from_matrix(instance)
    raise TypeError(
        f"instance must be a choicelab.sim.Instance or an (m, m) preference matrix, got {type(instance).__name__}"
    )


def _check_lam(lam, name: str) -> float:
    return check_lambda(lam, who=name)


def _check_data(data, name: str):
    from choicelab.sim.data import Comparisons, Rankings

    if data is not None and not isinstance(data, (Comparisons, Rankings)):
        raise TypeError(
            f"{name}: data must be None (representative data: instance.P), a choicelab.sim.Comparisons "
            f"or a choicelab.sim.Rankings, got {type(data).__name__}"
        )
    return data


def _as_comparisons(data, name: str):
    from choicelab.sim.data import Rankings

    if isinstance(data, Rankings):
        return data.to_comparisons()
    return data


def _no_weights(weights, name: str):
    if weights is not None:
        raise ValueError(
            f"{name} is unweighted and takes no weights (got weights={np.asarray(weights).tolist()!r}); "
            "use the weighted estimator instead"
        )


def _resolve_weights(instance, weights, rng, name: str, full_output: bool = False):
    """The given weights, or the Voronoi weights of instance.X in instance.region (contract §2).

    ``full_output=True`` returns (weights, VoronoiEstimate or None when the weights were given).
    """
    if weights is not None:
        w = check_weights(weights, instance.m, who=name)
        return (w, None) if full_output else w
    if instance.X is None or instance.region is None:
        raise ValueError(
            f"{name}: this instance has no positions and region (matrix-only), so Voronoi weights cannot be "
            "computed; pass weights explicitly (e.g. np.full(m, 1/m))"
        )
    from choicelab.estimators.weights import voronoi_weights

    if full_output:
        est = voronoi_weights(instance.X, instance.region, rng=rng, full_output=True)
        return np.asarray(est.weights, dtype=float), est
    return np.asarray(voronoi_weights(instance.X, instance.region, rng=rng), dtype=float)


def _winners_from_scores(scores: np.ndarray, tol: float) -> tuple:
    return tuple(int(i) for i in np.flatnonzero(scores >= scores.max() - tol))


def _reward_output(name, scores, raw, converged, weights=None) -> EstimatorOutput:
    from choicelab.estimators.results import _order_from_scores

    scores = np.asarray(scores, dtype=float)
    return EstimatorOutput(
        scores=scores,
        order=_order_from_scores(scores, ORDER_TOL),
        kind="reward",
        raw=raw,
        converged=bool(converged),
        estimator=name,
        winners=_winners_from_scores(scores, ORDER_TOL),
        weights=weights,
    )


def _rule_output(name, res, weights=None) -> EstimatorOutput:
    return EstimatorOutput(
        scores=np.asarray(res.scores, dtype=float),
        order=np.asarray(res.order, dtype=np.int64),
        kind="rule",
        raw=res,
        converged=True,
        estimator=name,
        winners=tuple(res.winners),
        weights=weights,
    )


def _rule_matrix(instance, data, name: str) -> np.ndarray:
    """instance.P, or the empirical matrix of sampled data (every pair must be compared)."""
    if data is None:
        return np.asarray(instance.P, dtype=float)
    from choicelab.sim.data import empirical_matrix

    comps = _as_comparisons(data, name)
    P = empirical_matrix(comps, instance.m)
    missing = np.argwhere(np.isnan(P))
    if missing.size:
        i, j = missing[0]
        raise ValueError(
            f"{name}: the data never compare alternatives {i} and {j}, so the empirical matrix is "
            "incomplete; a voting rule needs every pair"
        )
    return P


def _neural_X(instance, name: str) -> np.ndarray:
    # a matrix-only instance is embedded one-hot, so the network is a tabular model
    return np.eye(instance.m) if instance.X is None else np.asarray(instance.X, dtype=float)


# ----------------------------------------------------------------------------- fits
def _fit_mle(instance, data, weights, lam, rng, quick, options, *, name="mle", weighted=False):
    from choicelab.estimators.bt import bt_mle, bt_mle_comparisons

    estimate = None
    if weighted:
        w, estimate = _resolve_weights(instance, weights, rng, name, full_output=True)
    else:
        _no_weights(weights, name)
        w = None
    comps = _as_comparisons(data, name)
    if comps is None:
        fit = bt_mle(instance.P, weights=w, lam=lam, **options)
    else:
        fit = bt_mle_comparisons(comps, instance.m, weights=w, lam=lam, **options)
    out = _reward_output(name, fit.rewards, fit, fit.converged, w)
    if estimate is not None and estimate.n_samples > 0 and instance.m <= WEIGHT_ERROR_MAX_M:
        # Monte Carlo weights: carry their error into the rewards (delta method through Eq. 2)
        from dataclasses import replace

        from choicelab.estimators.weight_error import propagate_weight_error, voronoi_weight_covariance
        from choicelab.sim.data import win_counts

        X = instance.P if comps is None else np.asarray(win_counts(comps, instance.m), dtype=float)
        cov = voronoi_weight_covariance(instance.X, estimate)
        out = replace(out, weight_error=propagate_weight_error(X, fit.rewards, w, lam, cov))
    return out


def _fit_neural(instance, data, weights, lam, rng, quick, options, *, name, weighted):
    from choicelab.estimators.neural import neural_bt, output_reg_for_lambda

    w = _resolve_weights(instance, weights, rng, name) if weighted else None
    if not weighted:
        _no_weights(weights, name)
    X = _neural_X(instance, name)
    comps = _as_comparisons(data, name)
    train = np.asarray(instance.P, dtype=float) if comps is None else comps
    opts = dict(options)
    if quick:
        for key, cap in QUICK_NEURAL.items():
            default = {"seeds": 20, "steps": 500}[key]
            value = opts.get(key, default)
            opts[key] = min(value, cap) if isinstance(value, numbers.Integral) else value
    if "output_reg" not in opts:
        # (lam/2) sum_i w_i r(x_i)^2 at the scale of contract Eq. 1 / Eq. 2 (see output_reg_for_lambda)
        opts["output_reg"] = output_reg_for_lambda(lam, train, weights=w, pairs=opts.get("pairs"))
    opts.setdefault("seed", rng)
    fit = neural_bt(X, train, weights=w, **opts)
    converged = bool(np.all(np.isfinite(fit.final_loss)))
    return _reward_output(name, fit.rewards(X), fit, converged, w)


def _fit_dpo(instance, data, weights, lam, rng, quick, options):
    from choicelab.estimators.neural import tabular_dpo

    name = "dpo"
    _no_weights(weights, name)
    comps = _as_comparisons(data, name)
    train = np.asarray(instance.P, dtype=float) if comps is None else comps
    opts = dict(options)
    if quick:
        opts["steps"] = min(opts.get("steps", 20000), QUICK_DPO_STEPS)
    fit = tabular_dpo(train, instance.m, **opts)
    return _reward_output(name, fit.rewards, fit, fit.converged)


def _fit_pl(instance, data, weights, lam, rng, quick, options):
    from choicelab.estimators.plackett_luce import pl_mle
    from choicelab.sim.data import Comparisons, Rankings

    name = "pl_mle"
    opts = dict(options)
    n_rankings = opts.pop("n_rankings", PL_RANKINGS // 4 if quick else PL_RANKINGS)
    if isinstance(data, Rankings):
        rankings = data
    elif isinstance(data, Comparisons):
        rankings = _comparisons_as_rankings(data, instance.m, name)
    else:
        if instance.population is None or instance.X is None:
            raise ValueError(
                f"{name}: Plackett-Luce needs rankings; this instance has no population to sample them "
                "from, so pass data (Rankings or Comparisons)"
            )
        rankings = instance.population.sample_rankings(instance.X, int(n_rankings), rng=rng)
    fit = pl_mle(rankings, instance.m, weights=weights, lam=lam, **opts)
    return _reward_output(name, fit.rewards, fit, fit.converged, None if weights is None else np.asarray(weights))


def _comparisons_as_rankings(comps, m: int, name: str):
    from choicelab.sim.data import Rankings

    if np.any(comps.winner == -1):
        raise ValueError(
            f"{name}: Plackett-Luce has no tie model, but the comparisons contain "
            f"{int(np.sum(comps.winner == -1))} ties"
        )
    pairs, counts = np.unique(np.stack([comps.winner, comps.loser], axis=1), axis=0, return_counts=True)
    orders = tuple(((int(a),), (int(b),)) for a, b in pairs)
    return Rankings(orders=orders, counts=counts.astype(np.int64), m=m, unlisted_last=False)


def _fit_linear(instance, data, weights, lam, rng, quick, options):
    from choicelab.estimators.linear import linear_mle

    name = "linear_mle"
    if instance.X is None:
        raise ValueError(f"{name}: a linear reward r(x) = theta . x needs positions; this instance is matrix-only")
    comps = _as_comparisons(data, name)
    train = np.asarray(instance.P, dtype=float) if comps is None else comps
    fit = linear_mle(instance.X, train, weights=weights, lam=lam, **options)
    rewards = fit.rewards
    scores = rewards(instance.X) if callable(rewards) else rewards
    return _reward_output(
        name, scores, fit, getattr(fit, "converged", True), None if weights is None else np.asarray(weights)
    )


def _rule_fit(rule_name: str, weighted: bool = False):
    def fit(instance, data, weights, lam, rng, quick, options):
        from choicelab.estimators import voting

        P = _rule_matrix(instance, data, rule_name)
        rule = getattr(voting, rule_name)
        if weighted:
            w = _resolve_weights(instance, weights, rng, rule_name)
            return _rule_output(rule_name, rule(P, w, **options), w)
        _no_weights(weights, rule_name)
        return _rule_output(rule_name, rule(P, **options))

    return fit


def _uniform(name: str, impl: Callable) -> Callable:
    """Wrap an implementation with the registry's shared argument handling."""

    def fit(instance, *, data=None, weights=None, lam=0.1, rng=None, quick=False, **options) -> EstimatorOutput:
        instance = _as_instance(instance)
        data = _check_data(data, name)
        lam = _check_lam(lam, name)
        if not isinstance(quick, (bool, np.bool_)):
            raise TypeError(f"{name}: quick must be a bool, got {quick!r}")
        return impl(instance, data, weights, lam, _as_rng(rng), bool(quick), options)

    fit.__name__ = f"fit_{name}"
    fit.__doc__ = f"Fit {name!r} on an instance (see choicelab.estimators.registry)."
    return fit


def _neural_params():
    from pydantic import BaseModel, ConfigDict, Field

    class NeuralOptions(BaseModel):
        """Options of the neural BT estimators (``neural_bt``)."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        hidden: int = Field(32, ge=1)
        layers: int = Field(1, ge=0)
        lr: float = Field(1e-4, gt=0)
        batch_size: int = Field(512, ge=1)
        steps: int = Field(500, ge=1)
        seeds: int = Field(20, ge=1)
        activation: str = Field("relu", pattern="^(relu|tanh|sigmoid|gelu|softplus)$")
        output_reg: float | None = Field(None, ge=0)
        seed: int | None = Field(None, ge=0, description="base seed; by default the runner draws one per fit")

    return NeuralOptions


def _pl_params():
    from pydantic import BaseModel, ConfigDict, Field

    class PlackettLuceOptions(BaseModel):
        """Options of ``pl_mle``."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        n_rankings: int | None = Field(None, ge=1)

    return PlackettLuceOptions


def _dpo_params():
    from pydantic import BaseModel, ConfigDict, Field

    class DPOOptions(BaseModel):
        """Options of the tabular DPO."""

        model_config = ConfigDict(extra="forbid", frozen=True)
        steps: int | None = Field(None, ge=1)
        beta: float | None = Field(None, gt=0)

    return DPOOptions


def _entry(
    name, kind, needs, description, impl, consumes=DATA_FORMS, weighted=False, params=None, extra=None
) -> Estimator:
    return Estimator(
        name=name,
        kind=kind,
        description=description,
        needs=needs,
        fit=_uniform(name, impl),
        consumes=tuple(consumes),
        weighted=weighted,
        params=params,
        extra=extra,
    )


def _mle_impl(weighted, name):
    return lambda inst, data, w, lam, rng, quick, opts: _fit_mle(
        inst, data, w, lam, rng, quick, opts, name=name, weighted=weighted
    )


def _neural_impl(weighted, name):
    return lambda inst, data, w, lam, rng, quick, opts: _fit_neural(
        inst, data, w, lam, rng, quick, opts, name=name, weighted=weighted
    )


_ESTIMATORS: dict[str, Estimator] = {
    e.name: e
    for e in (
        _entry(
            "mle",
            "reward",
            "matrix",
            "standard regularized Bradley-Terry MLE, contract Eq. 1 (bt_mle / bt_mle_comparisons)",
            _mle_impl(False, "mle"),
        ),
        _entry(
            "weighted_mle",
            "reward",
            "positions",
            "Voronoi-weighted Bradley-Terry MLE, contract Eq. 2 [PSZ]; weights recomputed on the instance's "
            "alternatives",
            _mle_impl(True, "weighted_mle"),
            weighted=True,
        ),
        _entry(
            "neural_mle",
            "reward",
            "positions",
            "MLP reward model trained on the per-comparison BT loss, mean over seeds (neural_bt); one-hot inputs "
            "for matrix-only instances; lam -> output regulariser at the Eq. 1 scale",
            _neural_impl(False, "neural_mle"),
            params=_neural_params(),
            extra="neural",
        ),
        _entry(
            "neural_weighted_mle",
            "reward",
            "positions",
            "neural_mle with Voronoi weights (omega_k = w(a_k) w(b_k), contract §2)",
            _neural_impl(True, "neural_weighted_mle"),
            weighted=True,
            params=_neural_params(),
            extra="neural",
        ),
        _entry(
            "pl_mle",
            "reward",
            "comparisons",
            "Plackett-Luce MLE on rankings (sampled from the population when data is None)",
            _fit_pl,
            consumes=("rankings", "comparisons"),
            params=_pl_params(),
        ),
        _entry(
            "linear_mle",
            "reward",
            "positions",
            "linear reward r(x) = theta . x fitted by the BT loss [GE]",
            _fit_linear,
        ),
        _entry(
            "dpo",
            "reward",
            "matrix",
            "tabular DPO with a uniform reference policy (contract X3, [XK]); unregularized, lam is not used",
            _fit_dpo,
            params=_dpo_params(),
            extra="neural",
        ),
        _entry("borda", "rule", "matrix", "Borda score / average win rate B(i) = sum_j P_ij", _rule_fit("borda")),
        _entry(
            "wawr",
            "rule",
            "positions",
            "weighted average win rate sum_j w_j P_ij (Voronoi weights by default)",
            _rule_fit("wawr", weighted=True),
            weighted=True,
        ),
        _entry("copeland", "rule", "matrix", "Copeland: majority wins, 1/2 per majority tie", _rule_fit("copeland")),
        _entry("schulze", "rule", "matrix", "Schulze beatpath (winning votes)", _rule_fit("schulze")),
        _entry("ranked_pairs", "rule", "matrix", "Tideman's Ranked Pairs", _rule_fit("ranked_pairs")),
        _entry("kemeny", "rule", "matrix", "Kemeny ranking weighted by P", _rule_fit("kemeny")),
        _entry(
            "maximal_lottery",
            "rule",
            "matrix",
            "Fishburn's maximal lottery (linear program)",
            _rule_fit("maximal_lottery"),
        ),
    )
}


def register(
    name: str,
    *,
    kind: str = "reward",
    consumes=DATA_FORMS,
    needs: str = "matrix",
    weighted: bool = False,
    params=None,
    description: str | None = None,
    replace: bool = False,
):
    """Decorator: add an estimator to the registry under ``name``.

    The decorated function is either

    * the registry's uniform signature ``fn(instance, *, data=None, weights=None, lam=0.1,
      rng=None, quick=False, **options)`` returning an :class:`EstimatorOutput` or an (m,)
      array of scores (larger is better), or
    * a small function of the preference matrix, ``fn(P, weights=None, lam=0.1) -> (m,)
      scores`` (its first parameter is named ``P``): it receives ``instance.P``, or the
      empirical matrix of sampled data, and ``weights`` only when it declares them.

    Parameters
    ----------
    name : str
        Registry name (letters, digits, ``_``, ``-``, ``.``); a duplicate raises ValueError unless
        ``replace=True``.
    kind : {"reward", "rule"}
    consumes : tuple of {"matrix", "comparisons", "rankings"}
        The data regimes it can be fitted on; scenarios check this when they load.
    needs : {"matrix", "positions", "comparisons"}
        What the instance must offer (see :class:`Estimator`).
    weighted : bool
        Takes clone-robust weights (the runner passes the scenario's Voronoi weights).
    params : pydantic model class, optional
        Its options (``[estimators.options.NAME]`` in a scenario); unknown keys are rejected.
        None: it takes no options.

    Examples
    --------
    >>> import numpy as np
    >>> @register("doc_copeland_like", kind="rule")
    ... def doc_copeland_like(P):
    ...     return (np.asarray(P) > 0.5).sum(axis=1).astype(float)
    >>> get_estimator("doc_copeland_like").fit([[0.5, 0.9], [0.1, 0.5]]).order.tolist()
    [0, 1]
    >>> unregister("doc_copeland_like")
    """
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise ValueError(f"register: estimator name must be letters, digits, '_', '-' or '.', got {name!r}")
    if kind not in KINDS:
        raise ValueError(f"register({name!r}): kind must be one of {KINDS}, got {kind!r}")
    consumes = (consumes,) if isinstance(consumes, str) else tuple(consumes)

    def decorator(fn):
        if not callable(fn):
            raise TypeError(f"register({name!r}) decorates a function, got {type(fn).__name__}")
        if name in _ESTIMATORS and not replace:
            raise ValueError(
                f"register: an estimator called {name!r} is already registered "
                f"(by {_ESTIMATORS[name].source}); pick another name or pass replace=True"
            )
        impl = _plugin_impl(name, fn, kind, weighted)
        doc = description or (fn.__doc__ or "").strip().split("\n")[0] or f"plugin estimator {name}"
        _ESTIMATORS[name] = Estimator(
            name=name,
            kind=kind,
            description=doc,
            needs=needs,
            fit=_uniform(name, impl),
            consumes=consumes,
            weighted=weighted,
            params=params,
            source=getattr(fn, "__module__", None) or "plugin",
        )
        try:
            fn.__choicelab_estimator__ = name  # `verify --estimator module:function` finds the entry from the function
        except (AttributeError, TypeError):
            pass
        return fn

    return decorator


def unregister(name: str) -> None:
    """Remove a registered estimator (tests and interactive sessions)."""
    _ESTIMATORS.pop(name, None)


def _plugin_impl(name, fn, kind, weighted):
    import inspect

    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    matrix_style = bool(params) and params[0].name == "P"
    takes = {p.name for p in params}
    any_kw = any(p.kind is p.VAR_KEYWORD for p in params)
    if params:  # a wrong signature is refused now, naming the plugin, not at its first fit
        try:
            if matrix_style:
                inspect.signature(fn).bind(None)
            else:
                inspect.signature(fn).bind(None, data=None, weights=None, lam=0.1, rng=None, quick=False)
        except TypeError as exc:
            where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
            raise TypeError(
                f"register({name!r}): {where}{inspect.signature(fn)} cannot be called as fn(P, weights=None, "
                f"lam=0.1) nor as fn(instance, *, data, weights, lam, rng, quick, **options): {exc}"
            ) from None

    def impl(instance, data, weights, lam, rng, quick, options):
        w = _resolve_weights(instance, weights, rng, name) if weighted else None
        if not weighted:
            _no_weights(weights, name)
        if matrix_style:
            P = _rule_matrix(instance, data, name)
            kwargs = dict(options)
            if "weights" in takes and w is not None:
                kwargs["weights"] = w
            if "lam" in takes or any_kw:
                kwargs["lam"] = lam
            out = fn(P, **kwargs)
        else:
            out = fn(instance, data=data, weights=w, lam=lam, rng=rng, quick=quick, **options)
        if isinstance(out, EstimatorOutput):
            return out
        scores = np.asarray(out, dtype=float)
        if scores.shape != (instance.m,):
            raise ValueError(
                f"estimator {name!r} ({fn.__module__}.{fn.__qualname__}) returned shape {scores.shape}; "
                f"expected ({instance.m},) scores, one per alternative"
            )
        if not np.all(np.isfinite(scores)):
            raise ValueError(f"estimator {name!r} returned non-finite scores: {scores.tolist()}")
        if kind == "rule":
            from choicelab.estimators.results import _order_from_scores

            order = _order_from_scores(scores, ORDER_TOL)
            return EstimatorOutput(
                scores=scores,
                order=order,
                kind="rule",
                raw=out,
                converged=True,
                estimator=name,
                winners=_winners_from_scores(scores, ORDER_TOL),
                weights=w,
            )
        return _reward_output(name, scores, out, True, w)

    return impl


def get_estimator(name: str) -> Estimator:
    """The registry entry called ``name`` (see :func:`list_estimators`).

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.
    """
    _load_plugins()
    try:
        return _ESTIMATORS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown estimator {name!r}; known: {', '.join(_ESTIMATORS)}") from None


def list_estimators() -> list[Estimator]:
    """Every registered estimator, in registry order (built-ins first, then plugins)."""
    _load_plugins()
    return list(_ESTIMATORS.values())


def _load_plugins() -> None:
    """Installed packages' estimators (entry point group ``choicelab.estimators``), once per process."""
    from choicelab.plugins import load_entry_points

    load_entry_points("choicelab.estimators")

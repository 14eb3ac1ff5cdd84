"""Neural reward models trained with torch, many seeds as one batched model (contract §2).

contract §2 "Sampled data, neural estimators", "Neural MLE [PSZ case study]" and "Plackett-Luce";
tabular DPO for the preference-sensitivity experiment (contract X3).

Model
    ``r_theta: R^d -> R`` is an MLP with ``layers`` hidden layers of ``hidden`` units, the
    chosen ``activation`` after every hidden layer and a linear output unit (``layers=0``
    is the linear model ``r(x) = theta . x + b``; on one-hot inputs ``X = I`` it is a
    tabular model). Every layer is initialised like ``torch.nn.Linear`` (PyTorch's default
    Kaiming-uniform with ``a = sqrt(5)``): weight and bias entries are
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``, drawn layer by layer (input side first), weight
    in ``nn.Linear``'s ``(out, in)`` layout, then bias, in the training dtype.

Seeds
    ``seeds=S`` trains seed ids ``0..S-1``; a sequence trains exactly those ids. Seed id ``s``
    owns a CPU ``torch.Generator`` seeded with ``_seed_for(seed, s)``::

        int(np.random.SeedSequence([seed, s]).generate_state(1, np.uint64)[0] >> 1)

    It draws, in this order, the initialisation and then the minibatch indices, so a seed's
    numbers do not depend on which other seeds are trained with it, nor on the device (all
    draws happen on the CPU and are then moved).

Minibatches
    Epoch shuffling: each seed walks through a stream of independent random permutations of
    the ``n`` training items (``torch.randperm(n, generator=g)``, one per epoch, concatenated)
    and takes consecutive blocks of ``batch_size``; a block may straddle two epochs, so every
    step sees exactly ``batch_size`` items and every item is seen once per epoch. With
    ``batch_size=None`` or ``batch_size >= n`` every step uses the full data set (no draws).

Batching
    All seeds form one model: parameters are stacked with a leading seed axis and the forward
    pass is a batched matmul; one ``torch.optim.Adam`` updates the stacked tensors (Adam, and
    its L2 ``weight_decay``, act elementwise, so this equals one Adam per seed), and the loss
    that is differentiated is the sum of the per-seed losses, so each seed gets its own
    gradient. Each network is evaluated once per distinct alternative and the pair rewards
    are gathered from these values: on all ``m`` alternatives when ``m`` is at most the
    number of alternative slots in a minibatch (or when the output regulariser or a full
    batch needs them all; ``settings["evaluation"] == "all"``), otherwise on the distinct
    alternatives of that seed's own minibatch (``"per_seed_distinct"``).

Optimiser
    ``torch.optim.Adam`` with its defaults (betas 0.9/0.999, eps 1e-8), step size ``lr``
    constant (the PSZ setting) or, with ``lr_schedule``, decayed linearly or by a cosine
    to near 0 over the ``steps``; a decaying step lets a full-batch fit settle at the optimum
    (with a constant step, Adam can leave an optimum it has reached: its second-moment
    estimate shrinks with the gradient, so its steps do not).

Numerics and devices
    ``log s(x)`` is computed stably (``-softplus(-x)``, i.e. ``-log1p(exp(-x))`` with the
    linear branch for large arguments), never as ``log(s(x))``. Training runs in float32
    (default) or float64 on the CPU, or on a CUDA
    device when asked (a ``ValueError`` when CUDA is unavailable). Adam divides by the
    root of the squared-gradient average, so gradient entries near 0 turn rounding
    differences into step-size differences: float32 runs that are mathematically equal
    (a seed alone or in the stack, here or in a per-seed loop) agree to about ``lr`` per
    step, float64 runs to ~1e-12.

Threads
    Global torch state (thread count, default dtype, global RNG) is left alone; set
    ``torch.set_num_threads`` yourself to limit intra-op threads.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy.special import erf, expit

from choicelab._validation import as_seed, check_preference_matrix, check_weights
from choicelab.estimators.results import FitResult
from choicelab.sim.data import Comparisons, Rankings

__all__ = ["NeuralFit", "neural_bt", "neural_pl", "tabular_dpo", "output_reg_for_lambda"]

_ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "softplus")
_SCHEDULES = ("constant", "linear", "cosine")
_INDEX_BUDGET = 1 << 20  # minibatch indices drawn ahead per chunk, over all seeds
_ROW_BLOCK = 8192  # alternatives per block when a whole X is evaluated outside training


# --------------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class NeuralFit:
    """A trained ensemble of reward networks (one per seed), evaluated with numpy.

    Attributes
    ----------
    params : tuple of (W, b)
        Per layer, input side first: ``W`` of shape ``(seeds, fan_in, fan_out)`` and ``b`` of
        shape ``(seeds, fan_out)``; the last layer has ``fan_out = 1``.
    activation : str
        Activation after every hidden layer.
    loss_curves : (seeds, steps) ndarray
        The minibatch objective (mean data loss plus output regulariser) at every step,
        before that step's update.
    final_loss : (seeds,) ndarray
        The full-data objective at the trained parameters.
    seed_ids : tuple of int
        The seed ids, in the order of the leading axis.
    X_train : (m, d) ndarray
        The training alternatives (default input of :meth:`rewards` and :meth:`per_seed`).
    settings : dict
        Every setting used (model, init, sampling, optimiser, seeds, data sizes, device, dtype).
    """

    params: tuple
    activation: str
    loss_curves: np.ndarray
    final_loss: np.ndarray
    seed_ids: tuple
    X_train: np.ndarray
    settings: dict = field(default_factory=dict)

    def per_seed(self, X=None) -> np.ndarray:
        """Rewards of every seed's network at the rows of ``X``: shape ``(seeds, k)``.

        Evaluated in float64 numpy from the trained parameters; ``X=None`` means the
        training alternatives.
        """
        X = self.X_train if X is None else _as_points(X, "X", self.X_train.shape[1])
        params = [(W.astype(np.float64), b.astype(np.float64)[:, None, :]) for W, b in self.params]
        out = np.empty((len(self.seed_ids), X.shape[0]))
        for lo in range(0, X.shape[0], _ROW_BLOCK):  # bounded memory for large X
            H = np.broadcast_to(X[lo : lo + _ROW_BLOCK], (len(self.seed_ids),) + X[lo : lo + _ROW_BLOCK].shape)
            for depth, (W, b) in enumerate(params):
                H = np.matmul(H, W) + b
                if depth < len(params) - 1:
                    H = _numpy_activation(self.activation, H)
            out[:, lo : lo + _ROW_BLOCK] = H[..., 0]
        return out

    def rewards(self, X=None) -> np.ndarray:
        """Mean reward over seeds at the rows of ``X`` (contract §2: results are seed averages)."""
        return self.per_seed(X).mean(axis=0)


def _numpy_activation(name: str, H: np.ndarray) -> np.ndarray:
    if name == "relu":
        return np.maximum(H, 0.0)
    if name == "tanh":
        return np.tanh(H)
    if name == "sigmoid":
        return expit(H)
    if name == "gelu":  # exact (erf) GELU, torch's default approximate="none"
        return 0.5 * H * (1.0 + erf(H / np.sqrt(2.0)))
    return np.logaddexp(0.0, H)  # softplus


# --------------------------------------------------------------------------- public API
def neural_bt(
    X,
    comps,
    weights=None,
    hidden=32,
    lr=1e-4,
    batch_size=512,
    steps=500,
    seeds=20,
    *,
    layers=1,
    activation="relu",
    weight_decay=0.0,
    output_reg=0.0,
    device="cpu",
    seed=0,
    dtype="float32",
    pairs=None,
    lr_schedule="constant",
) -> NeuralFit:
    """Neural Bradley-Terry MLE: an MLP reward model trained by Adam on minibatches (contract §2).

    Minimises, per seed, the mean per-comparison loss (contract §2 "Sampled data, neural
    estimators") plus an optional output regulariser::

        L(theta) = -(1/n) sum_k omega_k [q_k log s(r(x_i_k) - r(x_j_k))
                                         + (1 - q_k) log s(r(x_j_k) - r(x_i_k))]
                   + (output_reg / 2) sum_i w_i r(x_i)^2

    with ``s`` the logistic function (``log s`` computed stably, never as ``log(s(x))``).
    For ``Comparisons`` item ``k`` is comparison ``k``: ``i_k`` its winner, ``j_k`` its loser
    and ``q_k = 1``; a tie
    (``winner == -1``) has ``q_k = 1/2`` (half of each direction, contract §4). For a preference
    matrix ``P`` (representative data) the items are the unordered pairs ``i < j`` (all of
    them, or those listed in ``pairs``), each compared once with fractional outcome
    ``q = P_ij``, so ``n`` is the number of pairs and the data term is
    ``-(1/n) sum_{i != j over the pairs} omega_ij P_ij log s(r_i - r_j)``.
    ``omega_k = w(i_k) w(j_k)`` divided by its mean over the ``n`` items (``omega = 1``
    without weights, and also when all products are equal). The regulariser runs over all
    ``m`` training alternatives with ``w = 1`` when unweighted.

    Relation to contract Eq. 1 / Eq. 2 (sampled data: P replaced by the win counts N): with
    ``Z = sum_k w(a_k) w(b_k)`` (``Z = n`` unweighted), ``Z * L`` equals the Eq. 1 / Eq. 2
    objective with ``lambda = Z * output_reg``, so a one-hot network (``X = I``,
    ``layers=0``) minimises Eq. 1 / Eq. 2 with that lambda;
    :func:`output_reg_for_lambda` converts. For a matrix, Eq. 1 / Eq. 2 on ``P`` itself.

    Parameters
    ----------
    X : (m, d) array
        The training alternatives; comparisons refer to its rows.
    comps : Comparisons or (m, m) array
        Sampled comparisons over ``0..m-1``, or a preference matrix (``P_ij + P_ji = 1``).
    weights : (m,) array, optional
        ``w >= 0`` with ``sum(w) = 1`` (contract Eq. 2), e.g. Voronoi weights; never renormalised.
    hidden, layers, activation : int, int, str
        Width and number of hidden layers (``layers=0``: linear model) and the activation,
        one of ``"relu", "tanh", "sigmoid", "gelu", "softplus"``.
    lr, weight_decay : float
        Adam step size and its L2 ``weight_decay`` (``torch.optim.Adam`` semantics, applied
        to all weights and biases).
    batch_size : int or None
        Items per step, drawn by epoch shuffling; ``None`` or ``>= n`` means full batch.
    steps : int
        Optimiser steps.
    seeds : int or sequence of int
        Number of seeds (ids ``0..seeds-1``) or the seed ids to train.
    output_reg : float
        Coefficient of the output regulariser ``(output_reg/2) sum_i w_i r(x_i)^2``.
    device : str
        ``"cpu"`` (default) or a CUDA device; a clear error when CUDA is unavailable.
    seed : int, numpy Generator or None
        Base seed of the per-seed generators (a Generator or None draws one; the value used
        is in ``settings["seed"]``).
    dtype : {"float32", "float64"} or torch dtype
    pairs : (k, 2) int array, optional
        Only with a matrix: the unordered pairs to train on (default all ``i < j``).
    lr_schedule : {"constant", "linear", "cosine"}
        Step size over the steps: constant (PSZ), or decayed to near 0 (see the module notes).

    Returns
    -------
    NeuralFit
        ``rewards(X)``, ``per_seed(X)``, ``loss_curves`` (seeds, steps), ``final_loss`` and
        ``settings`` (every setting used, including the resolved ``seed``, ``sampling`` and
        ``evaluation``).

    Raises
    ------
    ValueError, TypeError
        On bad input, naming the argument and the offending value.

    Examples
    --------
    >>> import numpy as np
    >>> from choicelab import sim
    >>> X = np.array([[0.0], [1.0], [2.0]])
    >>> pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([2.0]))])
    >>> comps = pop.sample_comparisons(X, 600, rng=0)
    >>> fit = neural_bt(X, comps, seeds=4, steps=300, lr=3e-2, seed=0)
    >>> r = fit.rewards(X)                           # (m,) mean over the 4 seeds
    >>> r.shape, bool(r[2] > r[1] > r[0])           # larger x, larger reward
    ((3,), True)
    """
    torch = _torch()
    X = _as_points(X, "X")
    m = X.shape[0]
    w = _check_weights(weights, m, "neural_bt")
    data = _pair_data(comps, m, w, pairs, "neural_bt")
    reg_w = np.ones(m) if w is None else w
    settings = _common_settings(
        "neural_bt",
        X,
        hidden,
        lr,
        batch_size,
        steps,
        seeds,
        layers,
        activation,
        weight_decay,
        output_reg,
        device,
        seed,
        dtype,
        lr_schedule,
    )
    settings.update(data=data.kind, n=data.n, weighted=w is not None)
    task = _PairTask(data, settings["torch_dtype"], settings["torch_device"], torch)
    return _train("neural_bt", X, task, reg_w, settings, torch)


def neural_pl(
    X,
    rankings,
    weights=None,
    hidden=32,
    lr=1e-4,
    batch_size=512,
    steps=500,
    seeds=20,
    *,
    layers=1,
    activation="relu",
    weight_decay=0.0,
    output_reg=0.0,
    device="cpu",
    seed=0,
    dtype="float32",
    lr_schedule="constant",
) -> NeuralFit:
    """Neural Plackett-Luce MLE on strict rankings (contract §2 "Plackett-Luce").

    Minimises, per seed, the mean per-ranking negative log-likelihood plus the output
    regulariser::

        L(theta) = -(1/n) sum_rankings sum_t omega_t [r(pi_t) - logsumexp_{l in C_t} r(pi_l)]
                   + (output_reg / 2) sum_i w_i r(x_i)^2

    where ``n`` is the number of rankings (``sum(rankings.counts)``), ``pi_t`` the
    alternative in place ``t`` and ``C_t`` the alternatives still available at place ``t``:
    the listed ones from ``t`` on, plus every unlisted alternative when
    ``rankings.unlisted_last`` (top-k rankings); otherwise unlisted alternatives are simply
    not compared. A place with a single available alternative is no choice and is dropped.

    Weights follow :func:`choicelab.estimators.pl_mle`: the stage weight is
    ``w(pi_t) * mean_{l in C_t, l != pi_t} w_l`` (the mean contract Eq. 2 product over the wins
    the stage implies), divided by its mean over all stages of all rankings (counted with
    multiplicity), so ``omega = 1`` without weights. Hence rankings of two alternatives give
    exactly :func:`neural_bt`'s loss on the corresponding comparisons, and ``Z * L`` equals
    ``pl_mle``'s objective with ``lambda = Z * output_reg``, where ``Z = n * (mean raw stage
    weight)`` (``Z = n`` unweighted); :func:`output_reg_for_lambda` converts.

    Parameters are those of :func:`neural_bt` (same model, seeds, batching and epoch
    shuffling, with rankings as the training items, each repeated ``counts`` times).
    Tied groups raise ``ValueError``: the Plackett-Luce likelihood is for strict orders.
    """
    torch = _torch()
    X = _as_points(X, "X")
    m = X.shape[0]
    w = _check_weights(weights, m, "neural_pl")
    data = _ranking_data(rankings, m, w, "neural_pl")
    settings = _common_settings(
        "neural_pl",
        X,
        hidden,
        lr,
        batch_size,
        steps,
        seeds,
        layers,
        activation,
        weight_decay,
        output_reg,
        device,
        seed,
        dtype,
        lr_schedule,
    )
    settings.update(data="rankings", n=data.n, weighted=w is not None, unlisted_last=data.unlisted_last)
    task = _RankTask(data, settings["torch_dtype"], settings["torch_device"], torch)
    return _train("neural_pl", X, task, np.ones(m) if w is None else w, settings, torch)


def output_reg_for_lambda(lam, data, weights=None, pairs=None) -> float:
    """The ``output_reg`` at which :func:`neural_bt`'s loss has the minimiser of Eq. 1 / Eq. 2.

    contract Eq. 1 / Eq. 2 with sampled data is ``F(r) = -sum_{i != j} w_i w_j N_ij log s(r_i - r_j)
    + (lam/2) sum_i w_i r_i^2``. The neural loss is ``F_data / Z + (output_reg/2) sum_i w_i
    r_i^2`` with ``Z = sum_k w(a_k) w(b_k)`` over the comparisons (``Z = n`` unweighted), so
    ``Z * L = F`` exactly when ``output_reg = lam / Z``. For a preference matrix the items
    are the unordered pairs, ``Z = sum_{i<j} w_i w_j`` (``m(m-1)/2`` unweighted, all pairs).

    Parameters
    ----------
    lam : float
        Eq. 1 / Eq. 2's ``lambda >= 0``.
    data : Comparisons, (m, m) array or Rankings
        The training data passed to :func:`neural_bt` (or :func:`neural_pl`).
    weights : (m,) array, optional
        The weights passed to :func:`neural_bt` / :func:`neural_pl`.
    pairs : (k, 2) int array, optional
        The trained pairs of a matrix, as in :func:`neural_bt`.

    Examples
    --------
    >>> import numpy as np
    >>> from choicelab.sim import Comparisons
    >>> comps = Comparisons(np.array([0, 1, 0, 2]), np.array([1, 2, 2, 1]), np.array([0, 1, 2, 2]),
    ...                     np.full(4, -1))
    >>> output_reg_for_lambda(0.5, comps)            # lam / n: Eq. 1's regulariser at the mean loss's scale
    0.125
    """
    lam = _nonneg_float(lam, "lam", "output_reg_for_lambda")
    name = "output_reg_for_lambda"
    if isinstance(data, Rankings):
        if pairs is not None:
            raise ValueError(f"{name}: pairs is only for a preference matrix; got pairs with Rankings")
        m = int(data.m)
        return lam / _ranking_data(data, m, _check_weights(weights, m, name), name).z
    if isinstance(data, Comparisons):
        if len(data) == 0:
            raise ValueError(f"{name}: data has no comparisons")
        # m only sizes the weights check: their length, else the largest index mentioned
        m = np.shape(weights)[0] if np.ndim(weights) == 1 else int(max(data.a.max(), data.b.max())) + 1
    else:
        m = _check_matrix(data, name, "data").shape[0]
    w = _check_weights(weights, m, name)
    return lam / _pair_data(data, m, w, pairs, name, argname="data").z


def tabular_dpo(
    data, m, beta=0.1, lr=0.05, steps=20000, *, pairs=None, tol=1e-8, dtype="float64", device="cpu"
) -> FitResult:
    """DPO on a finite response set: softmax policy, uniform reference (contract X3, [XK]).

    The policy is ``pi = softmax(theta)`` over ``m`` responses, the reference policy is
    uniform (``pi_ref = 1/m``) and ``theta`` starts at 0 (``pi = pi_ref``). With
    ``h_i = log pi_i - log pi_ref_i`` the loss is the mean DPO loss over the items (the
    comparisons, or the unordered pairs of a matrix, exactly as in :func:`neural_bt`; the
    sum is taken per distinct pair, with its count and wins)::

        L(theta) = -(1/n) sum_k [q_k log s(beta (h_i_k - h_j_k))
                                 + (1 - q_k) log s(beta (h_j_k - h_i_k))]

    minimised by full-batch Adam until ``||grad L||_2 <= tol`` or ``steps`` steps. The
    implicit reward ``beta * log(pi / pi_ref)`` is returned; since ``beta (h_i - h_j) =
    beta (theta_i - theta_j)``, at the optimum its differences equal ``logit P_ij`` on the
    trained pairs when these form a forest (and the BT fit of the trained pairs otherwise).
    Unregularised: if some trained pair is decided unanimously the optimum is at infinity,
    and the result reports ``converged=False`` (with a ``RuntimeWarning``).

    Parameters
    ----------
    data : Comparisons or (m, m) array
    m : int
        Number of responses.
    beta : float
        DPO temperature, ``> 0``.
    lr, steps, tol : float, int, float
        Adam step size, maximum number of steps, gradient-norm tolerance.
    pairs : (k, 2) int array, optional
        Only with a matrix: the unordered pairs trained on (default all).
    dtype, device : as in :func:`neural_bt`

    Returns
    -------
    FitResult
        ``rewards`` (the implicit reward), ``converged``, ``iterations`` (steps taken),
        ``grad_norm`` and ``objective`` (the loss) at the result, and ``info`` with
        ``policy``, ``logits``, ``loss_curve``, ``beta``, ``lr`` and ``n``.
    """
    torch = _torch()
    name = "tabular_dpo"
    m = _positive_int(m, "m", name)
    if m < 2:
        raise ValueError(f"{name}: m must be at least 2, got {m}")
    beta = _positive_float(beta, "beta", name)
    lr = _positive_float(lr, "lr", name)
    steps = _positive_int(steps, "steps", name)
    tol = _nonneg_float(tol, "tol", name)
    tdtype = _torch_dtype(dtype, name, torch)
    tdevice = _torch_device(device, name, torch)
    items = _pair_data(data, m, None, pairs, name, argname="data")
    # full batch: the loss depends on the data only through each pair's count and wins, so
    # the n items collapse to one per distinct pair (the same sum, far fewer terms)
    lo, hi = np.minimum(items.i, items.j), np.maximum(items.i, items.j)
    keys, inverse = np.unique(lo * m + hi, return_inverse=True)
    count = np.bincount(inverse, weights=items.weight, minlength=keys.size)
    wins_lo = np.bincount(
        inverse, weights=items.weight * np.where(items.i == lo, items.q, 1.0 - items.q), minlength=keys.size
    )
    i = torch.as_tensor(keys // m, device=tdevice)
    j = torch.as_tensor(keys % m, device=tdevice)
    q = torch.as_tensor(wins_lo / count, dtype=tdtype, device=tdevice)
    mult = torch.as_tensor(count, dtype=tdtype, device=tdevice)

    logits = torch.zeros(m, dtype=tdtype, device=tdevice, requires_grad=True)
    opt = torch.optim.Adam([logits], lr=lr)
    logsig = _log_sigmoid()
    curve = []

    def loss_and_grad():
        opt.zero_grad(set_to_none=True)
        margin = beta * (logits[i] - logits[j])  # the log pi_ref terms cancel in a pair
        loss = -((q * logsig(margin) + (1 - q) * logsig(-margin)) * mult).sum() / items.n
        loss.backward()
        return float(loss.detach()), float(torch.linalg.vector_norm(logits.grad))

    taken = 0
    loss, gnorm = loss_and_grad()
    while gnorm > tol and taken < steps and np.isfinite(loss):
        curve.append(loss)
        opt.step()
        taken += 1
        loss, gnorm = loss_and_grad()
    curve.append(loss)
    converged = bool(gnorm <= tol and np.isfinite(loss))
    message = (
        f"gradient norm {gnorm:.3g} <= tol {tol:.3g} after {taken} steps"
        if converged
        else f"not converged: gradient norm {gnorm:.3g} > tol {tol:.3g} after {taken} of {steps} steps "
        "(a unanimously decided trained pair has its optimum at infinity; otherwise raise steps or lr)"
    )
    if not converged:
        warnings.warn(f"{name}: {message}", RuntimeWarning, stacklevel=2)
    theta = logits.detach().cpu().numpy().astype(np.float64)
    log_pi = theta - np.logaddexp.reduce(theta)
    rewards = beta * (log_pi + np.log(m))
    return FitResult(
        rewards=rewards,
        converged=converged,
        iterations=taken,
        grad_norm=gnorm,
        objective=loss,
        message=message,
        info={
            "policy": np.exp(log_pi),
            "logits": theta,
            "loss_curve": np.asarray(curve),
            "beta": beta,
            "lr": lr,
            "n": items.n,
            "data": items.kind,
        },
    )


# --------------------------------------------------------------------------- training
def _train(name, X, task, reg_w, settings, torch) -> NeuralFit:
    tdtype, tdevice = settings["torch_dtype"], settings["torch_device"]
    seed_ids, steps, output_reg = settings["seeds"], settings["steps"], settings["output_reg"]
    S, m = len(seed_ids), X.shape[0]
    gens = [torch.Generator().manual_seed(_seed_for(settings["seed"], s)) for s in seed_ids]
    sizes = [X.shape[1]] + [settings["hidden"]] * settings["layers"] + [1]
    params = _init_params(gens, sizes, tdtype, tdevice, torch)
    opt = _adam(params, settings["lr"], settings["weight_decay"], torch)
    act = _torch_activation(settings["activation"], torch)
    X_t = torch.as_tensor(X, dtype=tdtype, device=tdevice)
    reg_t = torch.as_tensor(reg_w, dtype=tdtype, device=tdevice)

    batch = settings["batch_size"]
    full_batch = batch is None or batch >= task.n
    eval_all = full_batch or output_reg > 0 or m <= task.slots * batch
    settings.update(
        sampling="full_batch" if full_batch else "epoch_shuffle", evaluation="all" if eval_all else "per_seed_distinct"
    )

    mask = _block_mask(S, settings["hidden"], tdtype, tdevice, torch) if len(params) > 2 else None

    def net(rows):
        """Rewards of every seed's network at X[rows] (all rows when None): (S, k)."""
        return _forward(params, X_t if rows is None else X_t[rows], act, mask, torch)

    def objective(items):
        if eval_all:
            R = net(None)
            loss = task.loss(R, items, None)
            if output_reg > 0:
                loss = loss + 0.5 * output_reg * (R.square() * reg_t).sum(dim=1)
            return loss
        # each seed's network on the distinct alternatives of its own batch, then gathered
        uniq, inverse = _per_seed_distinct(task.alternatives(items), torch)
        values = _forward_per_seed(params, X_t[uniq], act, torch)
        return task.loss(values, items, inverse)

    def set_lr(step):
        if settings["lr_schedule"] != "constant":
            for group in opt.param_groups:
                group["lr"] = _scheduled_lr(settings["lr"], settings["lr_schedule"], step, steps)

    curves = torch.empty((steps, S), dtype=tdtype, device=tdevice)
    if full_batch:
        for step in range(steps):
            set_lr(step)
            opt.zero_grad(set_to_none=True)
            loss = objective(task.full)
            loss.sum().backward()  # seeds share no parameters, so each gets its own gradient
            opt.step()
            curves[step] = loss.detach()
    else:
        streams = [_epoch_stream(task.n, g, torch) for g in gens]
        chunk = max(1, _INDEX_BUDGET // (S * batch))
        for start in range(0, steps, chunk):
            count = min(chunk, steps - start)
            drawn = torch.empty((S, count * batch), dtype=torch.long)
            for row, fill in zip(drawn, streams):
                fill(row)
            drawn = drawn.view(S, count, batch)
            drawn = drawn.to(tdevice).transpose(0, 1).contiguous()
            items_at = task.chunk(drawn if task.expand is None else _lookup(task.expand, drawn))
            for t in range(count):
                set_lr(start + t)
                opt.zero_grad(set_to_none=True)
                loss = objective(items_at(t))
                loss.sum().backward()
                opt.step()
                curves[start + t] = loss.detach()

    with torch.no_grad():
        # in row blocks: the hidden activations of all m alternatives need not fit at once
        R = torch.cat(
            [net(torch.arange(lo, min(lo + _ROW_BLOCK, m), device=tdevice)) for lo in range(0, m, _ROW_BLOCK)], dim=1
        )
        final = task.loss(R, task.full, None) + 0.5 * output_reg * (R.square() * reg_t).sum(dim=1)
    curves_np = curves.T.cpu().numpy().copy()
    final_np = final.cpu().numpy().copy()
    bad = [seed_ids[k] for k in range(S) if not (np.isfinite(curves_np[k]).all() and np.isfinite(final_np[k]))]
    if bad:
        warnings.warn(
            f"{name}: the loss became non-finite for seed ids {bad} (lower lr, or use float64)",
            RuntimeWarning,
            stacklevel=3,
        )
    out_params = _export_params(params)
    public = {k: v for k, v in settings.items() if not k.startswith("torch_")}
    public["init"] = "nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases"
    public["optimizer"] = "torch.optim.Adam (stacked over seeds)"
    return NeuralFit(
        params=out_params,
        activation=settings["activation"],
        loss_curves=curves_np,
        final_loss=final_np,
        seed_ids=tuple(seed_ids),
        X_train=X,
        settings=public,
    )


def _adam(params, lr, weight_decay, torch):
    """``torch.optim.Adam``, fused into one kernel per tensor where this torch supports it
    (same update formula, a fraction of the per-step cost on a handful of stacked tensors)."""
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError, ValueError):  # torch < 2.4 has no fused Adam on the CPU
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


def _scheduled_lr(lr, schedule, step, steps):
    """Step size of step ``step`` (0-based): constant, linear ``lr (1 - step/steps)`` or cosine
    ``lr (1 + cos(pi step/steps)) / 2``; both decays end near 0, which lets Adam settle at an optimum."""
    if schedule == "linear":
        return lr * (1.0 - step / steps)
    if schedule == "cosine":
        return lr * 0.5 * (1.0 + np.cos(np.pi * step / steps))
    return lr


def _init_params(gens, sizes, tdtype, tdevice, torch):
    """Stacked ``nn.Linear``-style initialisation, each seed from its own generator.

    Layout (seeds S, widths f): the first layer ``W (d, S, f1)``, ``b (S, f1)``, so all seeds'
    first layers are one ``(d, S f1)`` matrix; middle layers ``W (S, h, h)``, ``b (S, 1, h)``;
    the output layer (when there are hidden layers) ``W (S, h)``, ``b (S,)``.
    """
    drawn = []
    for g in gens:
        layers = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / np.sqrt(fan_in)
            W = torch.empty((fan_out, fan_in), dtype=tdtype).uniform_(-bound, bound, generator=g)
            b = torch.empty((fan_out,), dtype=tdtype).uniform_(-bound, bound, generator=g)
            layers.append((W.T, b))
        drawn.append(layers)
    n_layers = len(sizes) - 1
    params = []
    for k in range(n_layers):
        W = torch.stack([layers[k][0] for layers in drawn])  # (S, fan_in, fan_out)
        b = torch.stack([layers[k][1] for layers in drawn])  # (S, fan_out)
        if k == 0:
            W = W.permute(1, 0, 2)
        elif k == n_layers - 1:
            W, b = W[:, :, 0], b[:, 0]
        else:
            b = b[:, None, :]
        params += [W.contiguous().to(tdevice), b.contiguous().to(tdevice)]
    return [p.requires_grad_(True) for p in params]


def _forward(params, Xr, act, mask, torch):
    """Rewards ``(S, k)`` of the stacked networks at the rows ``Xr (k, d)``.

    The first layer of all seeds is one matrix product, the output layer one product with
    a block-diagonal matrix; only middle layers use a batched product. Small batched
    products and large elementwise products run as parallel regions, which stall for
    milliseconds when the cores are busy; plain matrix products of these sizes do not.
    """
    W0, b0 = params[0], params[1]
    d, S, f1 = W0.shape
    H = torch.addmm(b0.reshape(S * f1), Xr, W0.reshape(d, S * f1))  # (k, S f1)
    if len(params) == 2:
        return H.T
    H = act(H)
    if len(params) > 4:
        k = H.shape[0]
        H = H.view(k, S, f1).transpose(0, 1)  # (S, k, h)
        for depth in range(1, len(params) // 2 - 1):
            H = act(torch.baddbmm(params[2 * depth + 1], H, params[2 * depth]))
        H = H.transpose(0, 1).reshape(k, S * f1)
    W_out, b_out = params[-2], params[-1]
    return torch.addmm(b_out, H, W_out.reshape(S * f1, 1) * mask).T


def _forward_per_seed(params, Xs, act, torch):
    """Rewards ``(S, k)`` of seed ``s``'s network at the rows ``Xs[s] (k, d)``: batched products."""
    W0, b0 = params[0], params[1]
    H = torch.baddbmm(b0[:, None, :], Xs, W0.transpose(0, 1))  # (S, k, f1)
    if len(params) == 2:
        return H[..., 0]
    H = act(H)
    for depth in range(1, len(params) // 2 - 1):
        H = act(torch.baddbmm(params[2 * depth + 1], H, params[2 * depth]))
    W_out, b_out = params[-2], params[-1]
    return torch.baddbmm(b_out[:, None, None], H, W_out[:, :, None])[..., 0]


def _per_seed_distinct(idx, torch):
    """Per row of ``idx (S, k)``: its distinct values, padded to a common width with the row's
    smallest value, and the map from each entry to its column (batched, no loop over seeds)."""
    ordered, order = idx.sort(dim=1)
    new = torch.ones_like(ordered, dtype=torch.bool)
    new[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    rank = new.cumsum(dim=1) - 1
    width = int(rank[:, -1].max()) + 1
    distinct = ordered[:, :1].expand(-1, width).clone().scatter_(1, rank, ordered)
    inverse = torch.empty_like(idx).scatter_(1, order, rank)
    return distinct, inverse


def _block_mask(S, h, tdtype, tdevice, torch):
    """``(S h, S)`` 0/1 matrix with ones where row ``s h + j`` meets column ``s``."""
    return torch.repeat_interleave(torch.eye(S, dtype=tdtype, device=tdevice), h, dim=0)


def _export_params(params):
    """Internal layout -> NeuralFit.params: per layer ``W (S, fan_in, fan_out)``, ``b (S, fan_out)``."""
    arrays = [p.detach().cpu().numpy() for p in params]
    out = []
    for k in range(len(arrays) // 2):
        W, b = arrays[2 * k], arrays[2 * k + 1]
        if k == 0:
            W = W.transpose(1, 0, 2)
        elif k == len(arrays) // 2 - 1:
            W, b = W[:, :, None], b[:, None]
        else:
            b = b[:, 0, :]
        out.append((np.ascontiguousarray(W), np.ascontiguousarray(b)))
    return tuple(out)


def _epoch_stream(n, gen, torch):
    """``fill(out)`` writes the next ``len(out)`` indices of the seed's stream of permutations
    of ``0..n-1`` into the 1-D tensor ``out`` (permutations drawn straight into it)."""
    rest = [torch.empty(0, dtype=torch.long)]  # unused tail of the last permutation

    def fill(out):
        k = out.shape[0]
        done = min(k, rest[0].shape[0])
        out[:done] = rest[0][:done]
        rest[0] = rest[0][done:]
        while k - done >= n:
            torch.randperm(n, generator=gen, out=out[done : done + n])
            done += n
        if done < k:
            perm = torch.randperm(n, generator=gen)
            out[done:] = perm[: k - done]
            rest[0] = perm[k - done :]

    return fill


def _seed_for(base: int, s: int) -> int:
    """Seed of seed id ``s``'s torch.Generator (63 bits of a numpy SeedSequence)."""
    return int(np.random.SeedSequence([base, s]).generate_state(1, np.uint64)[0] >> np.uint64(1))


def _log_sigmoid():
    """Stable ``log s(x) = -log(1 + exp(-x)) = -softplus(-x)`` for torch tensors.

    torch's softplus returns its input above ``threshold`` and ``log1p(exp(.))`` below; at 40
    the neglected ``log1p(exp(-40)) ~ 4e-18`` is below float64 rounding and ``exp(40)``
    cannot overflow, so this equals ``torch.nn.functional.logsigmoid`` to rounding. It is
    used instead because aten's log_sigmoid kernel opens a parallel region on every call,
    which stalls for milliseconds on small tensors when the cores are busy (a shared machine).
    """
    softplus = _torch().nn.functional.softplus
    return lambda x: -softplus(-x, beta=1.0, threshold=40.0)


def _torch_activation(name, torch):
    F = torch.nn.functional
    return {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "gelu": F.gelu, "softplus": F.softplus}[name]


# --------------------------------------------------------------------------- training items
@dataclass(frozen=True, eq=False)
class _PairItems:
    """Distinct training items ``(i, j, q)`` with multiplicities ``weight`` and loss weights ``omega``."""

    kind: str
    i: np.ndarray
    j: np.ndarray
    q: np.ndarray
    omega: np.ndarray
    weight: np.ndarray  # multiplicity of each distinct item (1 for comparisons and pairs)
    n: int
    z: float  # sum over items of w(i) w(j) (n when unweighted): the Eq. 1 / Eq. 2 scale


@dataclass(frozen=True, eq=False)
class _RankItems:
    """Distinct strict rankings as padded index rows (see :func:`_ranking_data`)."""

    seq: np.ndarray  # (U, L) alternatives: listed best first, then the unlisted (top-k), then padding
    cand: np.ndarray  # (U, L) True where the entry takes part in the denominators
    stage: np.ndarray  # (U, L) True at the places that are choices
    omega: np.ndarray  # (U, L) normalised stage weights (1 where unweighted; 0 off the stages)
    weight: np.ndarray  # (U,) multiplicity
    n: int
    unlisted_last: bool
    z: float  # n * mean raw stage weight: the pl_mle objective scale


class _PairTask:
    """Bradley-Terry loss on pair items (contract §2); each item needs 2 alternatives."""

    def __init__(self, items: _PairItems, tdtype, tdevice, torch):
        self.torch, self.n, self.slots = torch, items.n, 2
        i = torch.as_tensor(items.i, device=tdevice)
        j = torch.as_tensor(items.j, device=tdevice)
        self.q = torch.as_tensor(items.q, dtype=tdtype, device=tdevice)
        self.omega = torch.as_tensor(items.omega, dtype=tdtype, device=tdevice)
        # the common cases (no ties, no weights) skip two products per step
        self.decided = bool(np.all(items.q == 1.0))
        self.unweighted = bool(np.all(items.omega == 1.0))
        self.expand = None  # every pair item has multiplicity 1: drawn indices are item indices
        # (i_k, j_k) interleaved, so a batch's pairs are one lookup and one gather
        self.ij = torch.stack([i, j], dim=1)  # (n, 2)
        self.full = {
            "ij": self.ij.reshape(1, -1),
            "q": self.q[None],
            "c": (self.omega * torch.as_tensor(items.weight, dtype=tdtype, device=tdevice))[None],
            "count": float(items.n),
        }

    def chunk(self, units):
        """Minibatch items of ``units`` (steps, S, B), gathered at once; returns step -> items."""
        ij = self.ij.index_select(0, units.reshape(-1)).view(units.shape[0], units.shape[1], -1)
        q = None if self.decided else _lookup(self.q, units)
        c = None if self.unweighted else _lookup(self.omega, units)
        count = float(units.shape[2])
        return lambda t: {
            "ij": ij[t],
            "q": None if q is None else q[t],
            "c": None if c is None else c[t],
            "count": count,
        }

    def alternatives(self, items):
        return items["ij"]

    def loss(self, R, items, inverse):
        """Per seed: ``sum_k c_k * -(q_k logsig(d_k) + (1 - q_k) logsig(-d_k)) / count``.

        ``R`` holds rewards of all alternatives (``inverse=None``) or of each seed's distinct
        batch alternatives, with ``inverse`` the slot -> column map.
        """
        # one gather for both sides (one scatter in the backward pass instead of two)
        both = _take(R, items["ij"]) if inverse is None else R.gather(1, inverse)
        pairs = both.view(both.shape[0], -1, 2)
        d = pairs[..., 0] - pairs[..., 1]
        logsig = _log_sigmoid()
        if self.decided:
            per_item = -logsig(d)
        else:
            q = items["q"]
            per_item = -(q * logsig(d) + (1 - q) * logsig(-d))
        if not self.unweighted:
            per_item = per_item * items["c"]
        return per_item.sum(dim=1) / items["count"]


class _RankTask:
    """Plackett-Luce loss on strict rankings (contract §2); each item needs ``L`` alternatives."""

    def __init__(self, items: _RankItems, tdtype, tdevice, torch):
        self.torch, self.n, self.slots = torch, items.n, items.seq.shape[1]
        self.seq = torch.as_tensor(items.seq, device=tdevice)
        self.cand = torch.as_tensor(items.cand, device=tdevice)
        self.omega = torch.as_tensor(items.omega, dtype=tdtype, device=tdevice)
        weight = torch.as_tensor(items.weight, dtype=tdtype, device=tdevice)
        self.expand = torch.repeat_interleave(
            torch.arange(len(items.weight), device=tdevice), torch.as_tensor(items.weight, device=tdevice)
        )
        self.full = {
            "seq": self.seq[None],
            "cand": self.cand[None],
            "omega": self.omega[None],
            "c": weight[None],
            "count": float(items.n),
        }

    def chunk(self, units):
        """Minibatch items of ``units`` (steps, S, B), looked up per step (rows are long)."""
        count = float(units.shape[2])
        return lambda t: {
            "seq": self.seq[units[t]],
            "cand": self.cand[units[t]],
            "omega": self.omega[units[t]],
            "c": None,
            "count": count,
        }

    def alternatives(self, items):
        return items["seq"].reshape(items["seq"].shape[0], -1)

    def loss(self, R, items, inverse):
        """Per seed: mean of ``-sum_t omega_t [r(pi_t) - logsumexp_{l in C_t} r(pi_l)]`` (contract §2)."""
        torch = self.torch
        seq = items["seq"]
        flat = _take(R, seq.reshape(seq.shape[0], -1)) if inverse is None else R.gather(1, inverse)
        r_seq = flat.reshape(flat.shape[0], seq.shape[1], seq.shape[2])
        # a finite fill far below every reward adds exactly 0 to the sums (exp underflows) and,
        # unlike -inf, keeps every term and the logcumsumexp gradient finite; places that are
        # no choice (padding, the last alternative) have omega = 0
        fill = r_seq.detach().amin() - 1000.0
        masked = torch.where(items["cand"], r_seq, fill)
        denom = torch.flip(torch.logcumsumexp(torch.flip(masked, [-1]), dim=-1), [-1])
        nll = -((r_seq - denom) * items["omega"]).sum(dim=-1)
        if items["c"] is not None:
            nll = nll * items["c"]
        return nll.sum(dim=1) / items["count"]


def _lookup(table, idx):
    """``table[idx]`` for a 1-D table (index_select is several times faster than indexing)."""
    return table.index_select(0, idx.reshape(-1)).view(idx.shape)


def _take(R, idx):
    """``R[s, idx[s]]`` for ``idx`` of shape (S, k), or ``R[:, idx[0]]`` when ``idx`` is shared (1, k)."""
    if idx.shape[0] == 1 and R.shape[0] != 1:
        return R[:, idx[0]]
    return R.gather(1, idx)


def _pair_data(data, m, w, pairs, name, argname="comps") -> _PairItems:
    """Training items of a Comparisons set or a preference matrix (see :func:`neural_bt`)."""
    if isinstance(data, Comparisons):
        if pairs is not None:
            raise ValueError(f"{name}: pairs is only for a preference matrix; got pairs with Comparisons")
        if len(data) == 0:
            raise ValueError(f"{name}: {argname} has no comparisons")
        top = int(max(data.a.max(), data.b.max()))
        if top >= m:
            raise ValueError(f"{name}: {argname} mentions alternative {top}, but there are only m={m} alternatives")
        tie = data.winner == -1
        i = np.where(tie, data.a, data.winner)
        j = np.where(tie, data.b, data.loser)
        q = np.where(tie, 0.5, 1.0)
        kind = "comparisons"
    elif isinstance(data, (np.ndarray, list, tuple)):
        P = _check_matrix(data, name, argname)
        if P.shape[0] != m:
            raise ValueError(f"{name}: {argname} has shape {P.shape}, expected ({m}, {m})")
        i, j = _check_pairs(pairs, m, name) if pairs is not None else np.triu_indices(m, k=1)
        q = P[i, j]
        kind = "matrix"
    else:
        raise TypeError(
            f"{name}: {argname} must be a choicelab.sim.Comparisons or an (m, m) preference "
            f"matrix, got {type(data).__name__}"
        )
    n = int(i.shape[0])
    prod = np.ones(n) if w is None else w[i] * w[j]
    z = float(prod.sum())
    if not z > 0:
        raise ValueError(f"{name}: every item has weight product w(i) w(j) = 0, so the weighted loss is empty")
    omega = np.ones(n) if np.all(prod == prod[0]) else prod / (z / n)
    return _PairItems(
        kind=kind,
        i=np.asarray(i, np.int64),
        j=np.asarray(j, np.int64),
        q=q.astype(float),
        omega=omega,
        weight=np.ones(n, dtype=np.int64),
        n=n,
        z=z if w is not None else float(n),
    )


def _ranking_data(rankings, m, w, name) -> _RankItems:
    """Padded rows of the strict rankings (Rankings itself checks indices, repeats and counts)."""
    if not isinstance(rankings, Rankings):
        raise TypeError(f"{name}: rankings must be a choicelab.sim.Rankings, got {type(rankings).__name__}")
    if int(rankings.m) != m:
        raise ValueError(f"{name}: rankings.m = {rankings.m}, but X has {m} rows")
    listed = []
    for k, order in enumerate(rankings.orders):
        for group in order:
            if len(group) != 1:
                raise ValueError(
                    f"{name}: rankings.orders[{k}] has the tied group {tuple(group)}; Plackett-Luce needs strict orders"
                )
        listed.append([int(group[0]) for group in order])
    unlisted_last = bool(rankings.unlisted_last)
    L = m if unlisted_last else max(1, max(len(items) for items in listed))
    U = len(listed)
    seq = np.zeros((U, L), dtype=np.int64)
    cand = np.zeros((U, L), dtype=bool)
    stage = np.zeros((U, L), dtype=bool)
    for u, items in enumerate(listed):
        row = items + (sorted(set(range(m)) - set(items)) if unlisted_last else [])
        seq[u, : len(row)] = row
        cand[u, : len(row)] = True
        # the last available alternative is no choice (its term is 0); top-k rankings choose k times
        stage[u, : min(len(items), len(row) - 1)] = True
    counts = np.asarray(rankings.counts, dtype=np.int64)
    n_stages = float((counts * stage.sum(axis=1)).sum())
    if n_stages == 0:
        raise ValueError(f"{name}: rankings hold no choice (every ranking lists at most one available alternative)")
    if w is None:
        omega, z = stage.astype(float), float(counts.sum())
    else:
        # pl_mle's stage weight: w(chosen) * mean of w over the other available alternatives
        wseq = np.where(cand, w[seq], 0.0)
        after = np.cumsum(wseq[:, ::-1], axis=1)[:, ::-1]  # sum of w over the places t.. (available ones)
        left = np.cumsum(cand[:, ::-1], axis=1)[:, ::-1]  # number of available alternatives from t on
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = np.where(stage, wseq * (after - wseq) / np.maximum(left - 1, 1), 0.0)
        mean_raw = float((counts[:, None] * raw).sum()) / n_stages
        if not mean_raw > 0:
            raise ValueError(f"{name}: every stage has weight 0, so the weighted loss is empty")
        on = raw[stage]
        omega = stage.astype(float) if np.all(on == on[0]) else raw / mean_raw
        z = float(counts.sum()) * mean_raw
    return _RankItems(
        seq=seq,
        cand=cand,
        stage=stage,
        omega=omega,
        weight=counts,
        n=int(counts.sum()),
        unlisted_last=unlisted_last,
        z=z,
    )


# --------------------------------------------------------------------------- validation
def _torch():
    # lazily: `import choicelab.estimators` must not import torch; without the neural extra one line says so
    from choicelab._extras import require

    return require("neural")


def _common_settings(
    name,
    X,
    hidden,
    lr,
    batch_size,
    steps,
    seeds,
    layers,
    activation,
    weight_decay,
    output_reg,
    device,
    seed,
    dtype,
    lr_schedule,
) -> dict:
    torch = _torch()
    if X.shape[0] < 2:
        raise ValueError(f"{name}: X needs at least 2 alternatives (rows), got shape {X.shape}")
    layers = _nonneg_int(layers, "layers", name)
    hidden = _positive_int(hidden, "hidden", name)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"{name}: activation must be one of {_ACTIVATIONS}, got {activation!r}")
    if batch_size is not None:
        batch_size = _positive_int(batch_size, "batch_size", name)
    if lr_schedule not in _SCHEDULES:
        raise ValueError(f"{name}: lr_schedule must be one of {_SCHEDULES}, got {lr_schedule!r}")
    return {
        "model": "mlp" if layers else "linear",
        "layers": layers,
        "hidden": hidden,
        "activation": activation,
        "lr": _positive_float(lr, "lr", name),
        "lr_schedule": lr_schedule,
        "batch_size": batch_size,
        "steps": _positive_int(steps, "steps", name),
        "seeds": _seed_ids(seeds, name),
        "weight_decay": _nonneg_float(weight_decay, "weight_decay", name),
        "output_reg": _nonneg_float(output_reg, "output_reg", name),
        "seed": _base_seed(seed, name),
        "m": int(X.shape[0]),
        "d": int(X.shape[1]),
        "device": str(_torch_device(device, name, torch)),
        "dtype": str(_torch_dtype(dtype, name, torch))[6:],
        "torch_device": _torch_device(device, name, torch),
        "torch_dtype": _torch_dtype(dtype, name, torch),
    }


def _as_points(X, name, d=None) -> np.ndarray:
    try:
        arr = np.array(X, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric (m, d) array, got {type(X).__name__}") from exc
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D (m, d) array, got shape {arr.shape}")
    if d is not None and arr.shape[1] != d:
        raise ValueError(f"{name} has {arr.shape[1]} columns, but the model was trained on d={d}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        r, c = bad[0]
        raise ValueError(f"{name}[{r}, {c}] = {arr[r, c]} is not finite")
    return arr


def _check_matrix(P, name, argname="P") -> np.ndarray:
    # the one preference-matrix rule of choicelab; a network needs at least one pair
    return check_preference_matrix(P, argname, who=name, min_m=2).astype(np.float64, copy=False)


def _check_pairs(pairs, m, name):
    arr = np.asarray(pairs)
    if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: pairs must be a non-empty (k, 2) integer array, got {pairs!r}")
    bad = np.flatnonzero((arr < 0).any(1) | (arr >= m).any(1) | (arr[:, 0] == arr[:, 1]))
    if bad.size:
        raise ValueError(
            f"{name}: pairs[{bad[0]}] = {tuple(arr[bad[0]].tolist())} is not a pair of distinct "
            f"alternatives in 0..{m - 1}"
        )
    key = np.sort(arr, axis=1)
    _, first = np.unique(key, axis=0, return_index=True)
    if first.size != arr.shape[0]:
        dup = sorted(set(range(arr.shape[0])) - set(first.tolist()))[0]
        raise ValueError(f"{name}: pairs[{dup}] = {tuple(arr[dup].tolist())} repeats an earlier pair")
    return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)


def _check_weights(weights, m, name):
    return None if weights is None else check_weights(weights, m, who=name)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _positive_int(value, arg, name) -> int:
    if not _is_int(value) or value < 1:
        raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
    return int(value)


def _nonneg_int(value, arg, name) -> int:
    if not _is_int(value) or value < 0:
        raise ValueError(f"{name}: {arg} must be a non-negative integer, got {value!r}")
    return int(value)


def _positive_float(value, arg, name) -> float:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name}: {arg} must be a positive finite number, got {value!r}")
    return float(value)


def _nonneg_float(value, arg, name) -> float:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, float, np.integer, np.floating))
        or not np.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name}: {arg} must be a non-negative finite number, got {value!r}")
    return float(value)


def _seed_ids(seeds, name) -> list:
    if _is_int(seeds):
        return list(range(_positive_int(seeds, "seeds", name)))
    try:
        ids = list(seeds)
    except TypeError:
        raise ValueError(f"{name}: seeds must be a positive integer or a sequence of seed ids, got {seeds!r}") from None
    if not ids or not all(_is_int(s) and s >= 0 for s in ids) or len(set(ids)) != len(ids):
        raise ValueError(
            f"{name}: seeds must be a positive integer or a non-empty sequence of distinct "
            f"non-negative integer seed ids, got {seeds!r}"
        )
    return [int(s) for s in ids]


def _base_seed(seed, name) -> int:
    # a Generator or None draws the base seed; an int >= 0 is the base seed (the one rng rule)
    return as_seed(seed, "seed", who=name)


def _torch_dtype(dtype, name, torch):
    table = {"float32": torch.float32, "float64": torch.float64}
    if isinstance(dtype, str) and dtype in table:
        return table[dtype]
    if dtype in (torch.float32, torch.float64):
        return dtype
    raise ValueError(f"{name}: dtype must be 'float32', 'float64' or the matching torch dtype, got {dtype!r}")


def _torch_device(device, name, torch):
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{name}: device {device!r} is not a torch device") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"{name}: device={device!r} was requested, but torch.cuda.is_available() is False (use device='cpu')"
        )
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{name}: device must be 'cpu' or a CUDA device, got {device!r}")
    return dev

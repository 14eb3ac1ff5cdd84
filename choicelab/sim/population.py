"""Annotator populations (contract §1): reward families, choice models, preference matrices, sampling.

Reward families are small frozen dataclasses, callable on a (k, d) array and returning (k,)
rewards, each with a ``lipschitz`` attribute: a Lipschitz constant w.r.t. the Euclidean norm
(valid globally or on the stated region) or ``None`` when none is known. Any plain callable
(k, d) -> (k,) is accepted as a reward too (``lipschitz`` unknown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtr, softmax

from choicelab._validation import check_weights
from choicelab.sim.data import Comparisons, Rankings
from choicelab.sim.regions import Ball, Box, _as_rng, region_from_dict, region_to_dict

CHOICE_MODELS = ("bt", "thurstone", "deterministic")
_SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------------------------------------
# validation helpers


def _vector(value, name: str) -> np.ndarray:
    try:
        v = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric array, got {value!r}") from None
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        k = int(np.flatnonzero(~np.isfinite(v))[0])
        raise ValueError(f"{name} must be finite, got {name}[{k}] = {v[k]}")
    return v


def _matrix(value, name: str) -> np.ndarray:
    try:
        M = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric (K, d) array, got {value!r}") from None
    if M.ndim != 2 or M.shape[0] == 0 or M.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D (K, d) array, got shape {M.shape}")
    if not np.all(np.isfinite(M)):
        i, j = np.argwhere(~np.isfinite(M))[0]
        raise ValueError(f"{name} must be finite, got {name}[{i}, {j}] = {M[i, j]}")
    return M


def _positive(value, name: str) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be positive and finite, got {value!r}")
    return v


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr, copy=True)
    arr.flags.writeable = False
    return arr


def _points(X, d: int, who: str) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"{who}: X must have shape (k, {d}), got {X.shape}")
    return X


def _sq_dists(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    """(k, K) squared distances from explicit differences.

    Not the ``|x|^2 - 2 x.c + |c|^2`` expansion: its cancellation error (relative to |x|^2)
    would swamp the tiny reward differences that the approximate-clone checks measure.
    """
    out = np.empty((X.shape[0], C.shape[0]))
    rows = max(1, 2**22 // max(1, C.size))  # ~32 MB of temporaries per chunk
    for s in range(0, X.shape[0], rows):
        diff = X[s : s + rows, None, :] - C[None, :, :]
        out[s : s + rows] = np.einsum("ikd,ikd->ik", diff, diff)
    return out


def _as_X(X, name: str = "X") -> np.ndarray:
    from choicelab.sim.alternatives import Alternatives

    if isinstance(X, Alternatives):
        return X.X
    try:
        X = np.asarray(X, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric (m, d) array or Alternatives, got {type(X).__name__}") from None
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D (m, d) array, got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        i, j = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} must be finite, got {name}[{i}, {j}] = {X[i, j]}")
    return X


# ---------------------------------------------------------------------------------------------
# reward families


@dataclass(frozen=True, eq=False)
class LinearReward:
    """``r(x) = theta . x`` (contract §1); ``lipschitz = ||theta||`` globally."""

    theta: np.ndarray

    def __post_init__(self):
        object.__setattr__(self, "theta", _frozen(_vector(self.theta, "theta")))

    @property
    def dim(self) -> int:
        return int(self.theta.shape[0])

    @property
    def lipschitz(self) -> float:
        return float(np.linalg.norm(self.theta))

    def __call__(self, X) -> np.ndarray:
        return _points(X, self.dim, "linear_reward") @ self.theta

    def to_dict(self) -> dict:
        return {"family": "linear", "theta": self.theta.tolist()}


def _max_distance(center: np.ndarray, region) -> float:
    if isinstance(region, Box):
        return float(np.linalg.norm(np.maximum(np.abs(center - region.lo), np.abs(center - region.hi))))
    return float(np.linalg.norm(center - region.center) + region.radius)


@dataclass(frozen=True, eq=False)
class IdealPointReward:
    """Spatial model ``r(x) = -||x - c||^2`` (contract §1).

    The gradient is ``-2 (x - c)``, so on a convex region S ``lipschitz = 2 max_{x in S}
    ||x - c||``; without a region the reward is not Lipschitz and ``lipschitz`` is None.
    """

    center: np.ndarray
    region: object = None

    def __post_init__(self):
        object.__setattr__(self, "center", _frozen(_vector(self.center, "center")))
        if self.region is not None:
            if not isinstance(self.region, (Box, Ball)):
                raise TypeError(f"region must be a Box, a Ball or None, got {type(self.region).__name__}")
            if self.region.dim != self.dim:
                raise ValueError(f"region has dimension {self.region.dim}, but center has {self.dim}")

    @property
    def dim(self) -> int:
        return int(self.center.shape[0])

    @property
    def lipschitz(self) -> float | None:
        return None if self.region is None else 2.0 * _max_distance(self.center, self.region)

    def __call__(self, X) -> np.ndarray:
        diff = _points(X, self.dim, "ideal_point_reward") - self.center
        return -np.einsum("ij,ij->i", diff, diff)

    def to_dict(self) -> dict:
        return {
            "family": "ideal_point",
            "center": self.center.tolist(),
            "region": None if self.region is None else region_to_dict(self.region),
        }


@dataclass(frozen=True, eq=False)
class TopicTableReward:
    """Topic table ``r(x) = sum_k U_k softmax_k(-||x - c_k||^2 / tau)`` (contract §1).

    ``lipschitz = (max U - min U) diam({c_k}) / (2 tau)``, valid on all of R^d. Derivation:
    with ``p = softmax(s)``, ``s_k = -||x - c_k||^2 / tau`` and ``Ubar = sum_k p_k U_k``,
    ``grad r = sum_k p_k (U_k - Ubar) grad s_k = (2 / tau) sum_k p_k (U_k - Ubar) (c_k - x)``;
    the ``x`` term drops out because ``sum_k p_k (U_k - Ubar) = 0``. For a unit vector v,
    ``v . grad r = (2 / tau) Cov_p(U, v . c) <= (2 / tau) sd_p(U) sd_p(v . c)``, and a variable
    confined to an interval of length D has standard deviation at most D / 2.
    """

    centers: np.ndarray
    utilities: np.ndarray
    tau: float

    def __post_init__(self):
        C = _matrix(self.centers, "centers")
        U = _vector(self.utilities, "utilities")
        if U.shape[0] != C.shape[0]:
            raise ValueError(f"utilities has {U.shape[0]} entries but there are {C.shape[0]} centers")
        object.__setattr__(self, "centers", _frozen(C))
        object.__setattr__(self, "utilities", _frozen(U))
        object.__setattr__(self, "tau", _positive(self.tau, "tau"))

    @property
    def dim(self) -> int:
        return int(self.centers.shape[1])

    @property
    def lipschitz(self) -> float:
        diam = float(np.sqrt(np.max(_sq_dists(self.centers, self.centers))))
        return float((self.utilities.max() - self.utilities.min()) * diam / (2.0 * self.tau))

    def __call__(self, X) -> np.ndarray:
        X = _points(X, self.dim, "topic_table_reward")
        return softmax(-_sq_dists(X, self.centers) / self.tau, axis=1) @ self.utilities

    def to_dict(self) -> dict:
        return {
            "family": "topic_table",
            "centers": self.centers.tolist(),
            "utilities": self.utilities.tolist(),
            "tau": self.tau,
        }


@dataclass(frozen=True, eq=False)
class RbfMixtureReward:
    """RBF mixture ``r(x) = sum_k w_k exp(-||x - c_k||^2 / (2 h_k^2))`` (contract §1).

    ``lipschitz = sum_k |w_k| / (h_k sqrt(e))`` globally: one bump's gradient has norm
    ``(||x - c|| / h^2) exp(-||x - c||^2 / (2 h^2))``, largest at ``||x - c|| = h``.
    """

    centers: np.ndarray
    weights: np.ndarray
    bandwidth: np.ndarray

    def __post_init__(self):
        C = _matrix(self.centers, "centers")
        w = _vector(self.weights, "weights")
        if w.shape[0] != C.shape[0]:
            raise ValueError(f"weights has {w.shape[0]} entries but there are {C.shape[0]} centers")
        h = np.asarray(self.bandwidth, dtype=float)
        h = np.full(C.shape[0], float(h)) if h.ndim == 0 else h
        if h.shape != (C.shape[0],):
            raise ValueError(
                f"bandwidth must be a float or have one entry per center ({C.shape[0]}), got shape {h.shape}"
            )
        bad = np.flatnonzero(~np.isfinite(h) | (h <= 0))
        if bad.size:
            raise ValueError(f"bandwidth must be positive and finite, got {h[bad[0]]} (center {bad[0]})")
        object.__setattr__(self, "centers", _frozen(C))
        object.__setattr__(self, "weights", _frozen(w))
        object.__setattr__(self, "bandwidth", _frozen(h))

    @property
    def dim(self) -> int:
        return int(self.centers.shape[1])

    @property
    def lipschitz(self) -> float:
        return float(np.sum(np.abs(self.weights) / self.bandwidth) / math.sqrt(math.e))

    def __call__(self, X) -> np.ndarray:
        X = _points(X, self.dim, "rbf_mixture_reward")
        return np.exp(-_sq_dists(X, self.centers) / (2.0 * self.bandwidth**2)) @ self.weights

    def to_dict(self) -> dict:
        return {
            "family": "rbf_mixture",
            "centers": self.centers.tolist(),
            "weights": self.weights.tolist(),
            "bandwidth": self.bandwidth.tolist(),
        }


def _row_keys(X: np.ndarray) -> list[bytes]:
    # +0.0 maps -0.0 to 0.0, so the two spellings of the same point share a key
    return [row.tobytes() for row in np.ascontiguousarray(X + 0.0)]


@dataclass(frozen=True, eq=False)
class ExplicitReward:
    """Explicit reward values on a finite set of points (contract §1, "explicit values on M").

    A call looks each query row up exactly among the rows of ``X_ref``: exact copies of a
    reference row (exact clones) get its value; any other point raises ValueError.
    ``lipschitz`` is None, since the reward is undefined between the reference points.
    """

    X_ref: np.ndarray
    values: np.ndarray

    def __post_init__(self):
        X = _matrix(self.X_ref, "X_ref")
        v = _vector(self.values, "values")
        if v.shape[0] != X.shape[0]:
            raise ValueError(f"values has {v.shape[0]} entries but X_ref has {X.shape[0]} rows")
        table: dict[bytes, float] = {}
        for i, key in enumerate(_row_keys(X)):
            if key in table and table[key] != v[i]:
                raise ValueError(
                    f"X_ref row {i} repeats an earlier row with a different value ({v[i]} vs {table[key]})"
                )
            table[key] = float(v[i])
        object.__setattr__(self, "X_ref", _frozen(X))
        object.__setattr__(self, "values", _frozen(v))
        object.__setattr__(self, "_table", table)

    lipschitz = None

    @property
    def dim(self) -> int:
        return int(self.X_ref.shape[1])

    def __call__(self, X) -> np.ndarray:
        X = _points(X, self.dim, "explicit_reward")
        out = np.empty(X.shape[0])
        for i, key in enumerate(_row_keys(X)):
            try:
                out[i] = self._table[key]
            except KeyError:
                raise ValueError(
                    f"explicit_reward: point X[{i}] = {X[i].tolist()} is not a row of X_ref; an explicit "
                    "reward is defined only on its reference points (and exact copies of them)"
                ) from None
        return out

    def to_dict(self) -> dict:
        return {"family": "explicit", "X_ref": self.X_ref.tolist(), "values": self.values.tolist()}


def linear_reward(theta) -> LinearReward:
    """Linear reward ``r(x) = theta . x`` (contract §1); ``lipschitz = ||theta||``.

    >>> float(linear_reward([1.0, 2.0])([[1.0, 1.0]])[0])
    3.0
    """
    return LinearReward(theta)


def ideal_point_reward(center, region=None) -> IdealPointReward:
    """Spatial reward ``r(x) = -||x - center||^2`` (contract §1).

    ``lipschitz = 2 max_{x in region} ||x - center||`` when ``region`` is given, else None.
    """
    return IdealPointReward(center, region)


def topic_table_reward(centers, utilities, tau) -> TopicTableReward:
    """Topic table ``r(x) = sum_k U_k softmax_k(-||x - c_k||^2 / tau)`` (contract §1).

    ``utilities`` is one type's row ``U[t, :]`` (K,). ``lipschitz = (max U - min U) *
    diam(centers) / (2 tau)``, valid globally (derivation in :class:`TopicTableReward`).
    """
    return TopicTableReward(centers, utilities, tau)


def rbf_mixture_reward(centers, weights, bandwidth) -> RbfMixtureReward:
    """RBF mixture ``r(x) = sum_k w_k exp(-||x - c_k||^2 / (2 h_k^2))`` (contract §1).

    ``bandwidth`` is h, a float or one per centre; ``lipschitz = sum_k |w_k| / (h_k sqrt(e))``.
    """
    return RbfMixtureReward(centers, weights, bandwidth)


def explicit_reward(X_ref, values) -> ExplicitReward:
    """Explicit values on the rows of ``X_ref`` (contract §1): exact row lookup, no interpolation.

    >>> r = explicit_reward([[0.0], [1.0]], [5.0, -1.0])
    >>> r([[1.0], [0.0], [1.0]]).tolist()
    [-1.0, 5.0, -1.0]
    """
    return ExplicitReward(X_ref, values)


_BUILTIN_REWARDS = (LinearReward, IdealPointReward, TopicTableReward, RbfMixtureReward, ExplicitReward)


def reward_from_dict(desc: dict):
    """Inverse of the reward families' ``to_dict``."""
    if not isinstance(desc, dict) or "family" not in desc:
        raise ValueError(f"reward description must be a dict with a 'family' key, got {desc!r}")
    family = desc["family"]
    if family == "linear":
        return LinearReward(desc["theta"])
    if family == "ideal_point":
        region = None if desc.get("region") is None else region_from_dict(desc["region"])
        return IdealPointReward(desc["center"], region)
    if family == "topic_table":
        return TopicTableReward(desc["centers"], desc["utilities"], desc["tau"])
    if family == "rbf_mixture":
        return RbfMixtureReward(desc["centers"], desc["weights"], desc["bandwidth"])
    if family == "explicit":
        return ExplicitReward(desc["X_ref"], desc["values"])
    raise ValueError(
        f"unknown reward family {family!r}; known: explicit, ideal_point, linear, rbf_mixture, topic_table"
    )


# ---------------------------------------------------------------------------------------------
# choice models


def _choice_prob(z: np.ndarray, choice: str, beta: float, out: np.ndarray | None = None) -> np.ndarray:
    """P(x > y) as a function of ``z = r(x) - r(y)`` (contract §1, Choice models)."""
    if out is None:
        out = np.empty_like(z, dtype=float)
    if choice == "bt":
        np.multiply(z, beta, out=out)
        return expit(out, out=out)
    if choice == "thurstone":
        np.multiply(z, beta / _SQRT2, out=out)
        return ndtr(out, out=out)
    np.sign(z, out=out)  # deterministic: 1, 0, and 1/2 on exact ties
    out += 1.0
    out *= 0.5
    return out


def _antisymmetrise(Q: np.ndarray, tile: int = 256) -> np.ndarray:
    """Impose ``P + P^T = 1`` and ``P_ii = 1/2`` on a matrix of per-entry choice probabilities.

    Of each pair (Q_ij, Q_ji) the smaller entry is kept, as computed, and the larger becomes
    ``1 - smaller``: the small probabilities keep full relative precision (their logits stay
    meaningful, which the sensitivity checks X1-X3 need), and ``P_ij + P_ji = 1`` to rounding.
    Exactly equal pairs (exact clones) get exactly 1/2. Works on square tiles so that the
    transposed reads stay in cache.
    """
    m = Q.shape[0]
    P = np.empty_like(Q)
    for s in range(0, m, tile):
        for u in range(s, m, tile):
            A, Bt = Q[s : s + tile, u : u + tile], Q[u : u + tile, s : s + tile].T
            keep, tie = A < Bt, A == Bt
            upper = np.where(keep, A, 1.0 - Bt)
            # Q_ij == Q_ji forces both to be 1/2 (they sum to 1); exact 1/2 keeps clones symmetric
            upper[tie] = 0.5
            P[s : s + tile, u : u + tile] = upper
            if u != s:
                # not 1 - upper: that would round the directly computed small entries twice
                lower = np.where(keep, 1.0 - A, Bt)
                lower[tie] = 0.5
                P[u : u + tile, s : s + tile] = lower.T
    np.fill_diagonal(P, 0.5)
    return P


# ---------------------------------------------------------------------------------------------
# population


@dataclass(frozen=True, eq=False)
class AnnotatorType:
    """One annotator type t: its population share ``alpha_t > 0`` and reward ``r_t`` (contract §1).

    ``reward`` is a built-in family or any callable (k, d) array -> (k,) array.
    """

    share: float
    reward: object

    def __post_init__(self):
        object.__setattr__(self, "share", _positive(self.share, "share"))
        if not callable(self.reward):
            raise TypeError(f"reward must be callable (k, d) -> (k,), got {type(self.reward).__name__}")

    @property
    def lipschitz(self) -> float | None:
        value = getattr(self.reward, "lipschitz", None)
        return None if value is None else float(value)


@dataclass(frozen=True, eq=False)
class Population:
    """A population of annotator types with a choice model (contract §1).

    Type t answers "x or y?" with probability ``P_t(x > y) = F(r_t(x) - r_t(y))``, where

    - ``choice="bt"`` (Bradley-Terry): ``F(z) = sigma(beta z)``;
    - ``choice="thurstone"``: ``F(z) = Phi(beta z / sqrt 2)`` (beta scales it the same way; the
      the contract formula is beta = 1);
    - ``choice="deterministic"``: ``F(z) = 1, 0, 1/2`` for ``z > 0, < 0, = 0`` (beta is irrelevant).

    The population preference matrix is ``P_ij = sum_t alpha_t P_t(x_i > x_j)`` with
    ``P_ii = 1/2`` and ``P_ij + P_ji = 1``.

    Parameters
    ----------
    types : sequence of AnnotatorType
        Shares must be positive and sum to 1 within 1e-9 (they are not normalised for you).
    choice : {"bt", "thurstone", "deterministic"}
    beta : float > 0
        Rationality (inverse temperature).

    Examples
    --------
    >>> pop = Population([AnnotatorType(0.5, linear_reward([1.0])), AnnotatorType(0.5, linear_reward([-1.0]))])
    >>> pop.preference_matrix([[0.0], [2.0]]).tolist()
    [[0.5, 0.5], [0.5, 0.5]]
    """

    types: tuple
    choice: str = "bt"
    beta: float = 1.0

    def __post_init__(self):
        if isinstance(self.types, AnnotatorType):
            raise TypeError("types must be a sequence of AnnotatorType, got a single AnnotatorType")
        types = tuple(self.types)
        if not types:
            raise ValueError("types must hold at least one AnnotatorType, got none")
        for t, typ in enumerate(types):
            if not isinstance(typ, AnnotatorType):
                raise TypeError(f"types[{t}] must be an AnnotatorType, got {type(typ).__name__}")
        # each share is already positive (AnnotatorType); the sum follows the one weights rule
        check_weights([typ.share for typ in types], len(types), "shares")
        if self.choice not in CHOICE_MODELS:
            raise ValueError(f"choice must be one of {CHOICE_MODELS}, got {self.choice!r}")
        object.__setattr__(self, "types", types)
        object.__setattr__(self, "beta", _positive(self.beta, "beta"))

    # --- basic properties -------------------------------------------------------------------

    @property
    def T(self) -> int:
        """Number of annotator types."""
        return len(self.types)

    @property
    def shares(self) -> np.ndarray:
        """(T,) shares alpha_t."""
        return np.array([typ.share for typ in self.types])

    @property
    def lipschitz(self) -> float | None:
        """``L = max_t L_t`` when every type's reward has a known constant, else None."""
        values = [typ.lipschitz for typ in self.types]
        return None if any(v is None for v in values) else float(max(values))

    @property
    def lipschitz_bound(self) -> float | None:
        """Constant K with ``|P(x' > z) - P(x > z)| <= K ||x - x'||`` (contract §1, Lipschitz).

        BT: ``K = beta L / 4`` (sigma' <= 1/4); Thurstone: ``K = beta L / (2 sqrt(pi))``
        (the derivative of ``Phi(beta z / sqrt 2)`` is at most ``beta / (sqrt 2 sqrt(2 pi))``);
        deterministic: None (not continuous). None as well when some type's L is unknown.
        """
        L = self.lipschitz
        if L is None or self.choice == "deterministic":
            return None
        if self.choice == "bt":
            return self.beta * L / 4.0
        return self.beta * L / (2.0 * math.sqrt(math.pi))

    # --- rewards and matrices ---------------------------------------------------------------

    def rewards(self, X) -> np.ndarray:
        """(T, m) rewards ``r_t(x_i)``.

        Each reward is evaluated once per distinct row of X and copied to duplicates, so exact
        clones get bit-identical rewards (hence identical rows and columns of P) whatever the
        reward implementation does internally.
        """
        X = _as_X(X)
        unique, inverse = np.unique(X + 0.0, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        R = np.empty((self.T, X.shape[0]))
        for t, typ in enumerate(self.types):
            dim = getattr(typ.reward, "dim", None)
            if dim is not None and dim != X.shape[1]:
                raise ValueError(f"types[{t}].reward expects points of dimension {dim}, but X has d={X.shape[1]}")
            r = np.asarray(typ.reward(unique), dtype=float)
            if r.shape != (unique.shape[0],):
                raise ValueError(
                    f"types[{t}].reward returned shape {r.shape} for {unique.shape[0]} points; "
                    f"expected ({unique.shape[0]},)"
                )
            if not np.all(np.isfinite(r)):
                k = int(np.flatnonzero(~np.isfinite(r))[0])
                raise ValueError(f"types[{t}].reward returned a non-finite value {r[k]} at x = {unique[k].tolist()}")
            R[t] = r[inverse]
        return R

    def type_matrices(self, X) -> np.ndarray:
        """(T, m, m) per-type matrices ``P_t[i, j] = P_t(x_i > x_j)`` (contract §1)."""
        R = self.rewards(X)
        m = R.shape[1]
        out = np.empty((self.T, m, m))
        for t in range(self.T):
            Q = _choice_prob(np.subtract.outer(R[t], R[t]), self.choice, self.beta)
            out[t] = _antisymmetrise(Q)
        return out

    def preference_matrix(self, X) -> np.ndarray:
        """Population matrix ``P_ij = sum_t alpha_t P_t(x_i > x_j)`` (contract §1), shape (m, m).

        Vectorised over pairs (a loop over the T types only). ``P_ii = 1/2`` exactly and
        ``P_ij + P_ji = 1`` to rounding; of each pair the smaller probability is computed
        directly (full relative precision) and the larger is ``1 -`` it.
        """
        R = self.rewards(X)
        m = R.shape[1]
        Q = np.zeros((m, m))
        # blocks of rows (~512 KB) keep the per-type temporaries in cache
        rows = max(1, 2**16 // m)
        buf = np.empty((rows, m))
        shares = self.shares
        for s in range(0, m, rows):
            b = buf[: min(rows, m - s)]
            for t, alpha in enumerate(shares):
                np.subtract.outer(R[t, s : s + rows], R[t], out=b)
                _choice_prob(b, self.choice, self.beta, out=b)
                b *= alpha
                Q[s : s + rows] += b
        return _antisymmetrise(Q)

    # --- sampling -----------------------------------------------------------------------------

    def _draw_types(self, n: int, rng) -> np.ndarray:
        return rng.choice(self.T, size=n, p=self.shares)

    def sample_comparisons(self, X, n: int, rng=None, design="uniform") -> Comparisons:
        """Draw ``n`` pairwise comparisons (contract §1, Data (b)).

        For each comparison: a pair (a, b) from ``design``, a type t with probability alpha_t,
        and ``winner = a`` with probability ``P_t(x_a > x_b)``, else ``b``. Under the
        deterministic model an exact reward tie is recorded as a tie (``winner = -1``, which
        counts 1/2 to each side). ``annotator`` holds the type index t.

        Parameters
        ----------
        X : (m, d) array or Alternatives
        n : int >= 0
        rng : numpy.random.Generator, int seed or None
        design : "uniform", (m,) probability vector, or (n, 2) int array
            ``"uniform"``: an unordered pair of distinct alternatives uniformly at random (in
            random order). A probability vector q (nonnegative, summing to 1 within 1e-9, at
            least two positive entries): ``P(a = i, b = j) ∝ q_i q_j`` for ``i != j``, i.e. two
            independent draws from q conditioned on being distinct (sampled exactly, not by
            rejection). An (n, 2) array: these pairs, in this order.

        Examples
        --------
        >>> pop = Population([AnnotatorType(1.0, linear_reward([1.0]))])
        >>> len(pop.sample_comparisons([[0.0], [1.0], [2.0]], 5, rng=0))
        5
        """
        X = _as_X(X)
        m = X.shape[0]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        n = int(n)
        rng = _as_rng(rng)
        a, b = _draw_pairs(design, m, n, rng)
        t = self._draw_types(n, rng)
        R = self.rewards(X)
        p = _choice_prob(R[t, a] - R[t, b], self.choice, self.beta)
        u = rng.random(n)
        winner = np.where(u < p, a, b)
        if self.choice == "deterministic":
            winner = np.where(p == 0.5, -1, winner)
        return Comparisons(a, b, winner, t.astype(np.int64))

    def sample_rankings(self, X, n: int, k: int | None = None, rng=None) -> Rankings:
        """Draw ``n`` rankings, full or top-k (contract §1, Data (c)); identical orders are merged.

        Each ranking comes from one type t (drawn with probability alpha_t) and is the
        descending order of the noisy utilities ``beta r_t(x_i) + e_i``, with:

        - ``bt``: e_i iid standard Gumbel, i.e. Plackett-Luce with strengths ``exp(beta r_t)``
          (Gumbel-max trick). Consistent with the BT choice model: since ``e_j - e_i`` is
          standard logistic, ``P(x_i before x_j) = sigma(beta (r_i - r_j))`` exactly.
        - ``thurstone``: e_i iid N(0, 1) (Thurstone case V). Consistent with the Thurstone
          choice model: ``P(x_i before x_j) = Phi(beta (r_i - r_j) / sqrt 2)``.
        - ``deterministic``: no noise; alternatives with exactly equal rewards form one tied
          group, so the pairwise marginals are 1, 0 and 1/2 on ties.

        So for every choice model, ``Rankings.pairwise_counts() / n`` estimates the mixture
        ``P`` of :meth:`preference_matrix`.

        Parameters
        ----------
        k : int in [1, m] or None
            None: full rankings (``unlisted_last=False``). Otherwise top-k rankings with
            ``unlisted_last=True``; under ``deterministic`` a tied group that straddles
            position k is kept whole, so an order may list more than k alternatives.
        """
        X = _as_X(X)
        m = X.shape[0]
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        n = int(n)
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= m):
            raise ValueError(f"k must be None or an integer in [1, {m}], got {k!r}")
        rng = _as_rng(rng)
        t = self._draw_types(n, rng)
        R = self.rewards(X)
        merged: dict[tuple, int] = {}
        if self.choice == "deterministic":
            for tt, c in zip(*np.unique(t, return_counts=True)):
                order = _tied_order(R[tt], k)
                merged[order] = merged.get(order, 0) + int(c)
        else:
            noise = rng.gumbel(size=(n, m)) if self.choice == "bt" else rng.standard_normal((n, m))
            ranks = np.argsort(-(self.beta * R[t] + noise), axis=1, kind="stable")
            if k is not None:
                ranks = ranks[:, :k]
            for row in ranks.tolist():
                order = tuple((i,) for i in row)
                merged[order] = merged.get(order, 0) + 1
        return Rankings(
            orders=tuple(merged.keys()),
            counts=np.fromiter(merged.values(), dtype=np.int64, count=len(merged)),
            m=m,
            unlisted_last=k is not None and k < m,
        )

    # --- serialisation -----------------------------------------------------------------------

    @property
    def serialisable(self) -> bool:
        """True when every reward is a built-in family (so :meth:`to_dict` round-trips)."""
        return all(isinstance(typ.reward, _BUILTIN_REWARDS) for typ in self.types)

    def to_dict(self) -> dict:
        """JSON-serialisable description; raises TypeError for rewards that are plain callables."""
        if not self.serialisable:
            bad = next(t for t, typ in enumerate(self.types) if not isinstance(typ.reward, _BUILTIN_REWARDS))
            raise TypeError(
                f"types[{bad}].reward is a plain callable ({type(self.types[bad].reward).__name__}); "
                "only the built-in reward families can be serialised"
            )
        return {
            "choice": self.choice,
            "beta": self.beta,
            "types": [{"share": typ.share, "reward": typ.reward.to_dict()} for typ in self.types],
        }

    @classmethod
    def from_dict(cls, desc: dict) -> Population:
        """Inverse of :meth:`to_dict`."""
        try:
            types = [AnnotatorType(t["share"], reward_from_dict(t["reward"])) for t in desc["types"]]
            return cls(types, choice=desc["choice"], beta=desc["beta"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a population description ({exc!r}): {desc!r}") from None


def _draw_pairs(design, m: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(design, str):
        if design != "uniform":
            raise ValueError(f"design must be 'uniform', a probability vector or an (n, 2) pair array, got {design!r}")
        if m < 2:
            raise ValueError(f"sampling comparisons needs at least 2 alternatives, got m={m}")
        a = rng.integers(m, size=n)
        b = rng.integers(m - 1, size=n)
        b = b + (b >= a)  # uniform over ordered pairs of distinct alternatives
        return a, b
    arr = np.asarray(design)
    if arr.ndim == 2:
        if arr.shape != (n, 2):
            raise ValueError(f"design pair array must have shape (n, 2) = ({n}, 2), got {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"design pair array must hold integers, got dtype {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = np.flatnonzero(np.any((arr < 0) | (arr >= m), axis=1) | (arr[:, 0] == arr[:, 1]))
        if bad.size:
            k = int(bad[0])
            raise ValueError(f"design[{k}] = {arr[k].tolist()} must be two distinct indices in [0, {m})")
        return arr[:, 0].copy(), arr[:, 1].copy()
    q = check_weights(design, m, "design")  # a probability vector: the one weights rule
    if np.count_nonzero(q) < 2:
        raise ValueError(f"design needs at least two alternatives with positive probability, got {np.count_nonzero(q)}")
    # exact sampler for P(a=i, b=j) ∝ q_i q_j (i != j): a from its marginal q_a (1 - q_a), then
    # b from q with a's mass cut out of the cumulative distribution
    pa = np.cumsum(q * (1.0 - q))
    a = np.minimum(np.searchsorted(pa, rng.random(n) * pa[-1], side="right"), m - 1)
    cq = np.cumsum(q)
    v = rng.random(n) * (cq[-1] - q[a])
    before = cq[a] - q[a]
    b = np.minimum(np.searchsorted(cq, np.where(v < before, v, v + q[a]), side="right"), m - 1)
    # rounding at cumulative boundaries can land on a or on a zero-probability entry (rare)
    bad = np.flatnonzero((b == a) | (q[b] == 0))
    while bad.size:
        redraw = rng.choice(m, size=bad.size, p=q / q.sum())
        b[bad] = redraw
        bad = bad[(b[bad] == a[bad])]
    return a, b


def _tied_order(r: np.ndarray, k: int | None) -> tuple:
    """Best-first groups of exactly equal rewards; truncated to whole groups covering >= k."""
    order = np.argsort(-r, kind="stable")
    groups, current = [], [int(order[0])]
    for i in order[1:].tolist():
        if r[i] == r[current[0]]:
            current.append(i)
        else:
            groups.append(tuple(sorted(current)))
            current = [i]
    groups.append(tuple(sorted(current)))
    if k is not None:
        kept, listed = [], 0
        for g in groups:
            if listed >= k:
                break
            kept.append(g)
            listed += len(g)
        groups = kept
    return tuple(groups)


def sample_coupled_comparisons(population: Population, Xs, n: int, rng=None) -> list:
    """Draw ``n`` comparisons for each of several nested alternative sets, maximally coupled.

    ``Xs`` lists point sets of which every one is a prefix of the largest (originals first,
    extra alternatives appended). Each comparison slot k draws, on the largest set D, a pair
    (a_k, b_k) uniformly (the ``uniform`` design of :meth:`Population.sample_comparisons`), a
    type t_k from alpha and a uniform u_k; the outcome is ``a_k`` when ``u_k < P_t(x_a > x_b)``.
    A smaller set C (its first ``m_C`` points equal D's) reuses the slot unchanged when both
    items are among its points, so their comparison is identical in both; otherwise it draws
    its own uniform pair of its own points and decides it with the same t_k and u_k. Each
    condition's data is then marginally a draw of :meth:`Population.sample_comparisons`, and the
    conditions agree on as many slots as any coupling allows.

    Returns
    -------
    list of Comparisons, one per entry of ``Xs``.

    Examples
    --------
    >>> pop = Population([AnnotatorType(1.0, linear_reward([1.0]))])
    >>> small, big = sample_coupled_comparisons(pop, [[[0.0], [1.0]], [[0.0], [1.0], [1.0]]], 50, rng=0)
    >>> shared = (big.a < 2) & (big.b < 2)
    >>> bool((small.a[shared] == big.a[shared]).all() and (small.winner[shared] == big.winner[shared]).all())
    True
    """
    Xs = [_as_X(X) for X in Xs]
    if not Xs:
        raise ValueError("Xs must list at least one point set")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    n = int(n)
    rng = _as_rng(rng)
    big = max(range(len(Xs)), key=lambda k: Xs[k].shape[0])
    D = Xs[big]
    for k, X in enumerate(Xs):
        if X.shape[1] != D.shape[1] or not np.array_equal(X, D[: X.shape[0]]):
            raise ValueError(
                f"Xs[{k}] is not a prefix of the largest point set Xs[{big}]; a coupled draw needs "
                "nested sets whose shared points come first"
            )
    a, b = _draw_pairs("uniform", D.shape[0], n, rng)
    t = population._draw_types(n, rng)
    u = rng.random(n)
    R = population.rewards(D)
    out = []
    for X in Xs:
        mc = X.shape[0]
        ac, bc = a.copy(), b.copy()
        outside = np.flatnonzero((a >= mc) | (b >= mc))
        if outside.size:
            ac[outside], bc[outside] = _draw_pairs("uniform", mc, outside.size, rng)
        p = _choice_prob(R[t, ac] - R[t, bc], population.choice, population.beta)
        winner = np.where(u < p, ac, bc)
        if population.choice == "deterministic":
            winner = np.where(p == 0.5, -1, winner)
        out.append(Comparisons(ac, bc, winner, t.astype(np.int64)))
    return out

"""Argument validation shared by every package: random generators, weights, preference matrices, lambda.

Each rule exists once, here, so that the simulator, the estimators and the axiom checks accept
and reject exactly the same inputs with the same messages:

* :func:`as_rng` / :func:`as_seed` -- a ``numpy.random.Generator``, an ``int`` seed ``>= 0`` or
  ``None``; booleans and negative seeds are refused.
* :func:`check_weights` -- finite, ``>= 0`` (``> 0`` on request), summing to 1 within
  :data:`WEIGHT_SUM_TOL`; weights are never rescaled silently.
* :func:`check_preference_matrix` -- square, entries in [0, 1], ``P_ii = 1/2`` and
  ``P_ij + P_ji = 1`` within :data:`MATRIX_TOL`; errors name the offending entry.
* :func:`check_lambda` -- a finite real ``>= 0`` (``> 0`` when zero is not allowed).

Every function takes ``name`` (how the argument is called in messages) and ``who`` (the
function the caller is, prefixed as ``"who: "``), so messages read like those of the caller.

Examples
--------
>>> check_weights([0.25, 0.75], 2).tolist()
[0.25, 0.75]
>>> check_weights([0.5, 0.6], 2, who="bt_mle")
Traceback (most recent call last):
...
ValueError: bt_mle: weights must sum to 1 within 1e-09 (they are never rescaled), got sum 1.1
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "WEIGHT_SUM_TOL",
    "MATRIX_TOL",
    "as_rng",
    "as_seed",
    "check_weights",
    "check_preference_matrix",
    "check_lambda",
]

WEIGHT_SUM_TOL = 1e-9  # |sum(w) - 1| allowed (the sum is 1, so absolute and relative tolerance coincide)
MATRIX_TOL = 1e-9  # allowed deviation from P_ii = 1/2 and from P_ij + P_ji = 1
_BLOCK_ROWS = 512  # the complement check works on row blocks, so a large P needs no (m, m) temporaries


def _prefix(who) -> str:
    return f"{who}: " if who else ""


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


# ----------------------------------------------------------------------------- generators and seeds
def _check_rng_like(rng, name: str, who) -> None:
    """Raise unless ``rng`` is a Generator, None or an int seed >= 0."""
    if rng is None or isinstance(rng, np.random.Generator):
        return
    what = f"{_prefix(who)}{name} must be a numpy.random.Generator, an int seed >= 0 or None"
    if _is_bool(rng) or not isinstance(rng, numbers.Integral):
        raise TypeError(f"{what}, got {type(rng).__name__}")
    if rng < 0:
        # numpy would refuse it too, but with a message that does not say which argument was wrong
        raise ValueError(f"{what}, got {int(rng)} (a negative seed)")


def as_rng(rng, name: str = "rng", who: str | None = None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator (returned as is), an int seed ``>= 0`` or None.

    Parameters
    ----------
    rng : numpy.random.Generator, int or None
        Seeds beyond ``2**63 - 1`` are accepted (numpy hashes them); booleans are refused.
    name, who : str
        For messages.

    Raises
    ------
    TypeError
        For anything but a Generator, an integer or None (booleans included).
    ValueError
        For a negative seed.
    """
    _check_rng_like(rng, name, who)
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(None if rng is None else int(rng))


def as_seed(seed, name: str = "seed", who: str | None = None, bound: int = 2**63) -> int:
    """An int seed: an int ``>= 0`` as is; a Generator or None draws one in ``[0, bound)``.

    Same rule (and messages) as :func:`as_rng`; used where a base seed must be recorded.
    """
    _check_rng_like(seed, name, who)
    if seed is not None and not isinstance(seed, np.random.Generator):
        return int(seed)
    return int(as_rng(seed).integers(bound))


# ----------------------------------------------------------------------------- weights
def check_weights(
    weights, m: int, name: str = "weights", who: str | None = None, *, positive: bool = False
) -> np.ndarray:
    """Validate a weight vector of the weighted objective (one weight per alternative).

    Parameters
    ----------
    weights : (m,) array_like
    m : int
        Number of alternatives.
    name, who : str
        For messages.
    positive : bool
        Require ``w > 0`` instead of ``w >= 0`` (an estimator whose model breaks at weight 0).

    Returns
    -------
    (m,) float ndarray

    Raises
    ------
    TypeError
        Non-numeric input.
    ValueError
        Wrong shape, a non-finite or negative entry (named), or ``|sum(w) - 1| > WEIGHT_SUM_TOL``.
    """
    pre = _prefix(who)
    try:
        w = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{pre}{name} must be a numeric ({m},) array, got {type(weights).__name__}") from None
    if w.shape != (int(m),):
        raise ValueError(f"{pre}{name} must have shape ({m},), got shape {w.shape}")
    bad = ~np.isfinite(w) | ((w <= 0) if positive else (w < 0))
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{pre}{name}[{k}] = {w[k]} must be finite and {'> 0' if positive else '>= 0'}")
    total = math.fsum(w.tolist())
    if abs(total - 1.0) > WEIGHT_SUM_TOL:
        raise ValueError(
            f"{pre}{name} must sum to 1 within {WEIGHT_SUM_TOL:g} (they are never rescaled), got sum {total!r}"
        )
    return w


# ----------------------------------------------------------------------------- preference matrices
def check_preference_matrix(P, name: str = "P", who: str | None = None, *, min_m: int = 1) -> np.ndarray:
    """Validate a preference matrix: ``P[i, j]`` is the probability that i beats j.

    Square with ``m >= min_m``, entries in [0, 1], ``P_ii = 1/2`` and ``P_ij + P_ji = 1`` within
    :data:`MATRIX_TOL`. The first offending entry (row-major order; for the complement, the
    largest deviation) is named in the message.

    Returns
    -------
    (m, m) float ndarray
        ``np.asarray(P, dtype=float)``: no copy when ``P`` already is one (callers that keep it
        copy it themselves).
    """
    pre = _prefix(who)
    try:
        P = np.asarray(P, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{pre}{name} must be a numeric (m, m) array, got {type(P).__name__}") from None
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] < max(1, min_m):
        need = "a non-empty square (m, m) matrix" if min_m <= 1 else f"a square (m, m) matrix with m >= {min_m}"
        raise ValueError(f"{pre}{name} must be {need}, got shape {P.shape}")
    m = P.shape[0]
    for lo in range(0, m, _BLOCK_ROWS):
        rows = P[lo : lo + _BLOCK_ROWS]
        bad = np.argwhere(~np.isfinite(rows))
        if bad.size:
            i, j = bad[0]
            raise ValueError(f"{pre}{name}[{lo + i}, {j}] = {rows[i, j]} is not finite")
        bad = np.argwhere((rows < 0) | (rows > 1))
        if bad.size:
            i, j = bad[0]
            raise ValueError(f"{pre}{name}[{lo + i}, {j}] = {rows[i, j]} is outside [0, 1]")
    diag = np.abs(np.diagonal(P) - 0.5)
    if np.any(diag > MATRIX_TOL):
        i = int(np.flatnonzero(diag > MATRIX_TOL)[0])
        raise ValueError(f"{pre}{name}[{i}, {i}] = {P[i, i]}, but P_ii = 1/2 is required (within {MATRIX_TOL:g})")
    worst, where = 0.0, None
    for lo in range(0, m, _BLOCK_ROWS):
        dev = np.abs(P[lo : lo + _BLOCK_ROWS] + P[:, lo : lo + _BLOCK_ROWS].T - 1.0)
        k = int(np.argmax(dev))
        if dev.flat[k] > worst:
            worst, where = float(dev.flat[k]), (lo + k // m, k % m)
    if worst > MATRIX_TOL:
        i, j = where
        raise ValueError(
            f"{pre}{name}[{i}, {j}] + {name}[{j}, {i}] = {P[i, j] + P[j, i]} ({name}[{i}, {j}] = {P[i, j]} and "
            f"{name}[{j}, {i}] = {P[j, i]}), but P_ij + P_ji = 1 is required (within {MATRIX_TOL:g})"
        )
    return P


# ----------------------------------------------------------------------------- regularisation
def check_lambda(lam, name: str = "lam", who: str | None = None, *, allow_zero: bool = True) -> float:
    """Validate a regularisation strength: a finite real ``>= 0`` (``> 0`` when ``allow_zero=False``).

    Raises
    ------
    TypeError
        For a non-real value (booleans included).
    ValueError
        For a negative, non-finite or (``allow_zero=False``) zero value.
    """
    pre = _prefix(who)
    if _is_bool(lam) or not isinstance(lam, numbers.Real):
        raise TypeError(f"{pre}{name} must be a real number, got {lam!r}")
    value = float(lam)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{pre}{name} must be finite and {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return value

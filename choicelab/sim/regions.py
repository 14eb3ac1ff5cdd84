"""Bounded regions S of the context space (contract §1): the "full space of alternatives"."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from choicelab._validation import as_rng


def _as_rng(rng) -> np.random.Generator:
    return as_rng(rng)


def _as_points(X, dim: int, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1 and dim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[1] != dim:
        raise ValueError(f"{name} must have shape (k, {dim}), got {X.shape}")
    return X


@dataclass(frozen=True)
class Box:
    """Axis-aligned box ``[lo_1, hi_1] x ... x [lo_d, hi_d]`` with the uniform measure.

    Parameters
    ----------
    lo, hi : array_like, shape (d,)
        Lower and upper corners; ``lo < hi`` componentwise.
    """

    lo: np.ndarray
    hi: np.ndarray

    def __post_init__(self):
        lo = np.atleast_1d(np.asarray(self.lo, dtype=float))
        hi = np.atleast_1d(np.asarray(self.hi, dtype=float))
        if lo.ndim != 1 or lo.shape != hi.shape:
            raise ValueError(f"Box: lo and hi must be 1-D of equal length, got shapes {lo.shape} and {hi.shape}")
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            raise ValueError(f"Box: lo={lo.tolist()} and hi={hi.tolist()} must be finite")
        if np.any(hi <= lo):
            k = int(np.flatnonzero(hi <= lo)[0])
            raise ValueError(f"Box: need lo < hi in every coordinate, got lo[{k}]={lo[k]} >= hi[{k}]={hi[k]}")
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)

    @property
    def dim(self) -> int:
        return int(self.lo.shape[0])

    @property
    def volume(self) -> float:
        return float(np.prod(self.hi - self.lo))

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Smallest enclosing box ``(lo, hi)``."""
        return self.lo, self.hi

    def contains(self, X) -> np.ndarray:
        """Boolean mask of the rows of ``X`` (k, d) that lie in the closed box."""
        X = _as_points(X, self.dim)
        return np.all((X >= self.lo) & (X <= self.hi), axis=1)

    def sample(self, n: int, rng=None) -> np.ndarray:
        """``n`` points drawn uniformly from the box, shape (n, d)."""
        if int(n) != n or n < 0:
            raise ValueError(f"Box.sample: n must be a non-negative integer, got {n!r}")
        rng = _as_rng(rng)
        return self.lo + (self.hi - self.lo) * rng.random((int(n), self.dim))


@dataclass(frozen=True)
class Ball:
    """Closed Euclidean ball ``{x : ||x - center|| <= radius}`` with the uniform measure."""

    center: np.ndarray
    radius: float

    def __post_init__(self):
        c = np.atleast_1d(np.asarray(self.center, dtype=float))
        if c.ndim != 1 or not np.all(np.isfinite(c)):
            raise ValueError(f"Ball: center must be a finite 1-D array, got {self.center!r}")
        r = float(self.radius)
        if not (np.isfinite(r) and r > 0):
            raise ValueError(f"Ball: radius must be positive and finite, got {self.radius!r}")
        object.__setattr__(self, "center", c)
        object.__setattr__(self, "radius", r)

    @property
    def dim(self) -> int:
        return int(self.center.shape[0])

    @property
    def volume(self) -> float:
        d = self.dim
        return float(math.pi ** (d / 2) / math.gamma(d / 2 + 1) * self.radius**d)

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self.center - self.radius, self.center + self.radius

    def contains(self, X) -> np.ndarray:
        X = _as_points(X, self.dim)
        return np.linalg.norm(X - self.center, axis=1) <= self.radius * (1 + 1e-12)

    def sample(self, n: int, rng=None) -> np.ndarray:
        """Uniform points: a Gaussian direction times ``radius * U^(1/d)``."""
        if int(n) != n or n < 0:
            raise ValueError(f"Ball.sample: n must be a non-negative integer, got {n!r}")
        rng = _as_rng(rng)
        g = rng.standard_normal((int(n), self.dim))
        g /= np.linalg.norm(g, axis=1, keepdims=True)
        u = rng.random(int(n)) ** (1.0 / self.dim)
        return self.center + self.radius * u[:, None] * g


def region_to_dict(region) -> dict:
    """JSON-serialisable description of a Box or Ball (inverse: :func:`region_from_dict`)."""
    if isinstance(region, Box):
        return {"type": "box", "lo": region.lo.tolist(), "hi": region.hi.tolist()}
    if isinstance(region, Ball):
        return {"type": "ball", "center": region.center.tolist(), "radius": region.radius}
    raise TypeError(f"region must be a Box or a Ball, got {type(region).__name__}")


def region_from_dict(desc: dict):
    """Rebuild a Box or Ball from :func:`region_to_dict` output."""
    kind = desc.get("type") if isinstance(desc, dict) else None
    if kind == "box":
        return Box(desc["lo"], desc["hi"])
    if kind == "ball":
        return Ball(desc["center"], desc["radius"])
    raise ValueError(f"region description must have type 'box' or 'ball', got {desc!r}")

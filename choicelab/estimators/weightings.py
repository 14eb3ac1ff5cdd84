"""Weightings: the registry of ways to weight alternatives for the weighted estimators (Eq. 2).

A weighting is one decorated function ``fn(X, region, rng, **options) -> (m,) weights`` (non-
negative, summing to 1), with its options declared as a pydantic model::

    @register("inverse_count", params=None)
    def inverse_count(X, region, rng):
        ...

Built in: ``voronoi`` (the clone-robust Voronoi weights of [PSZ], :func:`voronoi_weights`),
``radius_graph`` (the class-uniform radius-graph weights of [BW]), ``inverse_kde`` (inverse
kernel-density weights, for comparison: symmetric and continuous but not clone-proof), ``uniform`` (1/m: the
weighted MLE becomes the standard MLE with λ_std = mλ, contract P7) and ``dirichlet`` (random
weights from Dirichlet(α): an arbitrary weight vector, for identities that hold for every w,
such as contract P5).

Examples
--------
>>> import numpy as np
>>> from choicelab import sim
>>> w = get_weighting("voronoi").compute(np.array([[0.25], [0.75]]), sim.Box([0.0], [1.0]), None)
>>> w.tolist()
[0.5, 0.5]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Weighting", "register", "get_weighting", "list_weightings"]


@dataclass(frozen=True)
class Weighting:
    """A registry entry; ``compute(X, region, rng, **options)`` validates the options and the result."""

    name: str
    fn: Callable
    params: object
    description: str
    needs_region: bool

    def compute(self, X, region, rng, **options) -> np.ndarray:
        opts = self.params.model_validate(options).model_dump() if self.params is not None else {}
        if self.params is None and options:
            raise ValueError(f"weighting {self.name!r} takes no options, got {sorted(options)}")
        from choicelab._validation import check_weights

        m = np.asarray(X).shape[0]
        return check_weights(self.fn(X, region, rng, **opts), m, who=f"weighting {self.name!r}")


_WEIGHTINGS: dict[str, Weighting] = {}


def register(
    name: str, *, params=None, needs_region: bool = False, description: str | None = None, replace: bool = False
):
    """Decorator adding a weighting ``fn(X, region, rng, **options)`` under ``name``."""

    def decorator(fn):
        if name in _WEIGHTINGS and not replace:
            raise ValueError(f"register: a weighting called {name!r} is already registered")
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        _WEIGHTINGS[name] = Weighting(name=name, fn=fn, params=params, description=doc, needs_region=needs_region)
        return fn

    return decorator


def _plugins() -> None:
    from choicelab.plugins import load_entry_points

    load_entry_points("choicelab.weightings")


def get_weighting(name: str) -> Weighting:
    _plugins()
    try:
        return _WEIGHTINGS[name]
    except KeyError:
        raise ValueError(f"unknown weighting {name!r}; known: {', '.join(_WEIGHTINGS)}") from None


def list_weightings() -> list[Weighting]:
    _plugins()
    return list(_WEIGHTINGS.values())


class VoronoiOptions(BaseModel):
    """Options of the Voronoi weighting (:func:`choicelab.estimators.weights.voronoi_weights`).

    ``n_samples`` fixes the Monte Carlo sample size (default 200,000, as recorded scenarios use);
    ``rel_stderr`` (and optionally ``max_seconds``) asks for the precision-targeted mode instead:
    samples until every cell's relative standard error is at most ``rel_stderr`` or the time is
    spent. Giving both a sample size and a target is refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    method: str = Field("auto", pattern="^(auto|exact|monte_carlo|kdtree|brute)$")
    n_samples: int = Field(200_000, ge=1)
    rel_stderr: float | None = Field(None, gt=0, lt=1)
    max_seconds: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_stopping_rule(self):
        if "n_samples" in self.model_fields_set and (self.rel_stderr is not None or self.max_seconds is not None):
            raise ValueError("give n_samples (a fixed sample size) or rel_stderr / max_seconds (a target), not both")
        if self.max_seconds is not None and self.rel_stderr is None:
            raise ValueError("max_seconds bounds the precision-targeted mode: give rel_stderr too")
        return self


@register("voronoi", params=VoronoiOptions, needs_region=True)
def _voronoi(X, region, rng, method="auto", n_samples=200_000, rel_stderr=None, max_seconds=None):
    """Voronoi weights [PSZ]: w_i = vol(cell of x_i in S) / vol(S), ties split (exact clones share a cell)."""
    from choicelab.estimators.weights import DEFAULT_MAX_SECONDS, voronoi_weights

    if rel_stderr is not None:  # precision-targeted: sample until every cell meets rel_stderr or time is up
        return voronoi_weights(
            X,
            region,
            method=method,
            rng=rng,
            rel_stderr=rel_stderr,
            max_seconds=DEFAULT_MAX_SECONDS if max_seconds is None else max_seconds,
        )
    return voronoi_weights(X, region, method=method, n_samples=n_samples, rng=rng)


class RadiusGraphOptions(BaseModel):
    """Options of the radius-graph weighting (:func:`choicelab.estimators.weights.radius_graph_weights`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    alpha: float = Field(..., gt=0)
    n_radii: int | None = Field(None, ge=1)


@register("radius_graph", params=RadiusGraphOptions)
def _radius_graph(X, region, rng, alpha, n_radii=None):
    """Class-uniform radius-graph weights averaged over r in (0, alpha) [BW]."""
    from choicelab.estimators.weights import radius_graph_weights

    return radius_graph_weights(X, alpha, n_radii=n_radii)


class InverseKDEOptions(BaseModel):
    """Options of the inverse kernel-density weighting (:func:`choicelab.estimators.weights.inverse_kde_weights`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    bandwidth: float | None = Field(None, gt=0)


@register("inverse_kde", params=InverseKDEOptions)
def _inverse_kde(X, region, rng, bandwidth=None):
    """w_i proportional to 1 / sum_j K_h(x_i, x_j), Gaussian kernel, Scott's bandwidth by default (not clone-proof)."""
    from choicelab.estimators.weights import inverse_kde_weights

    return inverse_kde_weights(X, bandwidth=bandwidth)


@register("uniform")
def _uniform(X, region, rng):
    """w_i = 1/m (the weighted MLE then equals the standard MLE with lambda_std = m lambda, contract P7)."""
    m = np.asarray(X).shape[0]
    return np.full(m, 1.0 / m)


class DirichletOptions(BaseModel):
    """Options of the Dirichlet weighting."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    alpha: float = Field(1.0, gt=0)


@register("dirichlet", params=DirichletOptions)
def _dirichlet(X, region, rng, alpha=1.0):
    """Random weights w ~ Dirichlet(alpha, ..., alpha): an arbitrary weight vector (contract P5 holds for any w)."""
    m = np.asarray(X).shape[0]
    return rng.dirichlet(np.full(m, alpha))

"""Instance: alternatives + population + region, with the preference matrix P (contract §1)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from choicelab._validation import check_preference_matrix
from choicelab.sim.alternatives import Alternatives
from choicelab.sim.population import Population
from choicelab.sim.regions import Ball, Box, region_from_dict, region_to_dict

_FORMAT = "choicelab.Instance/1"


def _check_matrix(P) -> np.ndarray:
    """A read-only copy of a validated preference matrix (the one rule: ``check_preference_matrix``)."""
    P = np.array(check_preference_matrix(P, "P"), dtype=float)
    P.flags.writeable = False
    return P


@dataclass(frozen=True, eq=False)
class Instance:
    """What axioms and scenarios pass around: a world and its preference matrix (contract §1).

    Parameters
    ----------
    alternatives : Alternatives
    population : Population
    region : Box, Ball or None
        The full space of alternatives S (needed by Voronoi weights and approximate clones).

    Attributes
    ----------
    P : (m, m) ndarray, read-only
        ``population.preference_matrix(alternatives.X)``, computed once.

    Notes
    -----
    A matrix-only instance (:meth:`from_matrix`) has ``alternatives``, ``population`` and
    ``region`` None (``X`` is then None too); an instance restored by :meth:`from_dict` from a
    population of plain callables keeps its alternatives and stored matrix but has
    ``population`` None.
    """

    alternatives: Alternatives | None
    population: Population | None
    region: Box | Ball | None = None
    P: np.ndarray = field(init=False, repr=False)
    labels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.alternatives, Alternatives):
            raise TypeError(f"alternatives must be an Alternatives, got {type(self.alternatives).__name__}")
        if not isinstance(self.population, Population):
            raise TypeError(f"population must be a Population, got {type(self.population).__name__}")
        if self.region is not None:
            if not isinstance(self.region, (Box, Ball)):
                raise TypeError(f"region must be a Box, a Ball or None, got {type(self.region).__name__}")
            if self.region.dim != self.alternatives.d:
                raise ValueError(
                    f"region has dimension {self.region.dim}, but the alternatives have d={self.alternatives.d}"
                )
        P = self.population.preference_matrix(self.alternatives.X)
        P.flags.writeable = False
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "labels", self.alternatives.labels)

    @classmethod
    def _from_parts(cls, alternatives, population, region, P, labels) -> Instance:
        obj = cls.__new__(cls)
        for name, value in (
            ("alternatives", alternatives),
            ("population", population),
            ("region", region),
            ("P", P),
            ("labels", labels),
        ):
            object.__setattr__(obj, name, value)
        return obj

    @classmethod
    def from_matrix(cls, P, labels=None) -> Instance:
        """Matrix-only instance (for axioms that need no positions).

        ``P`` is validated: square, entries in [0, 1], ``P_ii = 1/2`` and ``P + P^T = 1``
        within 1e-9; errors name the offending entry. ``labels`` default ``arange(m)``.
        """
        P = _check_matrix(P)
        m = P.shape[0]
        labels = np.arange(m) if labels is None else np.asarray(labels)
        if labels.shape != (m,):
            raise ValueError(f"labels must have shape ({m},), got {labels.shape}")
        return cls._from_parts(None, None, None, P, labels)

    @property
    def m(self) -> int:
        return int(self.P.shape[0])

    @property
    def X(self) -> np.ndarray | None:
        """(m, d) positions, or None for a matrix-only instance."""
        return None if self.alternatives is None else self.alternatives.X

    @property
    def matrix_only(self) -> bool:
        """True when the instance has no population to recompute P (or sample data) from."""
        return self.population is None

    def with_alternatives(self, alternatives: Alternatives) -> Instance:
        """A new Instance on ``alternatives`` with the same population and region."""
        if self.population is None:
            raise ValueError("with_alternatives needs a population; this instance was built from a matrix only")
        return Instance(alternatives, self.population, self.region)

    def to_dict(self) -> dict:
        """JSON-serialisable description (used for axiom witnesses).

        When every reward is a built-in family the population is stored and
        :meth:`from_dict` recomputes the same P. Otherwise (plain callables, which cannot be
        serialised) the matrix P is stored under ``"P"`` and ``"population"`` is None with an
        explanatory ``"note"``; :meth:`from_dict` then restores positions, region and P
        but no population.
        """
        alts = None
        if self.alternatives is not None:
            alts = {
                "X": self.alternatives.X.tolist(),
                "labels": self.alternatives.labels.tolist(),
                "clone_of": self.alternatives.clone_of.tolist(),
            }
        out = {
            "format": _FORMAT,
            "alternatives": alts,
            "labels": self.labels.tolist(),
            "region": None if self.region is None else region_to_dict(self.region),
            "population": None,
            "P": None,
            "note": "",
        }
        if self.population is not None and self.population.serialisable:
            out["population"] = self.population.to_dict()
        else:
            out["P"] = self.P.tolist()
            out["note"] = (
                "matrix only"
                if self.population is None
                else "population rewards are plain callables and cannot be serialised; stored the preference matrix P"
            )
        return out

    @classmethod
    def from_dict(cls, desc: dict) -> Instance:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(desc, dict) or desc.get("format") != _FORMAT:
            raise ValueError(f"not an Instance description (format must be {_FORMAT!r}): {str(desc)[:200]}")
        region = None if desc.get("region") is None else region_from_dict(desc["region"])
        alts = None
        if desc.get("alternatives") is not None:
            a = desc["alternatives"]
            alts = Alternatives(
                np.asarray(a["X"], dtype=float),
                labels=np.asarray(a["labels"]),
                clone_of=np.asarray(a["clone_of"], dtype=np.int64),
            )
        if desc.get("population") is not None:
            return cls(alts, Population.from_dict(desc["population"]), region)
        P = _check_matrix(desc["P"])
        if alts is None:
            return cls.from_matrix(P, labels=np.asarray(desc["labels"]))
        if alts.m != P.shape[0]:
            raise ValueError(f"stored P has shape {P.shape}, but there are {alts.m} alternatives")
        return cls._from_parts(alts, None, region, P, alts.labels)

"""The typed world model: region, alternatives, population and clones of an experiment.

One description of a world, used by scenario files (the ``[world]`` section), by the Python API
(``WorldSpec.model_validate({...}).build(rng)``) and by stored run parameters alike. The models
are pydantic v2 models with unknown keys forbidden; the checks that span several keys (a
region's dimension against the alternatives', a clone index against ``m``, shares summing to 1)
live in :func:`world_problems`, which returns ``(dotted key, value, message)`` triples so a
scenario file can report them with its line numbers.

Sections
--------
``region``
    ``{type = "box", lo, hi}`` or ``{type = "ball", center, radius}``.
``alternatives``
    ``generator`` = ``topic_clusters`` (``topics`` name -> centre, ``per_topic``,
    ``spread``, ``scales``), ``uniform`` (``m`` points uniform in the region),
    ``grid`` (``per_axis``), ``file`` (``path``: .csv, .npy or .npz, read by
    :func:`choicelab.sim.io.read_alternatives`) or ``points`` (``X``, ``labels``,
    ``clone_of`` given inline).
``population``
    ``choice`` (bt | thurstone | deterministic), ``beta``, ``types``: a list of
    ``{share, reward = <family>, <family parameters>}``.
``clones``
    ``type`` = exact | approximate, ``count`` copies of ``index`` or of every
    original of ``topic``; approximate clones lie within ``eps`` of their original.

Examples
--------
>>> import numpy as np
>>> spec = WorldSpec.model_validate({
...     "region": {"type": "box", "lo": [0, 0], "hi": [1, 1]},
...     "alternatives": {"generator": "uniform", "m": 4},
...     "population": {"types": [{"share": 1.0, "reward": "ideal_point", "center": [0.5, 0.5]}]},
...     "clones": {"type": "exact", "index": 0, "count": 2}})
>>> world = spec.build(np.random.default_rng(0))
>>> world.alternatives.m, world.with_clones(np.random.default_rng(0)).m
(4, 6)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveFloat, PositiveInt

__all__ = ["WorldSpec", "World", "RegionSpec", "ClonesSpec", "PopulationSpec", "world_problems", "REWARD_FAMILIES"]

REWARD_FAMILIES = ("linear", "ideal_point", "topic_table", "rbf_mixture", "explicit")
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
Vector = Annotated[list[FiniteFloat], Field(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --------------------------------------------------------------------------------------- region
class BoxSpec(_Model):
    """Axis-aligned box ``[lo, hi]`` in R^d."""

    type: Literal["box"]
    lo: Vector
    hi: Vector

    @property
    def dim(self) -> int:
        return len(self.lo)

    def build(self):
        from choicelab.sim.regions import Box

        return Box(self.lo, self.hi)


class BallSpec(_Model):
    """Euclidean ball of ``radius`` around ``center``."""

    type: Literal["ball"]
    center: Vector
    radius: PositiveFloat

    @property
    def dim(self) -> int:
        return len(self.center)

    def build(self):
        from choicelab.sim.regions import Ball

        return Ball(self.center, self.radius)


RegionSpec = Annotated[BoxSpec | BallSpec, Field(discriminator="type")]


# --------------------------------------------------------------------------------- alternatives
class TopicClustersSpec(_Model):
    """Topic k contributes ``per_topic`` points ``c_k + spread * s * N(0, I)``; ``s`` = ``scales``."""

    generator: Literal["topic_clusters"]
    topics: Annotated[dict[str, Vector], Field(min_length=1)]
    per_topic: PositiveInt | list[PositiveInt]
    spread: Annotated[float, Field(ge=0, allow_inf_nan=False)] | list[Annotated[float, Field(ge=0)]]
    scales: list[PositiveFloat] | None = None

    @property
    def m(self) -> int:
        per = self.per_topic
        return sum(per) if isinstance(per, list) else per * len(self.topics)

    @property
    def dim(self) -> int:
        return len(next(iter(self.topics.values())))

    def build(self, rng, region=None):
        from choicelab import sim

        names = list(self.topics)
        C = np.asarray([self.topics[t] for t in names], dtype=float)
        scales = np.asarray(self.scales if self.scales is not None else [1.0] * C.shape[1], dtype=float)
        # draw around C / s, then stretch by s: the noise becomes spread * s * N(0, I), centres stay
        alts = sim.topic_clusters(C / scales, self.per_topic, self.spread, rng=rng, names=names)
        return sim.Alternatives(alts.X * scales, labels=alts.labels)


class UniformSpec(_Model):
    """``m`` points uniform in the world's region."""

    generator: Literal["uniform"]
    m: PositiveInt

    dim: ClassVar[None] = None

    def build(self, rng, region=None):
        from choicelab import sim

        return sim.uniform_alternatives(region, self.m, rng=rng)


class GridSpec(_Model):
    """A regular grid of ``per_axis`` points per axis inside the region."""

    generator: Literal["grid"]
    per_axis: PositiveInt | list[PositiveInt]

    dim: ClassVar[None] = None

    @property
    def m(self):
        return None

    def build(self, rng, region=None):
        from choicelab import sim

        return sim.grid_alternatives(region, self.per_axis)


class FileSpec(_Model):
    """Embeddings read from ``path`` (.npy, or .csv with an optional ``label`` column)."""

    generator: Literal["file"]
    path: Annotated[str, Field(min_length=1)]
    reader: str | None = None

    dim: ClassVar[None] = None

    def build(self, rng, region=None):
        from choicelab.sim.readers import read

        return read(self.path, "alternatives", reader=self.reader)  # labels and clone markers as the file gives them


class PointsSpec(_Model):
    """Alternatives given point by point: ``X`` (m rows of d numbers), optional ``labels`` and ``clone_of``."""

    generator: Literal["points"]
    X: Annotated[list[Vector], Field(min_length=1)]
    labels: list[str | int] | None = None
    clone_of: list[int] | None = None

    @property
    def m(self) -> int:
        return len(self.X)

    @property
    def dim(self) -> int:
        return len(self.X[0])

    def build(self, rng, region=None):
        from choicelab import sim

        return sim.Alternatives(
            np.asarray(self.X, dtype=float),
            labels=None if self.labels is None else np.asarray(self.labels),
            clone_of=None if self.clone_of is None else np.asarray(self.clone_of, dtype=np.int64),
        )


AlternativesSpec = Annotated[
    TopicClustersSpec | UniformSpec | GridSpec | FileSpec | PointsSpec, Field(discriminator="generator")
]


# ---------------------------------------------------------------------------------- population
class _TypeBase(_Model):
    share: PositiveFloat


class LinearTypeSpec(_TypeBase):
    """r(x) = theta . x"""

    reward: Literal["linear"]
    theta: Vector

    def build_reward(self, alts, topics):
        from choicelab import sim

        return sim.linear_reward(self.theta)


class IdealPointTypeSpec(_TypeBase):
    """r(x) = -||x - center||^2 (spatial model)"""

    reward: Literal["ideal_point"]
    center: Vector

    def build_reward(self, alts, topics):
        from choicelab import sim

        return sim.ideal_point_reward(self.center)


class TopicTableTypeSpec(_TypeBase):
    """r(x) = sum_k U[k] softmax_k(-||x - c_k||^2 / tau); centres default to the world's topics."""

    reward: Literal["topic_table"]
    utilities: Vector | dict[str, FiniteFloat]
    tau: PositiveFloat
    centers: list[Vector] | None = None

    def build_reward(self, alts, topics):
        from choicelab import sim

        if self.centers is not None:
            centers, utilities = self.centers, self.utilities
        else:
            names = list(topics)
            centers = [topics[k] for k in names]
            u = self.utilities
            utilities = [u[k] for k in names] if isinstance(u, dict) else u
        return sim.topic_table_reward(centers, utilities, self.tau)


class RbfMixtureTypeSpec(_TypeBase):
    """r(x) = sum_k w_k exp(-||x - c_k||^2 / (2 h_k^2))"""

    reward: Literal["rbf_mixture"]
    centers: Annotated[list[Vector], Field(min_length=1)]
    weights: Vector
    bandwidth: PositiveFloat | list[PositiveFloat]

    def build_reward(self, alts, topics):
        from choicelab import sim

        return sim.rbf_mixture_reward(self.centers, self.weights, self.bandwidth)


class ExplicitTypeSpec(_TypeBase):
    """Explicit reward values, one per alternative (clones inherit their original's value).

    ``X_ref`` (optional) names the points the values belong to; by default the world's
    alternatives before clones are added.
    """

    reward: Literal["explicit"]
    values: Vector
    X_ref: list[Vector] | None = None

    def build_reward(self, alts, topics):
        from choicelab import sim

        return sim.explicit_reward(alts.X if self.X_ref is None else self.X_ref, self.values)


TypeSpec = Annotated[
    LinearTypeSpec | IdealPointTypeSpec | TopicTableTypeSpec | RbfMixtureTypeSpec | ExplicitTypeSpec,
    Field(discriminator="reward"),
]


class PopulationSpec(_Model):
    """Annotator types with shares summing to 1 and a choice model (the contract section 1)."""

    choice: Literal["bt", "thurstone", "deterministic"] = "bt"
    beta: PositiveFloat = 1.0
    types: Annotated[list[TypeSpec], Field(min_length=1)]

    def build(self, alts, topics=None):
        from choicelab import sim

        types = [sim.AnnotatorType(t.share, t.build_reward(alts, topics or {})) for t in self.types]
        return sim.Population(types, choice=self.choice, beta=self.beta)


# -------------------------------------------------------------------------------------- clones
class ClonesSpec(_Model):
    """``count`` exact or eps-approximate copies of alternative ``index`` or of a ``topic``'s originals."""

    type: Literal["exact", "approximate"]
    count: NonNegativeInt
    index: NonNegativeInt | None = None
    topic: str | None = None
    eps: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None

    def apply(self, alts, rng, region=None, count: int | None = None):
        """Alternatives with the clones appended (originals keep their indices 0..m-1)."""
        from choicelab import sim

        count = self.count if count is None else count
        if count == 0:
            return alts
        if self.index is not None:
            targets = [self.index]
        else:
            targets = [int(i) for i in alts.originals if str(alts.labels[i]) == self.topic]
        for i in targets:
            if self.type == "exact":
                alts = sim.add_exact_clones(alts, i, count)
            else:
                alts = sim.add_approximate_clones(alts, i, count, self.eps, rng=rng, region=region)
        return alts


# ---------------------------------------------------------------------------------------- world
@dataclass(frozen=True, eq=False)
class World:
    """A built world: region (or None), alternatives without clones, population, topic centres."""

    spec: WorldSpec
    region: object
    alternatives: object
    population: object
    topics: dict

    def with_clones(self, rng, count: int | None = None):
        """The alternatives with ``world.clones`` applied (``count`` overrides the clone count)."""
        if self.spec.clones is None:
            return self.alternatives
        return self.spec.clones.apply(self.alternatives, rng, self.region, count=count)


class WorldSpec(_Model):
    """The ``[world]`` section: region, alternatives, population, clones (all optional here)."""

    region: RegionSpec | None = None
    alternatives: AlternativesSpec | None = None
    population: PopulationSpec | None = None
    clones: ClonesSpec | None = None

    @property
    def topics(self) -> dict:
        alts = self.alternatives
        return dict(alts.topics) if isinstance(alts, TopicClustersSpec) else {}

    @classmethod
    def from_instance(cls, instance) -> WorldSpec:
        """The world of a :class:`~choicelab.sim.Instance` (points given inline), e.g. a witness.

        Raises ValueError for an instance without positions or with a population whose rewards
        are plain callables (no world description exists for those).
        """
        from choicelab.sim.regions import region_to_dict

        if instance.alternatives is None or instance.population is None or not instance.population.serialisable:
            raise ValueError("WorldSpec.from_instance needs positions and a population of built-in reward families")
        alts = instance.alternatives
        types = []
        for typ in instance.population.types:
            desc = typ.reward.to_dict()
            family = desc.pop("family")
            desc.pop("region", None)
            types.append({"share": float(typ.share), "reward": family, **desc})
        return cls.model_validate(
            {
                "region": None if instance.region is None else region_to_dict(instance.region),
                "alternatives": {
                    "generator": "points",
                    "X": alts.X.tolist(),
                    "labels": alts.labels.tolist(),
                    "clone_of": alts.clone_of.tolist(),
                },
                "population": {
                    "choice": instance.population.choice,
                    "beta": float(instance.population.beta),
                    "types": types,
                },
            }
        )

    def to_instance(self, rng=None):
        """The :class:`~choicelab.sim.Instance` of this world (clones applied), drawn from ``rng``."""
        from choicelab import sim

        world = self.build(np.random.default_rng(rng))
        alts = world.with_clones(np.random.default_rng(rng))
        return sim.Instance(alts, world.population, world.region)

    def build(self, rng) -> World:
        """Region, alternatives (drawn from ``rng``) and population; clones via ``World.with_clones``."""
        region = None if self.region is None else self.region.build()
        alts = None if self.alternatives is None else self.alternatives.build(rng, region)
        pop = None if self.population is None or alts is None else self.population.build(alts, self.topics)
        return World(spec=self, region=region, alternatives=alts, population=pop, topics=self.topics)


def world_problems(world: WorldSpec, m_file: int | None = None, file_topics=()) -> list[tuple]:
    """Checks that span several keys; ``[(dotted key under world, value, message), ...]``.

    ``m_file`` and ``file_topics`` describe alternatives read from a file (when known).
    """
    out = []
    alts = world.alternatives
    m = getattr(alts, "m", None) if alts is not None else None
    if isinstance(alts, FileSpec):
        m = m_file
    topics = list(world.topics) or list(file_topics)
    d = alts.dim if alts is not None and alts.dim is not None else None
    if isinstance(alts, PointsSpec):
        if len({len(x) for x in alts.X}) != 1:
            out.append(("alternatives.X", alts.X, "every point must have the same length d"))
        for key in ("labels", "clone_of"):
            value = getattr(alts, key)
            if value is not None and len(value) != len(alts.X):
                out.append((f"alternatives.{key}", value, f"must have one entry per point (m = {len(alts.X)})"))
    if isinstance(alts, TopicClustersSpec):
        dims = {len(c) for c in alts.topics.values()}
        if len(dims) != 1:
            out.append(
                (
                    "alternatives.topics",
                    {k: len(v) for k, v in alts.topics.items()},
                    "every topic centre must have the same length d",
                )
            )
        if isinstance(alts.per_topic, list) and len(alts.per_topic) != len(alts.topics):
            out.append(
                ("alternatives.per_topic", alts.per_topic, f"must have one entry per topic ({len(alts.topics)})")
            )
        if isinstance(alts.spread, list) and len(alts.spread) != len(alts.topics):
            out.append(("alternatives.spread", alts.spread, f"must have one entry per topic ({len(alts.topics)})"))
        if alts.scales is not None and d is not None and len(alts.scales) != d:
            out.append(("alternatives.scales", alts.scales, f"must have one entry per dimension (d = {d})"))
    if isinstance(alts, (UniformSpec, GridSpec)) and world.region is None:
        out.append(("region", None, f"is required for generator {alts.generator!r}"))
    region = world.region
    if isinstance(region, BoxSpec):
        if len(region.lo) != len(region.hi):
            out.append(("region.hi", region.hi, f"must have the length of lo ({len(region.lo)})"))
        for k, (a, b) in enumerate(zip(region.lo, region.hi)):
            if not a < b:
                out.append(
                    ("region.hi", region.hi, f"must exceed lo in every coordinate (hi[{k}] = {b} <= lo[{k}] = {a})")
                )
                break
    if region is not None and d is not None and region.dim != d:
        out.append(("region", None, f"has dimension {region.dim} but the alternatives have d = {d}"))
    if region is not None and d is None:
        d = region.dim
    if (
        isinstance(alts, GridSpec)
        and isinstance(alts.per_axis, list)
        and region is not None
        and len(alts.per_axis) != region.dim
    ):
        out.append(("alternatives.per_axis", alts.per_axis, f"must have one entry per dimension (d = {region.dim})"))
    clones = world.clones
    if clones is not None:
        if (clones.index is None) == (clones.topic is None):
            out.append(
                ("clones", None, "needs exactly one of 'index' (an alternative) or 'topic' (every original of a topic)")
            )
        if clones.index is not None and m is not None and clones.index >= m:
            out.append(("clones.index", clones.index, f"must be < m = {m}"))
        if clones.topic is not None and clones.topic not in topics:
            import difflib

            hint = difflib.get_close_matches(clones.topic, topics, n=1)
            extra = (
                f"; did you mean {hint[0]!r}?"
                if hint
                else (f"; topics: {', '.join(topics)}" if topics else "; this world has no named topics")
            )
            out.append(("clones.topic", clones.topic, f"is not a topic of the world{extra}"))
        if clones.type == "approximate" and clones.eps is None:
            out.append(("clones.eps", None, "is required for approximate clones"))
        if clones.type == "exact" and clones.eps is not None:
            out.append(("clones.eps", clones.eps, "does not apply to exact clones"))
        if clones.type == "approximate" and region is None:
            out.append(("region", None, "is required for approximate clones (they stay inside the region)"))
    pop = world.population
    if pop is not None:
        shares = [t.share for t in pop.types]
        if abs(math.fsum(shares) - 1.0) > 1e-9:
            out.append(("population.types", shares, f"shares must sum to 1 (they sum to {math.fsum(shares)!r})"))
        for k, t in enumerate(pop.types):
            base = f"population.types.{k}"
            if isinstance(t, (LinearTypeSpec, IdealPointTypeSpec)):
                key = "theta" if isinstance(t, LinearTypeSpec) else "center"
                vec = getattr(t, key)
                if d is not None and len(vec) != d:
                    out.append((f"{base}.{key}", vec, f"must have length d = {d}"))
            elif isinstance(t, TopicTableTypeSpec):
                if t.centers is None and not world.topics:
                    out.append((f"{base}.centers", None, "is required unless the world has named topics"))
                    continue
                n_topics = len(t.centers) if t.centers is not None else len(world.topics)
                if isinstance(t.utilities, dict):
                    if t.centers is not None:
                        out.append((f"{base}.utilities", t.utilities, "must be a list when 'centers' is given"))
                    unknown = [u for u in t.utilities if u not in world.topics]
                    missing = [u for u in world.topics if u not in t.utilities]
                    if unknown:
                        import difflib

                        hint = difflib.get_close_matches(unknown[0], list(world.topics), n=1)
                        out.append(
                            (
                                f"{base}.utilities.{unknown[0]}",
                                t.utilities[unknown[0]],
                                "is not a topic of the world"
                                + (f"; did you mean {hint[0]!r}?" if hint else f"; topics: {', '.join(world.topics)}"),
                            )
                        )
                    elif missing:
                        out.append((f"{base}.utilities", t.utilities, f"lacks topic {missing[0]!r}"))
                elif len(t.utilities) != n_topics:
                    out.append((f"{base}.utilities", t.utilities, f"must have one entry per topic ({n_topics})"))
                if t.centers is not None and d is not None and any(len(c) != d for c in t.centers):
                    out.append((f"{base}.centers", t.centers, f"centres must have length d = {d}"))
            elif isinstance(t, RbfMixtureTypeSpec):
                if len(t.weights) != len(t.centers):
                    out.append((f"{base}.weights", t.weights, f"must have one entry per centre ({len(t.centers)})"))
                if isinstance(t.bandwidth, list) and len(t.bandwidth) != len(t.centers):
                    out.append(
                        (f"{base}.bandwidth", t.bandwidth, f"must be a number or one per centre ({len(t.centers)})")
                    )
            elif isinstance(t, ExplicitTypeSpec):
                if m is not None and len(t.values) != m:
                    out.append((f"{base}.values", t.values, f"must have one value per alternative (m = {m})"))
    return out

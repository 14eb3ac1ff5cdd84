"""Experiments: a scenario composed of world, data, conditions, estimators and measures.

A scenario file without ``[scenario] kind`` is an experiment of this model; nothing in it names
a computation::

    [scenario]      name, description, seeds (a count or a list of offsets), base_seed
    [world]         region, alternatives, population, clones  (choicelab.scenarios.world)
    [data]          kind = "representative" | "comparisons" (n, design) | "rankings" (n, k)
                    | "files" (comparisons = .csv/.jsonl, or rankings = a PrefLib file)
    [conditions]    names = ["original", "clones"] (default ["default"]);
                    coupling = "independent" | "paired"
    [estimators]    names = [...] (registry names), lam, [estimators.options.NAME] (the entry's
                    declared options), [estimators.weights] (name = a weighting, default "voronoi",
                    and its options) for the weighted ones
    [measures]      names = [...] (registry names: scores, rank, top_item, topic_rewards,
                    kendall_tau, reward_change, fit_quality, weights, a1_curve, any axiom id),
                    [measures.options.NAME]
    [sweep]         "dotted.key" = [values...]: the grid (Cartesian product, in file order)
    [report]        figures = [...] (registry names)
    [plugins]       modules = [...]: modules or .py files imported (in every worker) first

What one run does (:func:`run_experiment`), all randomness from ``default_rng(seed)``:

1. build the world (alternatives drawn, population), then each condition's alternatives;
2. draw each condition's data: ``independent`` coupling draws each condition's data on its own,
   in condition order ([PSZ]'s design); ``paired`` draws them maximally coupled
   (:func:`choicelab.sim.population.sample_coupled_comparisons`: a comparison among shared
   alternatives is the same comparison in every condition), and gives every condition the same
   Monte Carlo weight samples and the same estimator seeds;
3. compute Voronoi weights when a weighted estimator is named, fit every estimator on every
   condition, and call every measure on every fit.

Conditions that cannot run on some data, estimators that cannot consume the data, unknown keys
and options no entry reads are refused when the file loads, with file, line, key and value.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import importlib
import importlib.util
import itertools
import json
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from choicelab.scenarios.world import FileSpec, WorldSpec, world_problems

__all__ = [
    "ExperimentSpec",
    "ConditionData",
    "parse_experiment",
    "expand_experiment",
    "run_experiment",
    "import_plugins",
    "KIND",
]

KIND = "experiment"  # the runner's name for runs of this model
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


Seed = Annotated[int, Field(ge=0, lt=2**63)]


class HeadSpec(_Model):
    """``[scenario]``: batch name, description, seeds, the largest batch it may expand to."""

    name: Annotated[str, Field(pattern=_NAME)]
    description: str = ""
    seeds: Annotated[int, Field(ge=1, le=10**6)] | Annotated[list[Seed], Field(min_length=1)] = 1
    base_seed: Seed = 0
    max_runs: PositiveInt = 100_000


class RepresentativeData(_Model):
    """The exact preference matrix P (the regime of the theorems)."""

    kind: Literal["representative"]


class ComparisonsData(_Model):
    """``n`` sampled pairwise comparisons per condition."""

    kind: Literal["comparisons"]
    n: PositiveInt
    design: Literal["uniform"] = "uniform"


class RankingsData(_Model):
    """``n`` sampled rankings (full, or top-``k``) per condition."""

    kind: Literal["rankings"]
    n: PositiveInt
    k: PositiveInt | None = None


class FilesData(_Model):
    """Your own data: ``comparisons`` (.csv / .jsonl / .npz) or ``rankings`` (PrefLib .soc/.soi/.toc/.toi).

    ``reader`` names a reader of the registry (:mod:`choicelab.sim.readers`); by default the
    file's suffix picks one.
    """

    kind: Literal["files"]
    comparisons: str | None = None
    rankings: str | None = None
    reader: str | None = None


class NoData(_Model):
    """No data and no fits by the runner: the measures build their own instances (axiom searches, [XK])."""

    kind: Literal["none"]


DataSpec = Annotated[
    RepresentativeData | ComparisonsData | RankingsData | FilesData | NoData, Field(discriminator="kind")
]


class ConditionsSpec(_Model):
    """``[conditions]``: the named world transformations of a run and how their data are coupled."""

    names: Annotated[list[str], Field(min_length=1)] = ["default"]
    coupling: Literal["independent", "paired"] = "paired"


class EstimatorsSpec(_Model):
    """``[estimators]``: registry names, lambda, per-estimator options, weights."""

    names: Annotated[list[str], Field(min_length=1)]
    lam: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.1
    quick: bool = False
    options: dict[str, dict] = {}
    weights: dict = {"name": "voronoi"}


class MeasuresSpec(_Model):
    """``[measures]``: registry names and per-measure options."""

    names: Annotated[list[str], Field(min_length=1)] = ["scores"]
    options: dict[str, dict] = {}


class ReportSpec(_Model):
    """``[report]``: figures, and the rule that turns effects into verdicts (:mod:`choicelab.scenarios.effects`)."""

    figures: list[str] = []
    equivalence_margin: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0.1
    baseline: str = "original"
    control: str = "aa_control"


class PluginsSpec(_Model):
    modules: list[str] = []


class ExperimentSpec(_Model):
    """A whole experiment scenario (the file's top-level tables)."""

    scenario: HeadSpec
    world: WorldSpec = WorldSpec()
    data: DataSpec = RepresentativeData(kind="representative")
    conditions: ConditionsSpec = ConditionsSpec()
    estimators: EstimatorsSpec = EstimatorsSpec(names=["mle"])
    measures: MeasuresSpec = MeasuresSpec()
    sweep: dict[str, list] = {}
    report: ReportSpec = ReportSpec()
    plugins: PluginsSpec = PluginsSpec()


_DATA_FORM = {"representative": "matrix", "comparisons": "comparisons", "rankings": "rankings"}


# ------------------------------------------------------------------------------------- plugins
_IMPORTED: dict[str, str] = {}


def import_plugins(modules, folder=None) -> list[str]:
    """Import plugin modules (dotted names, or paths of .py files) once per process.

    A file path is resolved against ``folder`` (the scenario's folder) and then the working
    directory; the current directory is on the import path for dotted names. Returns the
    normalised list (absolute file paths, module names) that workers import again.
    """
    out = []
    for entry in modules:
        entry = str(entry)
        if entry.endswith(".py"):
            path = Path(entry)
            candidates = [path] if path.is_absolute() else [Path(folder or ".") / path, Path.cwd() / path]
            found = next((p for p in candidates if p.is_file()), None)
            if found is None:
                raise ImportError(f"no such plugin file {entry!r}")
            key = str(found.resolve())
            if key not in _IMPORTED:
                name = "choicelab_plugin_" + hashlib.sha256(key.encode()).hexdigest()[:12]
                spec = importlib.util.spec_from_file_location(name, key)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    sys.modules.pop(name, None)
                    raise
                _IMPORTED[key] = name
            out.append(key)
        else:
            if str(Path.cwd()) not in sys.path and "" not in sys.path:
                sys.path.insert(0, str(Path.cwd()))
            importlib.import_module(entry)
            out.append(entry)
    return out


# -------------------------------------------------------------------------------------- parsing
def parse_experiment(raw: dict, ctx, plugins=(), max_runs: int | None = None):
    """Validate a scenario of this model; returns a :class:`~choicelab.scenarios.spec.Scenario`.

    ``ctx`` is the scenario file context of :mod:`choicelab.scenarios.spec` (file, text, line
    lookup); every error is a ScenarioError with file, line, dotted key and value. Before any
    sweep point is validated, the batch's size (points x seeds) is checked against ``max_runs``
    (default ``[scenario] max_runs``, 100000); then every point is validated, its memory need
    estimated, and its world built once (seed 0), so that a scenario that cannot run fails here.
    """
    from choicelab.scenarios.spec import Scenario, ScenarioError

    modules = list(_plugin_list(raw)) + list(plugins)
    try:
        normalised = import_plugins(modules, ctx.folder)
    except Exception as exc:  # an import error of the user's module: name it, no traceback
        where = ("plugins", "modules") if _plugin_list(raw) else ("scenario",)
        raise ScenarioError(
            ctx.file,
            "plugins.modules",
            modules,
            ctx._line_or_parent(where),
            f"cannot import a plugin: {type(exc).__name__}: {exc}",
        ) from None
    raw = copy.deepcopy(raw)
    raw.setdefault("plugins", {})["modules"] = normalised
    spec, digests = _validate(raw, ctx)
    sweep = spec.sweep
    head = spec.scenario
    seeds = tuple(range(head.seeds)) if isinstance(head.seeds, int) else tuple(head.seeds)
    if head.base_seed + max(seeds) >= 2**63:
        _fail(
            ctx,
            ("scenario", "base_seed"),
            head.base_seed,
            f"base_seed + the largest seed offset ({max(seeds)}) must stay below 2**63",
        )
    n_points = 1
    for values in sweep.values():
        n_points *= len(values)
    limit = head.max_runs if max_runs is None else max_runs
    if n_points * len(seeds) > limit:  # said before validating anything: a huge grid must not spin in silence
        from choicelab.scenarios.spec import _MISSING

        _fail(
            ctx,
            ("sweep",) if sweep else ("scenario", "seeds"),
            _MISSING,
            f"the batch would have {n_points} sweep point{'s' if n_points != 1 else ''} x {len(seeds)} seeds = "
            f"{n_points * len(seeds)} runs, more than max_runs = {limit} (raise [scenario] max_runs or "
            "choicelab run --max-runs N)",
        )
    points = list(_grid(sweep))
    show = n_points >= 500 and sys.stderr.isatty()
    if show:
        print(
            f"{ctx.file}: validating {n_points} sweep points x {len(seeds)} seeds = {n_points * len(seeds)} runs",
            file=sys.stderr,
        )
    built: set = set()
    point_specs = []
    for point in points:  # every sweep point must make a valid scenario, before any run starts
        pspec = _point_spec(raw, point, ctx)
        _check_can_run(pspec, point, ctx, built)
        if len(point_specs) < 1000:
            point_specs.append(pspec)
    params = spec.model_dump(mode="json", exclude={"sweep", "report"})
    return Scenario(
        name=head.name,
        kind=KIND,
        description=head.description,
        seeds=seeds,
        base_seed=head.base_seed,
        params=params,
        sweep={k: tuple(v) for k, v in sweep.items()},
        report=spec.report.model_dump(mode="json"),
        source=ctx.file,
        text=ctx.text,
        raw=raw,
        file_digests=digests,
        about=describe(spec, point_specs),
    )


_MEMORY_SHARE = 0.5  # a run may plan to use at most this share of the machine's memory


def _machine_memory() -> int:
    import os

    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def memory_estimate(spec: ExperimentSpec) -> list[tuple]:
    """Bytes a run of ``spec`` plans to hold, per sizing key: ``[(bytes, dotted key, value), ...]``.

    Counts the big arrays: the m x m preference matrices (per type and in total, about T + 3
    copies of 8 bytes per entry) of the largest condition, the sampled data (about 40 bytes per
    comparison, 8 per ranked alternative), and the Monte Carlo samples of Voronoi weights (N x d
    coordinates plus N distances).
    """
    w = spec.world
    alts = w.alternatives
    m, key, value = None, None, None
    if alts is not None and getattr(alts, "m", None) is not None:
        m, key, value = alts.m, "world.alternatives", alts.m
    from choicelab.scenarios.world import GridSpec, TopicClustersSpec, UniformSpec

    if isinstance(alts, UniformSpec):
        key, value = "world.alternatives.m", alts.m
    elif isinstance(alts, TopicClustersSpec):
        key, value = "world.alternatives.per_topic", alts.per_topic
    elif isinstance(alts, GridSpec) and w.region is not None:
        per = alts.per_axis if isinstance(alts.per_axis, list) else [alts.per_axis] * w.region.dim
        m = 1
        for p in per:
            m *= p
        key, value = "world.alternatives.per_axis", alts.per_axis
    out = []
    if m is not None:
        clones = w.clones
        if clones is not None and clones.count:
            targets = 1 if clones.index is not None else max(1, m // max(1, len(w.topics)))
            m_total = m + clones.count * targets
            if clones.count * targets > m:
                key, value = "world.clones.count", clones.count
        else:
            m_total = m
        T = len(w.population.types) if w.population is not None else 1
        out.append((8 * (T + 3) * m_total * m_total, key, value))
        d = w.region.dim if w.region is not None else (alts.dim or 1)
        n_samples = int(spec.estimators.weights.get("n_samples", 0) or 0)
        if n_samples:
            out.append((8 * (d + 2) * n_samples, "estimators.weights.n_samples", n_samples))
        if spec.data.kind == "rankings":
            out.append((8 * spec.data.n * m_total, "data.n", spec.data.n))
    if spec.data.kind == "comparisons":
        out.append((40 * spec.data.n, "data.n", spec.data.n))
    return out


def _check_can_run(spec, point, ctx, built: set) -> None:
    """Memory estimate against the machine, then the world built once (seed 0) for each distinct world."""
    from choicelab.scenarios import conditions as conditions_registry
    from choicelab.scenarios.spec import _MISSING, ScenarioError

    budget = _MEMORY_SHARE * _machine_memory()
    for nbytes, key, value in memory_estimate(spec):
        if nbytes > budget:
            where = next((k for k in point if k == key or key.startswith(k) or k.startswith(key)), None)
            path = ("sweep", where) if where else tuple(key.split("."))
            raise ScenarioError(
                ctx.file,
                f"sweep.{where}" if where else key,
                point[where] if where else value,
                ctx._line_or_parent(path),
                f"a run would need about {nbytes / 2**30:.1f} GiB, more than half of this machine's "
                f"{_machine_memory() / 2**30:.1f} GiB",
            )
    world_key = json.dumps(spec.world.model_dump(mode="json"), sort_keys=True)
    if world_key in built or len(built) >= 64 or spec.data.kind == "none":
        return
    built.add(world_key)
    try:
        rng = np.random.default_rng(0)
        world = spec.world.build(rng)
        for c in spec.conditions.names:
            conditions_registry.get_condition(c).build(world, rng)
    except ScenarioError:
        raise
    except (ValueError, TypeError) as exc:
        where = next(iter(point), None)
        key = f"sweep.{where}" if where else "world"
        raise ScenarioError(
            ctx.file,
            key,
            point[where] if where else _MISSING,
            ctx._line_or_parent(("sweep", where) if where else ("world",)),
            f"the world cannot be built: {exc}",
        ) from None


def describe(spec: ExperimentSpec, point_specs=()) -> dict:
    """What a report says about the experiment, from the parts actually run (stored with the batch).

    ``point_specs`` are the specs of the sweep points: a swept list of measures or conditions is
    described by every entry any point runs.
    """
    from choicelab.estimators.registry import get_estimator
    from choicelab.scenarios import conditions as conditions_registry
    from choicelab.scenarios.measures import get_measure

    all_specs = [spec, *point_specs]
    notes = []
    clones = spec.world.clones
    swept = set(spec.sweep)
    if clones is not None and any(c in ("default", "clones") for c in spec.conditions.names):
        what = (
            f"alternative {clones.index}" if clones.index is not None else f"every original of topic {clones.topic!r}"
        )
        count = "a swept number of" if "world.clones.count" in swept else f"{clones.count}"
        if clones.type == "exact":
            notes.append(
                f"The world adds {count} exact copies of {what} (clones sit at the end, after the "
                "originals). Contract A2 (independence of clones) and P8 (exact-clone invariance): the "
                "Voronoi-weighted MLE splits the copied cell's weight among the copies, so its scores of the "
                "originals do not move; the standard MLE and Borda count each copy as a new alternative, so "
                "theirs do."
            )
        else:
            eps = "a swept ε" if "world.clones.eps" in swept else f"ε = {clones.eps:g}"
            notes.append(
                f"The world adds {count} approximate copies of {what}, each within {eps} of its original "
                "and with the population's own preferences. Contract A1 (robustness to approximate clones): "
                "the Voronoi-weighted MLE moves by O(ε), while the standard MLE's change tends to a positive "
                "limit as ε → 0."
            )
    data = spec.data
    regime = {
        "representative": "representative data (the exact preference matrix P)",
        "comparisons": f"{getattr(data, 'n', 0)} sampled comparisons per condition",
        "rankings": f"{getattr(data, 'n', 0)} sampled rankings per condition",
        "files": "the data files named in [data]",
        "none": "no data of the run's own: each measure builds its instances (searches, [XK] data sets)",
    }[data.kind]
    coupling = (
        "the conditions' data are drawn independently ([PSZ]'s design)"
        if spec.conditions.coupling == "independent"
        else "the conditions' data are maximally coupled (a comparison among shared alternatives is the same in "
        "every condition; same weight samples and estimator seeds)"
    )
    notes.append(
        f"Data: {regime}"
        + (f"; {coupling}." if len(spec.conditions.names) > 1 and data.kind != "representative" else ".")
    )
    return {
        "notes": notes,
        "conditions": {c: conditions_registry.get_condition(c).description for c in _union(all_specs, "conditions")},
        "estimators": {e: get_estimator(e).description for e in _union(all_specs, "estimators")},
        "measures": {mm: get_measure(mm).description for mm in _union(all_specs, "measures")},
        "summaries": {mm: get_measure(mm).summary for mm in _union(all_specs, "measures")},
        "effects": [mm for mm in _union(all_specs, "measures") if get_measure(mm).effect],
    }


def _union(specs, section) -> list:
    return list(dict.fromkeys(n for sp in specs for n in getattr(sp, section).names))


def _plugin_list(raw) -> list:
    plugins = raw.get("plugins")
    if isinstance(plugins, dict) and isinstance(plugins.get("modules"), list):
        return [str(x) for x in plugins["modules"]]
    return []


def _validate(raw: dict, ctx):
    """pydantic validation, then the cross-key checks; returns (spec, file digests)."""
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as exc:
        _raise_pydantic(exc, raw, ctx)
    digests: dict = {}
    spec = _check(spec, raw, ctx, digests)
    return spec, digests


def _raise_pydantic(exc: ValidationError, raw, ctx, prefix=()):
    """The first pydantic error as a ScenarioError (dotted key, value, line, 'did you mean')."""
    from choicelab.scenarios.spec import _MISSING, ScenarioError

    errors = exc.errors(include_url=False)
    groups: dict = {}
    for err in errors:
        path, value = _clean_loc(tuple(prefix) + tuple(err["loc"]), raw)
        groups.setdefault(path, []).append((err, value))
    path, errs = min(groups.items(), key=lambda kv: min(errors.index(e) for e, _ in kv[1]))
    err, value = errs[0]
    etype = err["type"]
    if etype == "missing":
        value = _MISSING
        message = "is required"
    elif etype == "extra_forbidden":
        valid = _valid_keys(path, raw)
        hint = difflib.get_close_matches(str(path[-1]), valid, n=1)
        message = "unknown key" + (
            f"; did you mean {_dotted(path[:-1] + (hint[0],))!r}?"
            if hint
            else f"; valid keys: {', '.join(valid) or '(none)'}"
        )
    elif etype in ("union_tag_invalid", "literal_error"):
        if etype == "union_tag_invalid":
            tag = err.get("ctx", {}).get("discriminator", "").strip("'")
            path = path + (tag,)
            value = err.get("ctx", {}).get("tag", value)
        allowed = err.get("ctx", {}).get("expected_tags") or err.get("ctx", {}).get("expected", "")
        options = [o.strip().strip("'") for o in str(allowed).replace(" or ", ",").split(",") if o.strip()]
        hint = difflib.get_close_matches(str(value), options, n=1)
        message = f"must be one of {allowed}" + (f"; did you mean {hint[0]!r}?" if hint else "")
    elif etype == "union_tag_not_found":
        tag = err.get("ctx", {}).get("discriminator", "").strip("'")
        path = path + (tag,)
        value = _MISSING
        message = "is required"
    else:
        msgs = []
        for e, _ in errs:
            text = e["msg"]
            text = text[len("Value error, ") :] if text.startswith("Value error, ") else text
            text = text.replace("Input should be", "must be")
            text = re.sub(r"a valid dictionary or instance of \w+", "a table", text)
            if text not in msgs:
                msgs.append(text)
        message = " or ".join(msgs) if len(msgs) <= 3 else "; ".join(msgs[:3])
    raise ScenarioError(ctx.file, _dotted(path) if path else None, value, ctx._line_or_parent(path), message) from None


def _clean_loc(loc, raw):
    """Drop union tags and member names from a pydantic location; return (path, value at it)."""
    from choicelab.scenarios.spec import _MISSING

    path, node = [], raw
    for k, part in enumerate(loc):
        if isinstance(node, dict):
            if part in node:
                path.append(part)
                node = node[part]
            elif k == len(loc) - 1 or not isinstance(part, str) or part in ("__root__",):
                path.append(part)
                node = _MISSING
            elif any(isinstance(loc[j], str) and loc[j] in node for j in range(k + 1, len(loc))) or _is_tag(part, node):
                continue  # a discriminator tag or a union member name
            else:
                path.append(part)
                node = _MISSING
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        else:
            break  # union member names under a scalar value
    return tuple(path), node


def _is_tag(part, node: dict) -> bool:
    return (
        any(isinstance(v, str) and v == part for v in node.values())
        or "[" in part
        or part in ("int", "float", "str", "list", "dict", "bool")
    )


def _valid_keys(path, raw) -> list:
    """Field names of the model that sits at ``path[:-1]``."""
    model = _model_at(ExperimentSpec, path[:-1], raw)
    return list(model.model_fields) if model is not None else []


def _model_at(model, path, raw):
    import typing

    tp, node = model, raw
    for part in path:
        tp = _unwrap(tp, node)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if part not in tp.model_fields:
                return None
            tp = tp.model_fields[part].annotation
        else:
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
            if origin in (list, dict) and args:
                tp = args[-1]
            else:
                return None
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
        )
    tp = _unwrap(tp, node)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp, node):
    import types
    import typing

    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin is Union or origin is types.UnionType:
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            if isinstance(node, dict):
                for mdl in models:  # pick the member whose Literal tag matches the raw table
                    for fname, f in mdl.model_fields.items():
                        if typing.get_origin(f.annotation) is Literal and node.get(fname) in typing.get_args(
                            f.annotation
                        ):
                            return mdl
            tp = models[0] if models else members[0]
            continue
        return tp


def _dotted(path) -> str:
    return ".".join(str(p) for p in path)


def _fail(ctx, path, value, message):
    from choicelab.scenarios.spec import ScenarioError

    path = tuple(path)
    raise ScenarioError(ctx.file, _dotted(path), value, ctx._line_or_parent(path), message)


def _resolve_file(ctx, path, value) -> str:
    p = Path(value)
    if not p.is_absolute():
        p = ctx.folder / p
    if not p.is_file():
        _fail(ctx, path, value, f"no such file ({p})")
    return str(p.resolve())


def _check(spec: ExperimentSpec, raw, ctx, digests: dict) -> ExperimentSpec:
    """Cross-key rules; returns the spec with data file paths made absolute."""
    from choicelab.estimators.registry import get_estimator, list_estimators
    from choicelab.scenarios import conditions as conditions_registry
    from choicelab.scenarios.measures import get_measure, list_measures
    from choicelab.scenarios.spec import _MISSING, ScenarioError

    world = spec.world
    m_file, file_topics = None, ()
    updates: dict = {}
    if isinstance(world.alternatives, FileSpec):
        path = _resolve_file(ctx, ("world", "alternatives", "path"), world.alternatives.path)
        try:
            alts = _read_file(path, "alternatives", None, world.alternatives.reader)
        except ScenarioError as exc:
            raise ScenarioError(
                exc.file,
                exc.key,
                exc.value,
                exc.line,
                f"{exc.message} (file named by world.alternatives.path in {ctx.file})",
            ) from None
        except ValueError as exc:
            _fail(ctx, ("world", "alternatives", "path"), world.alternatives.path, str(exc))
        labels = alts.labels
        m_file = alts.m
        file_topics = sorted({str(x) for x in labels.tolist()}) if labels.dtype.kind == "U" else ()
        digests[path] = _digest(path)
        updates["world"] = world.model_copy(
            update={"alternatives": world.alternatives.model_copy(update={"path": path})}
        )
    for key, value, message in world_problems(world, m_file, file_topics):
        _fail(
            ctx,
            ("world",) + tuple(int(p) if p.isdigit() else p for p in key.split(".")),
            _MISSING if value is None else value,
            message,
        )

    data = spec.data
    form = _DATA_FORM.get(data.kind)
    if data.kind == "none":
        form = None
        if spec.conditions.names != ["default"]:
            _fail(
                ctx,
                ("conditions", "names"),
                spec.conditions.names,
                "data.kind = 'none' runs no fits, so only the condition 'default' applies",
            )
    elif data.kind != "files" and (world.alternatives is None or world.population is None):
        missing = "alternatives" if world.alternatives is None else "population"
        _fail(
            ctx, ("world", missing), _MISSING, f"is required for data.kind = {data.kind!r} (or use data.kind = 'files')"
        )
    if data.kind == "files":
        if (data.comparisons is None) == (data.rankings is None):
            _fail(
                ctx,
                ("data",),
                _MISSING,
                "data.kind = 'files' needs exactly one of 'comparisons' (.csv/.jsonl) "
                "or 'rankings' (PrefLib .soc/.soi/.toc/.toi)",
            )
        if world.alternatives is None:
            _fail(
                ctx,
                ("world", "alternatives"),
                _MISSING,
                "is required with data files (generator = 'file' with the embeddings' path)",
            )
        m = m_file if m_file is not None else getattr(world.alternatives, "m", None)
        key = "comparisons" if data.comparisons is not None else "rankings"
        path = _resolve_file(ctx, ("data", key), getattr(data, key))
        try:
            _read_file(path, key, m, data.reader)
        except ScenarioError as exc:
            raise ScenarioError(
                exc.file, exc.key, exc.value, exc.line, f"{exc.message} (file named by data.{key} in {ctx.file})"
            ) from None
        except ValueError as exc:
            _fail(ctx, ("data", key), getattr(data, key), str(exc))
        digests[path] = _digest(path)
        updates["data"] = data.model_copy(update={key: path})
        form = "comparisons" if key == "comparisons" else "rankings"

    # conditions
    conds = spec.conditions
    known_conditions = [c.name for c in conditions_registry.list_conditions()]
    for k, name in enumerate(conds.names):
        _known_name(ctx, ("conditions", "names"), name, known_conditions, "condition", k)
        if conditions_registry.get_condition(name).clones and name != "default" and world.clones is None:
            _fail(ctx, ("world", "clones"), _MISSING, f"is required by condition {name!r}")
    if len(set(conds.names)) != len(conds.names):
        _fail(ctx, ("conditions", "names"), conds.names, "must not repeat a condition")
    if data.kind == "files" and conds.names != ["default"]:
        _fail(
            ctx,
            ("conditions", "names"),
            conds.names,
            "data files are fixed: only the condition 'default' applies (the data cannot be redrawn)",
        )
    if data.kind == "files" and world.clones is not None:
        _fail(ctx, ("world", "clones"), _MISSING, "does not apply to data files (they cannot be redrawn with clones)")
    if (
        conds.coupling == "paired"
        and data.kind in ("rankings", "files")
        and "coupling" in (raw.get("conditions") or {})
    ):
        _fail(
            ctx,
            ("conditions", "coupling"),
            conds.coupling,
            f"'paired' couples sampled comparisons; data.kind = {data.kind!r} has none to pair",
        )

    # estimators
    est = spec.estimators
    known = [e.name for e in list_estimators()]
    for k, name in enumerate(est.names):
        _known_name(ctx, ("estimators", "names"), name, known, "estimator", k)
        entry = get_estimator(name)
        from choicelab._extras import available

        if entry.extra is not None and not available(entry.extra):
            _fail(
                ctx,
                ("estimators", "names"),
                name,
                f"needs the {entry.extra} extra (item [{k}]): pip install 'choicelab[{entry.extra}]'",
            )
        if form is not None and form not in entry.consumes:
            _fail(
                ctx,
                ("estimators", "names"),
                name,
                f"cannot use data.kind = {data.kind!r} (item [{k}]: {name} consumes "
                f"{', '.join(entry.consumes)}; the data give {form})",
            )
    if len(set(est.names)) != len(est.names):
        _fail(ctx, ("estimators", "names"), est.names, "must not repeat an estimator")
    from choicelab.estimators.weightings import get_weighting, list_weightings

    wname = est.weights.get("name", "voronoi")
    known_w = [w.name for w in list_weightings()]
    if wname not in known_w:
        hint = difflib.get_close_matches(str(wname), known_w, n=1)
        _fail(
            ctx,
            ("estimators", "weights", "name"),
            wname,
            "unknown weighting" + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(known_w)}"),
        )
    wopts = {k: v for k, v in est.weights.items() if k != "name"}
    _validate_options(get_weighting(wname).params, wopts, ("estimators", "weights"), raw, ctx, f"weighting {wname!r}")
    for name, opts in est.options.items():
        if name not in est.names:
            _fail(
                ctx,
                ("estimators", "options", name),
                opts,
                f"names no estimator of estimators.names ({', '.join(est.names)})",
            )
        _validate_options(
            get_estimator(name).params, opts, ("estimators", "options", name), raw, ctx, f"estimator {name!r}"
        )

    # measures
    meas = spec.measures
    known_measures = [mm.name for mm in list_measures()]
    for k, name in enumerate(meas.names):
        _known_name(ctx, ("measures", "names"), name, known_measures, "measure", k)
        entry = get_measure(name)
        for need in entry.needs:
            problem = _unmet(need, spec, world, form)
            if problem:
                _fail(ctx, ("measures", "names"), name, f"item [{k}] {problem}")
    for name, opts in meas.options.items():
        if name not in meas.names:
            _fail(
                ctx,
                ("measures", "options", name),
                opts,
                f"names no measure of measures.names ({', '.join(meas.names)})",
            )
    for name in meas.names:
        model = _validate_options(
            get_measure(name).params,
            meas.options.get(name, {}),
            ("measures", "options", name),
            raw,
            ctx,
            f"measure {name!r}",
        )
        for key, value, message in getattr(model, "problems", lambda s: [])(spec):
            _fail(ctx, ("measures", "options", name, key), value, message)

    # figures
    if spec.report.figures:
        from choicelab.reports.figures import list_figures

        figs = list_figures()
        for k, name in enumerate(spec.report.figures):
            if name not in figs:
                hint = difflib.get_close_matches(name, list(figs), n=1)
                _fail(
                    ctx,
                    ("report", "figures"),
                    name,
                    f"unknown figure (item [{k}])"
                    + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(figs)}"),
                )
    return spec.model_copy(update=updates) if updates else spec


def _known_name(ctx, path, name, known, what: str, k: int) -> None:
    """Fail on a name no registry entry has, with the nearest one (or the known ones)."""
    if name not in known:
        hint = difflib.get_close_matches(name, known, n=1)
        _fail(
            ctx,
            path,
            name,
            f"unknown {what} (item [{k}])"
            + (f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(known)}"),
        )


def _unmet(need: str, spec, world, form) -> str | None:
    if need in ("fits", "instance") and spec.data.kind == "none":
        return "needs the scenario's world and data, but data.kind = 'none' has none"
    if need == "data-none" and spec.data.kind != "none":
        return "builds its own data sets; use it with data.kind = 'none'"
    if need == "topics" and not world.topics:
        return "needs a world with named topics (generator = 'topic_clusters')"
    if need == "positions" and world.alternatives is None:
        return "needs alternatives with positions"
    if need == "population" and (world.population is None or spec.data.kind == "files"):
        return "needs a population (its preferences define the clones' preferences)"
    if need == "region" and world.region is None:
        return "needs world.region"
    if need == "conditions>=2" and len(spec.conditions.names) < 2:
        return "compares conditions; name at least two in conditions.names"
    if need == "reward":
        from choicelab.estimators.registry import get_estimator

        rules = [n for n in spec.estimators.names if get_estimator(n).kind != "reward"]
        if rules:
            return f"applies to reward estimators only, not to {', '.join(rules)}"
    return None


def _validate_options(model, opts, path, raw, ctx, who):
    if model is None:
        if opts:
            key = next(iter(opts))
            _fail(ctx, path + (key,), opts[key], f"{who} takes no options")
        return None
    try:
        return model.model_validate(opts)
    except ValidationError as exc:
        _raise_pydantic_options(exc, opts, path, ctx, model)


def _raise_pydantic_options(exc, opts, path, ctx, model):
    from choicelab.scenarios.spec import _MISSING, ScenarioError

    err = exc.errors(include_url=False)[0]
    loc = tuple(err["loc"])
    value = opts.get(loc[0], _MISSING) if loc and isinstance(opts, dict) else _MISSING
    if err["type"] == "extra_forbidden":
        hint = difflib.get_close_matches(str(loc[0]), list(model.model_fields), n=1)
        message = "unknown option" + (
            f"; did you mean {hint[0]!r}?" if hint else f"; valid options: {', '.join(model.model_fields) or '(none)'}"
        )
    else:
        message = err["msg"].replace("Input should be", "must be")
    full = path + loc[:1]
    raise ScenarioError(ctx.file, _dotted(full), value, ctx._line_or_parent(full), message) from None


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------- sweep
def _grid(sweep: dict):
    keys = list(sweep)
    for values in itertools.product(*(sweep[k] for k in keys)):
        yield dict(zip(keys, values))


def _split_dotted(key: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))


def _point_spec(raw: dict, point: dict, ctx) -> ExperimentSpec:
    """The spec with the sweep ``point`` applied to the raw TOML; errors blame the sweep key."""
    from choicelab.scenarios.spec import ScenarioError

    if not point:
        spec, _ = _validate(raw, ctx)
        return spec
    raw = copy.deepcopy(raw)
    raw.pop("sweep", None)
    for key, value in point.items():
        parts = _split_dotted(key)
        if parts[0] in ("scenario", "sweep", "plugins"):
            raise ScenarioError(
                ctx.file, f"sweep.{key}", value, ctx.line(("sweep", key)), f"cannot sweep the [{parts[0]}] section"
            )
        node = raw
        try:
            for p in parts[:-1]:
                if isinstance(p, int):
                    if not isinstance(node, list) or p >= len(node):
                        raise IndexError(p)
                    node = node[p]
                else:
                    if not isinstance(node, dict):
                        raise KeyError(p)
                    node = node.setdefault(p, {})
            if isinstance(parts[-1], int):
                if not isinstance(node, list) or parts[-1] >= len(node):
                    raise IndexError(parts[-1])
            node[parts[-1]] = value
        except (IndexError, KeyError, TypeError) as exc:
            raise ScenarioError(
                ctx.file,
                f"sweep.{key}",
                value,
                ctx.line(("sweep", key)),
                f"names no value of the scenario (no element {exc.args[0]!r} on that path)",
            ) from None
    try:
        spec, _ = _validate(raw, ctx)
    except ScenarioError as exc:
        failing = exc.key or ""
        culprit = max(point, key=lambda k: _common_prefix(k, failing))
        raise ScenarioError(
            ctx.file,
            f"sweep.{culprit}",
            point[culprit],
            ctx.line(("sweep", culprit)),
            f"gives an invalid scenario: {exc.key} = {exc.value!r}: {exc.message}"
            if exc.key
            else f"gives an invalid scenario: {exc.message}",
        ) from None
    return spec


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def expand_experiment(scenario, seed_override=None) -> list:
    """All runs of an experiment scenario: the sweep grid (last key fastest) times the seeds."""
    from choicelab.scenarios.spec import Run, _Context, _replace_paths, _run_id

    base = scenario.base_seed if seed_override is None else seed_override
    ctx = _Context(scenario.source, scenario.text)
    runs = []
    plugins = tuple(scenario.params.get("plugins", {}).get("modules", []))
    for point in _grid(scenario.sweep):
        spec = _point_spec(scenario.raw, point, ctx)
        params = spec.model_dump(mode="json", exclude={"sweep", "report"})
        params["scenario"] = {"name": spec.scenario.name, "description": "", "seeds": 1, "base_seed": 0}
        hashed = _replace_paths(params, scenario.file_digests)
        hashed.pop("plugins", None)  # where a plugin file lives does not change the numbers
        param_hash = hashlib.sha256(
            json.dumps(hashed, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
        ).hexdigest()[:32]
        for offset in scenario.seeds:
            seed = base + offset
            runs.append(
                Run(
                    run_id=_run_id(scenario.name, KIND, hashed, seed),
                    batch=scenario.name,
                    kind=KIND,
                    params=params,
                    seed=seed,
                    point=dict(point),
                    plugins=plugins,
                    param_hash=param_hash,
                )
            )
    return runs


# ------------------------------------------------------------------------------------------ run
@dataclass(frozen=True, eq=False)
class ConditionData:
    """One condition of a run: its alternatives, instance, data (None = the exact P) and weights."""

    name: str
    alternatives: object
    instance: object
    data: object
    weights: object


def run_experiment(params: dict, seed: int, out) -> None:
    """Run one experiment (``params`` = the validated, expanded scenario) into ``out`` (TaskOutput).

    Draw order, all from ``rng = default_rng(seed)``: the world; each condition's alternatives
    (in condition order); then, with ``independent`` coupling, per condition in order: its data,
    its weights, its fits (estimator order); with ``paired`` coupling, two shared seeds (weight
    samples, estimator fits), all conditions' data at once, then per condition its weights and
    fits from the shared seeds. Measures run last, in order: under ``independent`` coupling they
    draw from the run's ``rng`` in sequence (measure, condition, estimator); under ``paired`` each
    (measure, estimator) gets a generator of its own, the same for every condition.
    """
    from choicelab.scenarios import conditions as conditions_registry
    from choicelab.scenarios.measures import MeasureContext, get_measure

    spec = ExperimentSpec.model_validate(params)
    import_plugins(spec.plugins.modules)
    rng = np.random.default_rng(seed)
    world = spec.world.build(rng)
    names = spec.conditions.names
    fitting = spec.data.kind != "none"
    alts = (
        {c: conditions_registry.get_condition(c).build(world, rng) for c in names}
        if fitting
        else {c: world.alternatives for c in names}
    )
    # coupling is a relation between conditions: one condition draws as it always did
    paired = spec.conditions.coupling == "paired" and len(names) > 1
    est_entries = [_estimator(n) for n in spec.estimators.names]
    # the runner fits only when a measure reads its fits (an A1 curve or an axiom check refits itself)
    fits_needed = fitting and any("fits" in get_measure(n).needs for n in spec.measures.names)
    weighted = fits_needed and any(e.weighted for e in est_entries)
    shared = None
    if paired:  # common random numbers: one weight-sample seed and one fit seed for every condition
        shared = (int(rng.integers(2**63 - 1)), int(rng.integers(2**63 - 1)))
    datas = _draw_data(spec, world, names, alts, rng, paired=True) if paired and fitting else {}
    conds, outputs = {}, {}
    for c in names:
        A = alts[c]
        outputs[c] = {e.name: None for e in est_entries}
        if not fitting:
            conds[c] = ConditionData(name=c, alternatives=A, instance=None, data=None, weights=None)
            continue
        if not paired:
            datas[c] = _draw_data(spec, world, [c], alts, rng, paired=False)[c]
        region = world.region if world.region is not None else _bounding_box(A.X)
        inst = _instance(A, world.population, region, datas[c])
        w = None
        if weighted:
            w = compute_weights(spec, A.X, region, np.random.default_rng(shared[0]) if paired else rng)
        conds[c] = ConditionData(name=c, alternatives=A, instance=inst, data=datas[c], weights=w)
        for k, entry in enumerate(est_entries if fits_needed else ()):
            frng = np.random.default_rng([shared[1], k]) if paired else rng
            opts = spec.estimators.options.get(entry.name, {})
            if entry.params is not None:
                opts = entry.params.model_validate(opts).model_dump(exclude_none=True)
                if "seed" in entry.params.model_fields and "seed" not in opts:
                    # an estimator with a seed option gets one integer seed per fit from the run's generator
                    opts["seed"] = int(frng.integers(0, 2**62))
            outputs[c][entry.name] = entry.fit(
                inst,
                data=datas[c],
                weights=w if entry.weighted else None,
                lam=spec.estimators.lam,
                rng=frng,
                quick=spec.estimators.quick,
                **opts,
            )
        if A.d <= 2:
            out.blobs[f"X.{c}"] = np.asarray(A.X, dtype=float)
            out.blobs[f"clone_of.{c}"] = np.asarray(A.clone_of, dtype=np.int64)
            out.blobs[f"labels.{c}"] = np.asarray([str(x) for x in A.labels])
            if w is not None:
                out.blobs[f"weights.{c}"] = w
        if A.m <= 64 and inst is not None:
            out.blobs[f"P.{c}"] = np.asarray(inst.P, dtype=float)
    if world.region is not None:
        from choicelab.sim.regions import region_to_dict

        out.blobs["region"] = np.array(json.dumps(region_to_dict(world.region)))
    for mname in spec.measures.names:
        measure = get_measure(mname)
        mopts = spec.measures.options.get(mname, {})
        mparams = measure.params.model_validate(mopts) if measure.params is not None else None
        if measure.per == "fit":
            calls = [(c, e.name) for c in names for e in est_entries]
        elif measure.per == "estimator":
            calls = [(names[0], e.name) for e in est_entries]
        else:
            calls = [(None, None)]
        for c, e in calls:
            mrng = (
                np.random.default_rng([seed, zlib.crc32(mname.encode()), zlib.crc32(str(e).encode())])
                if paired
                else rng
            )
            ctx = MeasureContext(
                spec=spec,
                seed=seed,
                rng=mrng,
                world=world,
                conditions=conds,
                outputs=outputs,
                params=mparams,
                condition=c,
                estimator=e,
                output=None if c is None else outputs[c][e],
                blobs=out.blobs,
            )
            for item in measure.fn(ctx) or ():
                _record(out, mname, c, e, item)


def compute_weights(spec, X, region, rng) -> np.ndarray:
    """The scenario's weighting (``[estimators.weights]``, default Voronoi) of the points ``X``."""
    from choicelab.estimators.weightings import get_weighting

    opts = dict(spec.estimators.weights)
    name = opts.pop("name", "voronoi")
    return get_weighting(name).compute(X, region, rng, **opts)


def _estimator(name):
    from choicelab.estimators.registry import get_estimator

    return get_estimator(name)


def _read_file(path, produces: str, m=None, reader=None):
    """A data file through the reader registry (by suffix, or by name); DataFileError -> ScenarioError."""
    from choicelab.scenarios.spec import ScenarioError, _scenario_error
    from choicelab.sim.io import DataFileError
    from choicelab.sim.readers import read

    try:
        out = read(path, produces, m=m, reader=reader)
    except DataFileError as exc:
        raise _scenario_error(exc) from None
    if produces == "comparisons" and out.n == 0:
        raise ScenarioError(path, None, None, None, "holds no comparisons")
    if produces == "alternatives" and out.m < 2:
        raise ScenarioError(path, None, None, None, f"needs at least 2 alternatives, got {out.m}")
    return out


def _draw_data(spec, world, names, alts, rng, paired) -> dict:
    data = spec.data
    if data.kind in ("representative", "none"):
        return {c: None for c in names}
    if data.kind == "files":
        A = alts[names[0]]
        key = "comparisons" if data.comparisons is not None else "rankings"
        comps = _read_file(getattr(data, key), key, A.m, data.reader)
        return {c: comps for c in names}
    pop = world.population
    if data.kind == "rankings":
        return {c: pop.sample_rankings(alts[c].X, data.n, k=data.k, rng=rng) for c in names}
    if paired:
        from choicelab.sim.population import sample_coupled_comparisons

        drawn = sample_coupled_comparisons(pop, [alts[c].X for c in names], data.n, rng=rng)
        return dict(zip(names, drawn))
    return {c: pop.sample_comparisons(alts[c].X, data.n, rng=rng, design=data.design) for c in names}


def _bounding_box(X, margin: float = 0.1):
    from choicelab import sim

    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * np.where(hi > lo, hi - lo, 1.0)
    return sim.Box(lo - pad, hi + pad)


def _instance(alts, population, region, data):
    from choicelab import sim

    if population is not None:
        return sim.Instance(alts, population, region)
    # data files without a population: the empirical matrix (unknown pairs 1/2) stands in for P
    from choicelab.sim.data import Rankings, empirical_matrix

    comps = data.to_comparisons() if isinstance(data, Rankings) else data
    P = empirical_matrix(comps, alts.m)
    P = np.where(np.isnan(P), 0.5, P)
    P.flags.writeable = False
    return sim.Instance._from_parts(alts, None, region, P, alts.labels)


def _record(out, measure: str, condition, estimator, item) -> None:
    from choicelab.axioms.base import Verdict

    if isinstance(item, Verdict):
        d = item.to_dict()
        out.verdicts.append(
            {
                "condition": condition or "default",
                "axiom": item.axiom,
                "estimator": item.estimator,
                "expected": item.expected,
                "measured": item.measured,
                "agrees": item.agrees,
                "magnitude": d["magnitude"],
                "witness": _jsonable(item.witness),
            }
        )
        out.rows.append(
            {
                "condition": condition or "default",
                "estimator": item.estimator,
                "measure": measure,
                "item": "measured",
                "label": item.measured,
                "value": item.magnitude,
            }
        )
        return
    cond = item.condition if item.condition is not None else (condition or "default")
    est = item.estimator if item.estimator is not None else (estimator or "")
    out.rows.append(
        {
            "condition": cond,
            "estimator": est,
            "measure": measure,
            "item": _item_text(item.item),
            "label": str(item.label),
            "value": float(item.value),
            "stderr": None if item.stderr is None else float(item.stderr),
            "ci_low": None if item.ci_low is None else float(item.ci_low),
            "ci_high": None if item.ci_high is None else float(item.ci_high),
        }
    )


def _item_text(item) -> str:
    if isinstance(item, (float, np.floating)):
        return f"{float(item):.6g}"
    if isinstance(item, (np.integer,)):
        return str(int(item))
    return str(item)


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=_json_default)) if obj is not None else None


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)

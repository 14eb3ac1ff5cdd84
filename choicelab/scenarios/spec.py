"""Scenario files: the TOML schema, validation with file/key/value/line in every error, sweeps.

A scenario is data only (stdlib ``tomllib``; nothing is executed, nothing evaluated). It says
what world to build, which data to draw or read, which estimators to fit, which metrics and
axioms to measure, over how many seeds, and which parameters to sweep (DESIGN, "Scenarios").

Sections
--------
``[scenario]``   ``name`` (batch name), ``description``, ``kind`` (the computation in
                 :mod:`choicelab.scenarios.tasks`), ``seeds`` (a count n, meaning offsets
                 0..n-1, or a list of offsets), ``base_seed`` (run seed = base_seed + offset).
``[world]``      ``alternatives`` (``generator`` = topic_clusters | uniform | grid | file),
                 ``clones`` (exact | approximate copies of an ``index`` or of every response of
                 a ``topic``), ``population`` (``choice``, ``beta``, ``[[world.population.types]]``
                 with ``share``, ``reward`` family and its parameters), ``region`` (box or ball).
``[data]``       ``kind`` = representative | comparisons (``n``, ``design``) | rankings (``n``,
                 ``k``) | files (``embeddings`` .npy/.csv and ``comparisons`` .csv/.jsonl).
``[estimators]`` ``names``, ``lam``, ``[estimators.neural]`` (hidden, layers, lr, batch_size,
                 steps, seeds), ``[estimators.voronoi]`` (method, n_samples).
``[metrics]``    ``names``.  ``[axioms]`` ``ids``, ``quick``.
``[task]``       parameters specific to the scenario kind (see :data:`TASK_SCHEMAS`).
``[sweep]``      ``"dotted.key" = [v1, v2, ...]``: the grid (Cartesian product, in file order).
``[report]``     ``figures`` the scenario declares for reports.

Relative file paths are resolved against the scenario file's folder. Data files are read
and checked when the scenario is loaded, so a malformed file fails before any run starts.

Run identity
------------
:func:`expand` gives one :class:`Run` per sweep point and seed. ``run_id`` is the first 32 hex
digits of ``sha256`` of the canonical JSON (sorted keys, no spaces) of
``{"batch": name, "kind": kind, "params": params, "seed": seed}``, where in ``params`` every data
file path is replaced by the sha256 of its content (so ids survive moving the files and change
when their content changes).
"""
from __future__ import annotations

import copy
import difflib
import hashlib
import itertools
import json
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = ["ScenarioError", "Scenario", "Run", "load_scenario", "parse_scenario", "expand", "list_builtin",
           "read_embeddings", "read_comparisons", "TASK_KINDS", "KNOWN_FIGURES", "KNOWN_METRICS"]

_LIBRARY = "library"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# Registry names of DESIGN.md ("Estimator names in the registry"); the registry, when importable,
# is asked first.
_DESIGN_ESTIMATORS = ("mle", "weighted_mle", "neural_mle", "neural_weighted_mle", "pl_mle", "linear_mle",
                      "borda", "wawr", "copeland", "schulze", "ranked_pairs", "kemeny", "maximal_lottery")
# The ids of SPEC §3.
_AXIOM_IDS = ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "T1", "P4", "P5", "P6", "P7", "P8",
              "X1", "X2", "X3", "X4")
KNOWN_FIGURES = ("topic_rewards", "delta_curves", "sensitivity_heatmap", "voronoi_cells", "majority_graph",
                 "theory_table", "residuals", "clone_diagnostic")
KNOWN_METRICS = ("topic_reward", "top_topic", "rank_change", "fit_quality", "delta", "residual",
                 "weighted_sum", "order_agreement", "learned_p_ik", "max_error", "verdict", "clone_diagnostic",
                 "kendall_tau", "value")
_REWARD_FAMILIES = ("linear", "ideal_point", "topic_table", "rbf_mixture", "explicit")


class ScenarioError(Exception):
    """A scenario (or a data file it names) is malformed.

    Attributes
    ----------
    file : str
        The scenario file, or the data file that failed to parse.
    key : str or None
        Dotted key path (``world.population.types[1].share``) or, for a data file, the field.
    value : object
        The offending value (``None`` when a required key is missing).
    line : int or None
        1-based line in ``file`` where the key (or data record) sits, when known.
    message : str
        What is wrong, in one line (with the nearest valid key for unknown keys).
    """

    def __init__(self, file, key, value, line, message):
        self.file, self.key, self.value, self.line, self.message = str(file), key, value, line, message
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.key is None:
            return f"{where}: {self.message}"
        if self.value is _MISSING:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.key} = {_short_repr(self.value)}: {self.message}"


def _short_repr(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Missing:
    def __repr__(self):
        return "<missing>"


_MISSING = _Missing()


class _Invalid(Exception):
    """Raised by a validator: the value at hand is wrong, the message says why."""


# ---------------------------------------------------------------------------------------------
# Value validators: each takes the raw TOML value and returns the normalised one or raises.

def _string(v):
    if not isinstance(v, str):
        raise _Invalid("must be a string")
    return v


def _name(v):
    v = _string(v)
    if not _NAME_RE.match(v):
        raise _Invalid("must be a name of letters, digits, '.', '_' or '-' (starting with a letter or digit)")
    return v


def _boolean(v):
    if not isinstance(v, bool):
        raise _Invalid("must be true or false")
    return v


def _integer(minimum=None):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise _Invalid("must be an integer" + ("" if minimum is None else f" >= {minimum}"))
        if minimum is not None and v < minimum:
            raise _Invalid(f"must be an integer >= {minimum}")
        return v
    return check


def _real(minimum=None, strict=False, maximum=None, strict_max=False):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise _Invalid("must be a number")
        v = float(v)
        if not math.isfinite(v):
            raise _Invalid("must be finite")
        if minimum is not None and (v < minimum or (strict and v == minimum)):
            raise _Invalid(f"must be {'>' if strict else '>='} {minimum:g}")
        if maximum is not None and (v > maximum or (strict_max and v == maximum)):
            raise _Invalid(f"must be {'<' if strict_max else '<='} {maximum:g}")
        return v
    return check


def _choice(*options):
    def check(v):
        if v not in options:
            hint = difflib.get_close_matches(str(v), [str(o) for o in options], n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise _Invalid(f"must be one of {', '.join(map(repr, options))}{extra}")
        return v
    return check


def _list_of(item, min_len=1, unique=False):
    def check(v):
        if not isinstance(v, list):
            raise _Invalid("must be a list")
        if len(v) < min_len:
            raise _Invalid(f"must hold at least {min_len} item{'s' if min_len != 1 else ''}")
        out = []
        for k, x in enumerate(v):
            try:
                out.append(item(x))
            except _Invalid as exc:
                raise _Invalid(f"item [{k}] = {_short_repr(x)} {exc}") from None
        if unique and len({json.dumps(x) for x in out}) != len(out):
            raise _Invalid("must not repeat items")
        return out
    return check


def _either(*checks, message):
    def check(v):
        for c in checks:
            try:
                return c(v)
            except _Invalid:
                continue
        raise _Invalid(message)
    return check


_vector = _list_of(_real())


def _matrix(v):
    rows = _list_of(_vector)(v)
    if len({len(r) for r in rows}) != 1:
        raise _Invalid("must be a list of equal-length number lists")
    return rows


def _number_table(v):
    if not isinstance(v, dict) or not v:
        raise _Invalid("must be a non-empty table name = number")
    return {str(k): _real()(x) for k, x in v.items()}


def _seeds(v):
    if isinstance(v, list):
        return _list_of(_integer(0), unique=True)(v)
    return _integer(1)(v)


def _path(v):
    v = _string(v)
    if not v:
        raise _Invalid("must be a non-empty file path")
    return v


# ---------------------------------------------------------------------------------------------
# Schema description

@dataclass(frozen=True)
class _Field:
    check: object
    required: bool = False
    default: object = _MISSING
    path_like: bool = False


@dataclass(frozen=True)
class _Table:
    fields: dict
    required: bool = False
    open_keys: object = None  # validator for arbitrary keys (name -> value), e.g. topics, sweep


@dataclass(frozen=True)
class _TableArray:
    table: _Table
    required: bool = False
    min_len: int = 1


_ALTERNATIVES = _Table({
    "generator": _Field(_choice("topic_clusters", "uniform", "grid", "file"), required=True),
    "topics": _Table({}, open_keys=_vector),
    "per_topic": _Field(_either(_integer(1), _list_of(_integer(1)), message="must be an integer >= 1 or a list of them")),
    "spread": _Field(_either(_real(0.0), _list_of(_real(0.0)), message="must be a number >= 0 or a list of them")),
    "scales": _Field(_list_of(_real(0.0, strict=True))),
    "m": _Field(_integer(1)),
    "per_axis": _Field(_either(_integer(1), _list_of(_integer(1)), message="must be an integer >= 1 or a list of them")),
    "path": _Field(_path, path_like=True),
})
_CLONES = _Table({
    "type": _Field(_choice("exact", "approximate"), required=True),
    "index": _Field(_integer(0)),
    "topic": _Field(_string),
    "count": _Field(_integer(0), required=True),
    "eps": _Field(_real(0.0)),
})
_TYPE = _Table({
    "share": _Field(_real(0.0, strict=True), required=True),
    "reward": _Field(_choice(*_REWARD_FAMILIES), required=True),
    "theta": _Field(_vector),
    "center": _Field(_vector),
    "utilities": _Field(_either(_vector, _number_table, message="must be a list of numbers or a table topic = number")),
    "tau": _Field(_real(0.0, strict=True)),
    "centers": _Field(_matrix),
    "weights": _Field(_vector),
    "bandwidth": _Field(_either(_real(0.0, strict=True), _list_of(_real(0.0, strict=True)), message="must be a positive number or a list of them")),
    "values": _Field(_vector),
})
_POPULATION = _Table({
    "choice": _Field(_choice("bt", "thurstone", "deterministic"), default="bt"),
    "beta": _Field(_real(0.0, strict=True), default=1.0),
    "types": _TableArray(_TYPE, required=True),
})
_REGION = _Table({
    "type": _Field(_choice("box", "ball"), required=True),
    "lo": _Field(_vector), "hi": _Field(_vector),
    "center": _Field(_vector), "radius": _Field(_real(0.0, strict=True)),
})
_NEURAL = _Table({
    "hidden": _Field(_integer(1), default=32),
    "layers": _Field(_integer(0), default=1),
    "lr": _Field(_real(0.0, strict=True), default=1e-4),
    "batch_size": _Field(_integer(1), default=512),
    "steps": _Field(_integer(1), default=500),
    "seeds": _Field(_integer(1), default=20),
    "activation": _Field(_choice("relu", "tanh", "sigmoid", "gelu", "softplus"), default="relu"),
    "output_reg": _Field(_real(0.0), default=0.0),
})
_VORONOI = _Table({
    "method": _Field(_choice("auto", "exact", "monte_carlo", "kdtree", "brute"), default="auto"),
    "n_samples": _Field(_integer(1), default=200_000),
})

# Parameters of each scenario kind ([task] section); defaults documented here and in tasks.py.
TASK_SCHEMAS = {
    "selftest": _Table({
        "sleep": _Field(_real(0.0), default=0.0),            # seconds to sleep per run
        "work": _Field(_integer(0), default=0),              # CPU-bound iterations (benchmarks)
        "fail_seeds": _Field(_list_of(_integer(0), min_len=0), default=[]),  # run seeds that raise
        "values": _Field(_integer(1), default=3),            # result rows per run
    }),
    "case_study": _Table({
        "exact_check": _Field(_boolean, default=True),       # also fit bt_mle / weighted bt_mle
    }),
    "borda_identity": _Table({
        "weights": _Field(_choice("voronoi", "dirichlet"), default="voronoi"),
    }),
    "clone_robustness": _Table({
        # the A1 grid of choicelab.axioms.clones (1e-1 ... 1e-4, 7 points)
        "eps": _Field(_list_of(_real(0.0, strict=True), unique=True),
                      default=[float(f"{10 ** (-1 - 0.5 * k):.12g}") for k in range(7)]),
        "indices": _Field(_list_of(_integer(0), unique=True), default=[0]),  # alternatives to clone
        "quick": _Field(_boolean, default=False),                              # registry quick fits
    }),
    "sensitivity": _Table({
        "p_jk": _Field(_real(0.0, strict=True, maximum=1.0, strict_max=True), default=0.99),
        "points": _Field(_integer(2), default=9),
        "half_width": _Field(_real(0.0, strict=True), default=3.0),
        "n_per_pair": _Field(_integer(1), default=20000),
        "map_points": _Field(_integer(2), default=41),
        "pairwise_vs_tuple": _Field(_boolean, default=True),
        "quick": _Field(_boolean, default=False),
    }),
    "axiom_matrix": _Table({}),
    "byo_data": _Table({
        "dense_weight_ratio": _Field(_real(0.0, strict=True, maximum=1.0), default=0.25),
        "dense_nn_ratio": _Field(_real(0.0, strict=True, maximum=1.0), default=0.25),
        "collapse_radius": _Field(_real(0.0, strict=True)),  # default: dense_nn_ratio * (vol(S)/m)^(1/d)
        "region_margin": _Field(_real(0.0), default=0.1),
    }),
}
TASK_KINDS = tuple(TASK_SCHEMAS)

_SCHEMA = _Table({
    "scenario": _Table({
        "name": _Field(_name, required=True),
        "description": _Field(_string, default=""),
        "kind": _Field(_choice(*TASK_KINDS), required=True),
        "seeds": _Field(_seeds, default=1),
        "base_seed": _Field(_integer(0), default=0),
    }, required=True),
    "world": _Table({
        "alternatives": _ALTERNATIVES,
        "clones": _CLONES,
        "population": _POPULATION,
        "region": _REGION,
    }),
    "data": _Table({
        "kind": _Field(_choice("representative", "comparisons", "rankings", "files"), default="representative"),
        "n": _Field(_integer(1)),
        "design": _Field(_choice("uniform"), default="uniform"),
        "k": _Field(_integer(1)),
        "embeddings": _Field(_path, path_like=True),
        "comparisons": _Field(_path, path_like=True),
    }),
    "estimators": _Table({
        "names": _Field(_list_of(_string, unique=True)),
        "lam": _Field(_real(0.0, strict=True), default=0.1),
        "neural": _NEURAL,
        "voronoi": _VORONOI,
    }),
    "metrics": _Table({"names": _Field(_list_of(_choice(*KNOWN_METRICS), unique=True))}),
    "axioms": _Table({
        "ids": _Field(_list_of(_choice(*_AXIOM_IDS), unique=True)),
        "quick": _Field(_boolean, default=True),
    }),
    "task": None,  # resolved per kind (TASK_SCHEMAS)
    "sweep": _Table({}, open_keys=_list_of(lambda x: x)),
    "report": _Table({"figures": _Field(_list_of(_choice(*KNOWN_FIGURES), unique=True), default=[])}),
})
# Sections that always exist after validation (filled with their defaults).
_ALWAYS = ("estimators", "task", "report", "data", "axioms", "metrics")


# ---------------------------------------------------------------------------------------------
# Public objects

@dataclass(frozen=True, eq=False)
class Scenario:
    """A validated scenario file.

    Attributes
    ----------
    name, kind, description : str
    seeds : tuple of int
        Seed offsets; run seeds are ``base_seed + offset``.
    base_seed : int
    params : dict
        The validated sections (defaults filled in, file paths absolute) except ``sweep`` and
        ``report``; what every run receives, before the sweep values are applied.
    sweep : dict
        Dotted key -> tuple of values (file order).
    report : dict
        ``{"figures": [...]}``.
    source : str
        The scenario file path.
    text : str
        The TOML text as read (stored with the batch).
    """

    name: str
    kind: str
    description: str
    seeds: tuple
    base_seed: int
    params: dict
    sweep: dict
    report: dict
    source: str
    text: str
    raw: dict = field(repr=False, default_factory=dict)
    file_digests: dict = field(repr=False, default_factory=dict)
    about: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True, eq=False)
class Run:
    """One unit of work: a fully expanded parameter set and a seed.

    Attributes
    ----------
    run_id : str
        Stable hash of batch, kind, expanded params (file paths replaced by content hashes)
        and seed; see the module docstring.
    batch, kind : str
    params : dict
        Fully expanded parameters (sweep values applied), JSON-serialisable.
    seed : int
        ``np.random.default_rng(seed)`` is the run's only source of randomness.
    point : dict
        The sweep values of this run (dotted key -> value); empty without a sweep.
    """

    run_id: str
    batch: str
    kind: str
    params: dict
    seed: int
    point: dict
    plugins: tuple = ()

    def to_payload(self) -> dict:
        """Plain dict sent to a worker process (pickle-friendly, no classes)."""
        return {"run_id": self.run_id, "batch": self.batch, "kind": self.kind, "params": self.params,
                "seed": self.seed, "point": self.point, "plugins": list(self.plugins)}


def list_builtin() -> list[str]:
    """Names of the built-in scenarios (``choicelab/scenarios/library/*.toml``), sorted."""
    root = resources.files("choicelab.scenarios").joinpath(_LIBRARY)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def builtin_path(name: str) -> Path:
    """File path of built-in scenario ``name``."""
    return Path(str(resources.files("choicelab.scenarios").joinpath(_LIBRARY, f"{name}.toml")))


def load_scenario(name_or_path, plugins=()) -> Scenario:
    """Read and validate a scenario: a built-in name (``psz-case-study``) or a TOML file path.

    Raises
    ------
    ScenarioError
        With file, key path, offending value, line and a one-line message; unknown keys name
        the nearest valid key.

    Examples
    --------
    >>> sc = load_scenario("psz-case-study")
    >>> sc.kind, len(expand(sc)) >= 1
    ('case_study', True)
    """
    if not isinstance(name_or_path, (str, Path)):
        raise TypeError(f"name_or_path must be a scenario name or a file path, got {type(name_or_path).__name__}")
    text_arg = str(name_or_path)
    path = Path(text_arg)
    if not path.suffix and not path.exists():
        builtins = list_builtin()
        if text_arg not in builtins:
            hint = difflib.get_close_matches(text_arg, builtins, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else f"; built-in scenarios: {', '.join(builtins)}"
            raise ScenarioError(text_arg, None, _MISSING, None, f"no such scenario file or built-in scenario{extra}")
        path = builtin_path(text_arg)
    if not path.is_file():
        raise ScenarioError(text_arg, None, _MISSING, None, "no such scenario file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(path, None, _MISSING, None, f"cannot read the file: {exc}") from None
    return parse_scenario(text, path, plugins=plugins)


def parse_scenario(text: str, path="<string>", plugins=()) -> Scenario:
    """Validate TOML ``text`` as a scenario; relative data paths resolve against ``path``'s folder.

    A file whose ``[scenario]`` has no ``kind`` is an experiment of the composable model
    (:mod:`choicelab.scenarios.experiment`); ``plugins`` (module names or .py paths) are
    imported before it is validated.
    """
    text = text.lstrip("\ufeff")  # a UTF-8 byte-order mark is not part of the TOML
    ctx = _Context(str(path), text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        line = int(m.group(1)) if m else (len(text.splitlines()) if "end of document" in str(exc) else None)
        raise ScenarioError(path, None, _MISSING, line, f"not valid TOML: {exc}") from None
    head = raw.get("scenario")
    if isinstance(head, dict) and "kind" not in head:
        from choicelab.scenarios.experiment import parse_experiment

        return parse_experiment(raw, ctx, plugins=plugins)
    if plugins:
        from choicelab.scenarios.experiment import import_plugins

        import_plugins(plugins, ctx.folder)
    params, digests = _validate(raw, ctx)
    sweep = {k: tuple(v) for k, v in params.pop("sweep", {}).items()}
    for key, values in sweep.items():
        _check_sweep_key(key, params["scenario"]["kind"], ctx)
    report = params.pop("report")
    head = params["scenario"]
    seeds = head["seeds"]
    seeds = tuple(range(seeds)) if isinstance(seeds, int) else tuple(seeds)
    scenario = Scenario(name=head["name"], kind=head["kind"], description=head["description"], seeds=seeds,
                        base_seed=head["base_seed"], params=params, sweep=sweep, report=report,
                        source=str(path), text=text, raw=raw, file_digests=digests)
    # validate every sweep point now, so a bad value fails at load time, not mid-batch
    for point in _grid(sweep):
        _point_params(scenario, point, ctx)
    return scenario


def expand(scenario: Scenario, seed_override: int | None = None) -> list[Run]:
    """All runs of ``scenario``: the sweep grid (file order, last key fastest) times the seeds.

    Parameters
    ----------
    scenario : Scenario
    seed_override : int, optional
        Replaces ``scenario.base_seed`` (``choicelab run --seed S``); run seeds are
        ``base_seed + offset`` for each offset in ``scenario.seeds``.

    Returns
    -------
    list of Run, each with ``run_id`` = sha256 of the canonical JSON of batch, kind, params and
    seed (module docstring).
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(f"scenario must be a Scenario (see load_scenario), got {type(scenario).__name__}")
    if seed_override is not None and (isinstance(seed_override, bool) or not isinstance(seed_override, int)
                                      or seed_override < 0):
        raise ValueError(f"seed_override must be an integer >= 0 or None, got {seed_override!r}")
    if scenario.kind == "experiment":
        from choicelab.scenarios.experiment import expand_experiment

        return expand_experiment(scenario, seed_override)
    base = scenario.base_seed if seed_override is None else seed_override
    ctx = _Context(scenario.source, scenario.text)
    runs = []
    for point in _grid(scenario.sweep):
        params = _point_params(scenario, point, ctx)
        params["scenario"] = {"kind": scenario.kind}  # name/description/seeds do not change the numbers
        hashed = _replace_paths(params, scenario.file_digests)
        for offset in scenario.seeds:
            seed = base + offset
            run_id = _run_id(scenario.name, scenario.kind, hashed, seed)
            runs.append(Run(run_id=run_id, batch=scenario.name, kind=scenario.kind,
                            params=copy.deepcopy(params), seed=seed, point=dict(point)))
    return runs


def _run_id(batch: str, kind: str, params: dict, seed: int) -> str:
    blob = json.dumps({"batch": batch, "kind": kind, "params": params, "seed": seed},
                      sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _replace_paths(params, digests):
    if isinstance(params, dict):
        return {k: _replace_paths(v, digests) for k, v in params.items()}
    if isinstance(params, list):
        return [_replace_paths(v, digests) for v in params]
    if isinstance(params, str) and params in digests:
        return "sha256:" + digests[params]
    return params


def _grid(sweep: dict):
    keys = list(sweep)
    for values in itertools.product(*(sweep[k] for k in keys)):
        yield dict(zip(keys, values))


def _point_params(scenario: Scenario, point: dict, ctx) -> dict:
    """Validated params with the sweep ``point`` applied to the raw TOML (defaults re-filled)."""
    if not point:
        return copy.deepcopy(scenario.params)
    raw = copy.deepcopy(scenario.raw)
    for key, value in point.items():
        _set_dotted(raw, _split_dotted(key), value)
    raw.pop("sweep", None)
    try:
        params, _ = _validate(raw, ctx, check_files=False)
    except ScenarioError as exc:
        # blame the sweep key whose path is closest to the failing key
        culprit = max(point, key=lambda k: _common_prefix(_dotted(_split_dotted(k)), exc.key or ""))
        raise ScenarioError(ctx.file, f"sweep.{culprit}", point[culprit], ctx.line(("sweep", culprit)),
                            f"gives an invalid scenario: {exc.key} {exc.message}") from None
    params.pop("report", None)
    params.pop("sweep", None)
    return params


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def _split_dotted(key: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in key.split("."))


def _set_dotted(raw: dict, parts: tuple, value) -> None:
    node = raw
    for p in parts[:-1]:
        if isinstance(p, int):
            node = node[p]
        else:
            node = node.setdefault(p, {})
    node[parts[-1]] = value


def _check_sweep_key(key: str, kind: str, ctx) -> None:
    """A sweep key must name a value (not a table) of the schema; the nearest key is suggested."""
    parts = _split_dotted(key)
    where = ("sweep", key)

    def fail(message):
        raise ScenarioError(ctx.file, f"sweep.{key}", _MISSING, ctx.line(where), message)

    if parts[0] == "scenario":
        fail("cannot sweep the [scenario] section (name, kind, seeds)")
    node, walked = _SCHEMA, []
    for p in parts:
        if isinstance(node, _TableArray):
            if not isinstance(p, int):
                fail(f"{_dotted(walked)} is an array of tables; index it with a number")
            node = node.table
        elif isinstance(node, _Table):
            fields = node.fields
            if not walked and p == "task":
                node = TASK_SCHEMAS[kind]
            elif p in fields:
                node = fields[p]
            elif node.open_keys is not None:
                node = _Field(node.open_keys)
            else:
                hint = difflib.get_close_matches(str(p), [str(f) for f in fields], n=1)
                fail("not a scenario key" + (f"; did you mean {_dotted(walked + [hint[0]])!r}?" if hint else ""))
        else:
            fail(f"{_dotted(walked)} is a value, not a table")
        walked.append(p)
    if isinstance(node, (_Table, _TableArray)):
        fail("names a table; sweep a value inside it")


# ---------------------------------------------------------------------------------------------
# Validation

class _Context:
    """The file being validated: raises ScenarioError with line numbers found in the text."""

    def __init__(self, file: str, text: str):
        self.file, self.text = file, text
        self.folder = Path(file).resolve().parent if file and not file.startswith("<") else Path.cwd()

    def line(self, path) -> int | None:
        return _find_line(self.text, tuple(path))

    def fail(self, path, value, message):
        raise ScenarioError(self.file, _dotted(path), value, self._line_or_parent(path), message)

    def _line_or_parent(self, path):
        path = tuple(path)
        while path:
            line = self.line(path)
            if line is not None:
                return line
            path = path[:-1]
        return None


def _dotted(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (("." if out else "") + str(p))
    return out


def _walk(schema, raw, path, ctx):
    if isinstance(schema, _Field):
        try:
            return schema.check(raw)
        except _Invalid as exc:
            ctx.fail(path, raw, str(exc))
    if isinstance(schema, _TableArray):
        if not isinstance(raw, list) or not all(isinstance(x, dict) for x in raw):
            ctx.fail(path, raw, f"must be an array of tables ([[{_dotted(path)}]])")
        if len(raw) < schema.min_len:
            ctx.fail(path, raw, f"must hold at least {schema.min_len} table")
        return [_walk(schema.table, x, tuple(path) + (k,), ctx) for k, x in enumerate(raw)]
    # _Table
    if not isinstance(raw, dict):
        ctx.fail(path, raw, "must be a table")
    out = {}
    for key, value in raw.items():
        if key in schema.fields:
            continue
        if schema.open_keys is not None:
            try:
                out[key] = schema.open_keys(value)
            except _Invalid as exc:
                ctx.fail(tuple(path) + (key,), value, str(exc))
            continue
        hint = difflib.get_close_matches(key, list(schema.fields), n=1)
        extra = f"; did you mean {_dotted(tuple(path) + (hint[0],))!r}?" if hint else \
            f"; valid keys: {', '.join(schema.fields) or '(none)'}"
        raise ScenarioError(ctx.file, _dotted(tuple(path) + (key,)), value, ctx._line_or_parent(tuple(path) + (key,)),
                            f"unknown key{extra}")
    for key, sub in schema.fields.items():
        here = tuple(path) + (key,)
        if key in raw:
            out[key] = _walk(sub, raw[key], here, ctx)
        elif getattr(sub, "required", False):
            raise ScenarioError(ctx.file, _dotted(here), _MISSING, ctx._line_or_parent(tuple(path)),
                                "is required" + ("" if isinstance(sub, _Field) else f" (add a [{_dotted(here)}] section)"))
        elif isinstance(sub, _Field) and sub.default is not _MISSING:
            out[key] = copy.deepcopy(sub.default)
        elif isinstance(sub, _Table) and sub.open_keys is None and sub.fields and \
                not any(getattr(f, "required", False) for f in sub.fields.values()):
            out[key] = _walk(sub, {}, here, ctx)  # an absent settings table means all its defaults
    return out


def _validate(raw: dict, ctx: _Context, check_files: bool = True) -> tuple[dict, dict]:
    """Structure, types, defaults, then cross-field rules. Returns (params, file digests)."""
    head = raw.get("scenario")
    kind = head.get("kind") if isinstance(head, dict) else None
    schema = _Table(dict(_SCHEMA.fields), required=True)
    if kind in TASK_SCHEMAS:
        schema.fields["task"] = TASK_SCHEMAS[kind]
    else:
        schema.fields["task"] = _Table({}, open_keys=lambda v: v)  # checked once kind is known
    params = _walk(schema, raw, (), ctx)
    for section in _ALWAYS:
        if section not in params:
            params[section] = _walk(schema.fields[section], {}, (section,), ctx)
    digests = {}
    _cross_check(params, raw, ctx, digests, check_files)
    return params, digests


def _need(ctx, params_path, table: dict, key: str, why: str):
    if key not in table:
        ctx.fail(tuple(params_path) + (key,), _MISSING, f"is required {why}")
    return table[key]


def _resolve(ctx, path, value) -> str:
    p = Path(value)
    if not p.is_absolute():
        p = ctx.folder / p
    if not p.is_file():
        ctx.fail(path, value, f"no such file ({p})")
    return str(p.resolve())


def _cross_check(params: dict, raw: dict, ctx: _Context, digests: dict, check_files: bool) -> None:
    kind = params["scenario"]["kind"]
    world = params.get("world", {})
    m_world, topics = _check_alternatives(world, ctx, digests)
    region = world.get("region")
    if region is not None:
        _check_region(region, ctx)
    d_world = _world_dim(world)
    if region is not None and d_world is not None:
        dim = len(region["lo"]) if region["type"] == "box" else len(region["center"])
        if dim != d_world:
            ctx.fail(("world", "region"), _MISSING, f"has dimension {dim} but the alternatives have d = {d_world}")
    if "clones" in world:
        _check_clones(world["clones"], m_world, topics, ctx)
    if "population" in world:
        _check_population(world["population"], topics, m_world, d_world, ctx)
    _check_data(params, ctx, digests, check_files)
    names = params["estimators"].get("names")
    if names is not None:
        known = _known_estimators()
        for k, name in enumerate(names):
            if name not in known:
                hint = difflib.get_close_matches(name, known, n=1)
                extra = f"; did you mean {hint[0]!r}?" if hint else f"; known: {', '.join(known)}"
                ctx.fail(("estimators", "names"), name, f"unknown estimator (item [{k}]){extra}")
    _KIND_NEEDS.get(kind, lambda p, c: None)(params, ctx)


def _world_dim(world: dict) -> int | None:
    alts = world.get("alternatives")
    if alts is None:
        return None
    if alts["generator"] == "topic_clusters" and alts.get("topics"):
        return len(next(iter(alts["topics"].values())))
    return None


def _check_alternatives(world, ctx, digests):
    alts = world.get("alternatives")
    if alts is None:
        return None, []
    gen = alts["generator"]
    base = ("world", "alternatives")
    allowed = {"topic_clusters": {"topics", "per_topic", "spread", "scales"}, "uniform": {"m"},
               "grid": {"per_axis"}, "file": {"path"}}[gen]
    for key in alts:
        if key != "generator" and key not in allowed:
            ctx.fail(base + (key,), alts[key], f"does not apply to generator {gen!r} (it takes: {', '.join(sorted(allowed))})")
    if gen == "topic_clusters":
        topics = _need(ctx, base, alts, "topics", "for generator 'topic_clusters' (a table name = [centre])")
        if not topics:
            ctx.fail(base + ("topics",), topics, "must name at least one topic")
        dims = {len(c) for c in topics.values()}
        if len(dims) != 1:
            ctx.fail(base + ("topics",), {k: len(v) for k, v in topics.items()}, "every topic centre must have the same length d")
        per = _need(ctx, base, alts, "per_topic", "for generator 'topic_clusters'")
        if isinstance(per, list) and len(per) != len(topics):
            ctx.fail(base + ("per_topic",), per, f"must have one entry per topic ({len(topics)})")
        spread = _need(ctx, base, alts, "spread", "for generator 'topic_clusters'")
        if isinstance(spread, list) and len(spread) != len(topics):
            ctx.fail(base + ("spread",), spread, f"must have one entry per topic ({len(topics)})")
        if "scales" in alts and len(alts["scales"]) != dims.pop():
            ctx.fail(base + ("scales",), alts["scales"], "must have one entry per dimension d")
        m = sum(per) if isinstance(per, list) else per * len(topics)
        return m, list(topics)
    if gen == "uniform":
        _need(ctx, base, alts, "m", "for generator 'uniform'")
        if "region" not in world:
            ctx.fail(("world", "region"), _MISSING, "is required for generator 'uniform'")
        return alts["m"], []
    if gen == "grid":
        _need(ctx, base, alts, "per_axis", "for generator 'grid'")
        if "region" not in world:
            ctx.fail(("world", "region"), _MISSING, "is required for generator 'grid'")
        return None, []
    path = _resolve(ctx, base + ("path",), _need(ctx, base, alts, "path", "for generator 'file'"))
    alts["path"] = path
    X, labels = read_embeddings(path)
    digests[path] = _digest(path)
    return X.shape[0], sorted(set(labels)) if labels is not None else []


def _check_region(region, ctx):
    base = ("world", "region")
    if region["type"] == "box":
        lo = _need(ctx, base, region, "lo", "for a box")
        hi = _need(ctx, base, region, "hi", "for a box")
        if len(lo) != len(hi):
            ctx.fail(base + ("hi",), hi, f"must have the length of lo ({len(lo)})")
        for k, (a, b) in enumerate(zip(lo, hi)):
            if not a < b:
                ctx.fail(base + ("hi",), hi, f"must exceed lo in every coordinate (hi[{k}] = {b} <= lo[{k}] = {a})")
        extra = set(region) - {"type", "lo", "hi"}
    else:
        _need(ctx, base, region, "center", "for a ball")
        _need(ctx, base, region, "radius", "for a ball")
        extra = set(region) - {"type", "center", "radius"}
    if extra:
        key = sorted(extra)[0]
        ctx.fail(base + (key,), region[key], f"does not apply to a {region['type']}")


def _check_clones(clones, m, topics, ctx):
    base = ("world", "clones")
    has_index, has_topic = "index" in clones, "topic" in clones
    if has_index == has_topic:
        ctx.fail(base, _MISSING, "needs exactly one of 'index' (an alternative) or 'topic' (every response of a topic)")
    if has_index and m is not None and clones["index"] >= m:
        ctx.fail(base + ("index",), clones["index"], f"must be < m = {m}")
    if has_topic and clones["topic"] not in topics:
        hint = difflib.get_close_matches(clones["topic"], [str(t) for t in topics], n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else f"; topics: {', '.join(map(str, topics))}"
        ctx.fail(base + ("topic",), clones["topic"], f"is not a topic of the world{extra}")
    if clones["type"] == "approximate" and "eps" not in clones:
        ctx.fail(base + ("eps",), _MISSING, "is required for approximate clones")
    if clones["type"] == "exact" and "eps" in clones:
        ctx.fail(base + ("eps",), clones["eps"], "does not apply to exact clones")


_FAMILY_KEYS = {
    "linear": ({"theta"}, set()),
    "ideal_point": ({"center"}, set()),
    "topic_table": ({"utilities", "tau"}, {"centers"}),
    "rbf_mixture": ({"centers", "weights", "bandwidth"}, set()),
    "explicit": ({"values"}, set()),
}


def _check_population(pop, topics, m, d, ctx):
    shares = [t["share"] for t in pop["types"]]
    if abs(math.fsum(shares) - 1.0) > 1e-9:
        ctx.fail(("world", "population", "types"), shares, f"shares must sum to 1 (they sum to {math.fsum(shares)!r})")
    for k, typ in enumerate(pop["types"]):
        base = ("world", "population", "types", k)
        required, optional = _FAMILY_KEYS[typ["reward"]]
        for key in typ:
            if key not in required | optional | {"share", "reward"}:
                ctx.fail(base + (key,), typ[key], f"does not apply to reward {typ['reward']!r} (it takes: {', '.join(sorted(required | optional))})")
        for key in sorted(required):
            _need(ctx, base, typ, key, f"for reward {typ['reward']!r}")
        fam = typ["reward"]
        if fam == "topic_table":
            u = typ["utilities"]
            if "centers" not in typ and not topics:
                ctx.fail(base + ("centers",), _MISSING, "is required unless the world has named topics")
            n_topics = len(typ["centers"]) if "centers" in typ else len(topics)
            if isinstance(u, dict):
                if "centers" in typ:
                    ctx.fail(base + ("utilities",), u, "must be a list when 'centers' is given")
                unknown = [t for t in u if t not in topics]
                missing = [t for t in topics if t not in u]
                if unknown:
                    hint = difflib.get_close_matches(unknown[0], [str(t) for t in topics], n=1)
                    extra = f"; did you mean {hint[0]!r}?" if hint else ""
                    ctx.fail(base + ("utilities", unknown[0]), u[unknown[0]], f"is not a topic of the world{extra}")
                if missing:
                    ctx.fail(base + ("utilities",), u, f"lacks topic {missing[0]!r}")
            elif len(u) != n_topics:
                ctx.fail(base + ("utilities",), u, f"must have one entry per topic ({n_topics})")
            if "centers" in typ and d is not None and len(typ["centers"][0]) != d:
                ctx.fail(base + ("centers",), typ["centers"], f"centres must have length d = {d}")
        elif fam in ("linear", "ideal_point"):
            key = "theta" if fam == "linear" else "center"
            if d is not None and len(typ[key]) != d:
                ctx.fail(base + (key,), typ[key], f"must have length d = {d}")
        elif fam == "rbf_mixture":
            if len(typ["weights"]) != len(typ["centers"]):
                ctx.fail(base + ("weights",), typ["weights"], f"must have one entry per centre ({len(typ['centers'])})")
            if isinstance(typ["bandwidth"], list) and len(typ["bandwidth"]) != len(typ["centers"]):
                ctx.fail(base + ("bandwidth",), typ["bandwidth"], f"must be a number or one per centre ({len(typ['centers'])})")
        elif fam == "explicit":
            if m is not None and len(typ["values"]) != m:
                ctx.fail(base + ("values",), typ["values"], f"must have one value per alternative (m = {m})")


def _check_data(params, ctx, digests, check_files):
    data = params["data"]
    base = ("data",)
    kind = data["kind"]
    allowed = {"representative": set(), "comparisons": {"n", "design"}, "rankings": {"n", "k"},
               "files": {"embeddings", "comparisons"}}[kind] | {"kind"}
    for key in data:
        if key not in allowed and not (key == "design" and data[key] == "uniform"):
            ctx.fail(base + (key,), data[key], f"does not apply to data kind {kind!r}")
    if kind in ("comparisons", "rankings"):
        _need(ctx, base, data, "n", f"for data kind {kind!r}")
    if kind == "files":
        emb = _resolve(ctx, base + ("embeddings",), _need(ctx, base, data, "embeddings", "for data kind 'files'"))
        comp = _resolve(ctx, base + ("comparisons",), _need(ctx, base, data, "comparisons", "for data kind 'files'"))
        data["embeddings"], data["comparisons"] = emb, comp
        if check_files:
            try:
                X, _ = read_embeddings(emb)
                read_comparisons(comp, X.shape[0])
            except ScenarioError as exc:
                which = "data.comparisons" if exc.file == comp and emb != comp else "data.embeddings"
                raise ScenarioError(exc.file, exc.key, exc.value, exc.line,
                                    f"{exc.message} (file named by {which} in {ctx.file})") from None
        digests[emb] = _digest(emb)
        digests[comp] = _digest(comp)
    elif "world" not in params or "alternatives" not in params.get("world", {}):
        if params["scenario"]["kind"] in ("case_study", "clone_robustness", "borda_identity", "byo_data"):
            ctx.fail(("world", "alternatives"), _MISSING, f"is required for data kind {kind!r} (or use data.kind = 'files')")


def _need_world(*keys):
    def check(params, ctx):
        world = params.get("world", {})
        for key in keys:
            if key not in world:
                ctx.fail(("world", key), _MISSING, f"is required for scenario kind {params['scenario']['kind']!r}")
    return check


def _check_case_study(params, ctx):
    _need_world("alternatives", "population", "region", "clones")(params, ctx)
    if params["world"]["alternatives"]["generator"] != "topic_clusters":
        ctx.fail(("world", "alternatives", "generator"), params["world"]["alternatives"]["generator"],
                 "must be 'topic_clusters' for kind 'case_study' (rewards are reported per topic)")
    if params["data"]["kind"] != "comparisons":
        ctx.fail(("data", "kind"), params["data"]["kind"], "must be 'comparisons' for kind 'case_study'")
    _check_names(params, ctx, ("mle", "weighted_mle", "neural_mle", "neural_weighted_mle"))


def _check_names(params, ctx, supported):
    names = params["estimators"].get("names")
    if names is None:
        ctx.fail(("estimators", "names"), _MISSING, f"is required (supported here: {', '.join(supported)})")
    for k, name in enumerate(names):
        if name not in supported:
            ctx.fail(("estimators", "names"), name,
                     f"item [{k}] is not supported by scenario kind {params['scenario']['kind']!r} "
                     f"(supported: {', '.join(supported)})")


def _check_clone_robustness(params, ctx):
    _need_world("alternatives", "population", "region")(params, ctx)
    if "clones" in params["world"]:
        ctx.fail(("world", "clones"), params["world"]["clones"],
                 "does not apply to kind 'clone_robustness' (the clones are placed by the A1 curve; use task.eps, task.indices)")
    if params["data"]["kind"] != "representative":
        ctx.fail(("data", "kind"), params["data"]["kind"], "must be 'representative' for kind 'clone_robustness' (SPEC A1)")
    m = _world_size(params)
    for k, i in enumerate(params["task"]["indices"]):
        if m is not None and i >= m:
            ctx.fail(("task", "indices"), i, f"item [{k}] must be an alternative index < m = {m}")
    _check_names(params, ctx, tuple(n for n in _known_estimators() if n not in ("dpo",)))


def _world_size(params) -> int | None:
    alts = params["world"]["alternatives"]
    if alts["generator"] == "uniform":
        return alts["m"]
    if alts["generator"] == "topic_clusters":
        per = alts["per_topic"]
        return sum(per) if isinstance(per, list) else per * len(alts["topics"])
    return None


def _check_borda(params, ctx):
    _need_world("alternatives", "population")(params, ctx)
    if params["task"]["weights"] == "voronoi" and "region" not in params["world"]:
        ctx.fail(("world", "region"), _MISSING, "is required for task.weights = 'voronoi'")
    if params["data"]["kind"] != "representative":
        ctx.fail(("data", "kind"), params["data"]["kind"], "must be 'representative' for kind 'borda_identity' (P4, P5)")


def _check_sensitivity(params, ctx):
    _check_names(params, ctx, tuple(n for n in _known_estimators() if n not in ("borda", "wawr", "copeland", "schulze",
                                                                                    "ranked_pairs", "kemeny",
                                                                                    "maximal_lottery")))


def _check_axiom_matrix(params, ctx):
    if "ids" not in params["axioms"]:
        ctx.fail(("axioms", "ids"), _MISSING, "is required for kind 'axiom_matrix'")
    if "names" not in params["estimators"]:
        ctx.fail(("estimators", "names"), _MISSING, "is required for kind 'axiom_matrix'")


def _check_byo(params, ctx):
    if params["data"]["kind"] != "files":
        ctx.fail(("data", "kind"), params["data"]["kind"], "must be 'files' for kind 'byo_data'")
    _check_names(params, ctx, ("mle", "weighted_mle", "neural_mle", "neural_weighted_mle"))


_KIND_NEEDS = {"case_study": _check_case_study, "clone_robustness": _check_clone_robustness,
               "borda_identity": _check_borda, "sensitivity": _check_sensitivity,
               "axiom_matrix": _check_axiom_matrix, "byo_data": _check_byo}


def _known_estimators() -> list[str]:
    try:
        from choicelab.estimators.registry import list_estimators
    except ImportError:
        return list(_DESIGN_ESTIMATORS)
    names = list_estimators()
    return [getattr(n, "name", n) for n in names]


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Data files ("your own data"): embeddings and comparisons, errors with file, line and field.

def _scenario_error(exc) -> "ScenarioError":
    """The simulator's DataFileError as a ScenarioError (same file, line, field, value)."""
    from choicelab.sim.io import MISSING

    return ScenarioError(exc.file, exc.field, _MISSING if exc.value is MISSING else exc.value, exc.line, exc.message)


def read_embeddings(path):
    """``(X, labels)`` of your own alternatives: :func:`choicelab.sim.io.read_alternatives`.

    ``.npy`` (an (m, d) float array), ``.npz`` or ``.csv`` (a header; an optional ``label``
    column, an optional ``clone_of`` column, every other column a coordinate; the typed header
    of ``sim.save_alternatives`` is recognised). ``labels`` is None when the file names none.

    Raises
    ------
    ScenarioError
        Naming the file, line and field of the first malformed value.
    """
    from choicelab.sim.io import DataFileError, read_embeddings as _read

    try:
        X, labels = _read(path)
    except DataFileError as exc:
        raise _scenario_error(exc) from None
    if X.shape[0] < 2:
        raise ScenarioError(path, None, _MISSING, None, f"needs at least 2 alternatives, got {X.shape[0]}")
    return X, labels


def read_comparisons(path, m: int):
    """Comparisons of your own data: :func:`choicelab.sim.io.read_comparisons` (.csv, .jsonl, .npz).

    Raises
    ------
    ScenarioError
        Naming the file, line and field of the first malformed record.
    """
    from choicelab.sim.io import DataFileError, read_comparisons as _read

    try:
        comps = _read(path, m)
    except DataFileError as exc:
        raise _scenario_error(exc) from None
    if comps.n == 0:
        raise ScenarioError(path, None, _MISSING, None, "holds no comparisons")
    return comps


# ---------------------------------------------------------------------------------------------
# Line lookup: scan the TOML text for the key (headers, dotted keys, quoted keys, [[arrays]]).

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})(?:\s*\.\s*(?:{_BARE}|{_QUOTED}))*"
_HEADER_ARRAY = re.compile(rf"^\[\[\s*({_KEY})\s*\]\]")
_HEADER = re.compile(rf"^\[\s*({_KEY})\s*\]")
_ASSIGN = re.compile(rf"^({_KEY})\s*=")


def _split_key(text: str) -> tuple:
    parts = re.findall(rf"{_BARE}|{_QUOTED}", text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def _find_line(text: str, target: tuple) -> int | None:
    """1-based line of ``target`` (a key path with int indices for [[arrays]]) in TOML text."""
    current: tuple = ()
    counts: dict = {}
    prefix_hit = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        s = raw.strip()
        m = _HEADER_ARRAY.match(s)
        if m:
            hdr = _split_key(m.group(1))
            counts[hdr] = counts.get(hdr, -1) + 1
            current = _with_indices(hdr, counts) + (counts[hdr],)
            if current == target or current[:-1] == target:
                return lineno
            continue
        m = _HEADER.match(s)
        if m:
            current = _with_indices(_split_key(m.group(1)), counts)
            if current == target:
                return lineno
            if prefix_hit is None and current[: len(target)] == target:
                prefix_hit = lineno  # [a.b] defines table a implicitly
            continue
        m = _ASSIGN.match(s)
        if m:
            keys = current + _split_key(m.group(1))
            if keys == target:
                return lineno
            if prefix_hit is None and len(keys) < len(target) and target[: len(keys)] == keys:
                prefix_hit = lineno  # an inline table or array that contains the target
    return prefix_hit


def _with_indices(hdr: tuple, counts: dict) -> tuple:
    """Insert the current [[array]] index after each array-of-tables prefix of a header."""
    out = ()
    for k in range(len(hdr)):
        out += (hdr[k],)
        if hdr[: k + 1] in counts and k + 1 < len(hdr):
            out += (counts[hdr[: k + 1]],)
    return out

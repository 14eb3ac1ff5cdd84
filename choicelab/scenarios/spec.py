"""Scenario files: reading TOML, errors with file/line/key/value, the Scenario and Run records.

A scenario is data only (stdlib ``tomllib``; nothing is executed, nothing evaluated). Its schema
is the experiment model of :mod:`choicelab.scenarios.experiment` (world, data, conditions,
estimators, measures, sweep, report, plugins) and its world the typed model of
:mod:`choicelab.scenarios.world`; this module reads the file, finds the line of any key for error
messages, and defines what a batch and a run are.

Run identity
------------
:func:`expand` gives one :class:`Run` per sweep point and seed. ``run_id`` is the first 32 hex
digits of ``sha256`` of the canonical JSON (sorted keys, no spaces) of
``{"batch": name, "kind": "experiment", "params": params, "seed": seed}``, where in ``params``
every data file path is replaced by the sha256 of its content (so ids survive moving the files
and change when their content changes).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

__all__ = [
    "ScenarioError",
    "Scenario",
    "Run",
    "load_scenario",
    "parse_scenario",
    "expand",
    "list_builtin",
    "builtin_path",
    "read_embeddings",
    "read_comparisons",
]

_LIBRARY = "library"


class ScenarioError(Exception):
    """A scenario (or a data file it names) is malformed.

    Attributes
    ----------
    file : str
        The scenario file, or the data file that failed to parse.
    key : str or None
        Dotted key path (``world.population.types.1.share``: list positions are numbers, as in
        sweep keys) or, for a data file, the field.
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
    plugins : tuple of str
        Plugin modules or files the worker imports before the run.
    param_hash : str
        Hash of the run's expanded parameters without its seed (data files by content): runs of
        one sweep point share it, and a batch is the set of them (``choicelab run`` refuses to mix
        batches of other parameters under one name).
    """

    run_id: str
    batch: str
    kind: str
    params: dict
    seed: int
    point: dict
    plugins: tuple = ()
    param_hash: str = ""

    def to_payload(self) -> dict:
        """Plain dict sent to a worker process (pickle-friendly, no classes)."""
        return {
            "run_id": self.run_id,
            "batch": self.batch,
            "kind": self.kind,
            "params": self.params,
            "seed": self.seed,
            "point": self.point,
            "plugins": list(self.plugins),
        }


def list_builtin() -> list[str]:
    """Names of the built-in scenarios (``choicelab/scenarios/library/*.toml``), sorted."""
    root = resources.files("choicelab.scenarios").joinpath(_LIBRARY)
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def builtin_path(name: str) -> Path:
    """File path of built-in scenario ``name``."""
    return Path(str(resources.files("choicelab.scenarios").joinpath(_LIBRARY, f"{name}.toml")))


def load_scenario(name_or_path, plugins=(), max_runs: int | None = None) -> Scenario:
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
    ('experiment', True)
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
    return parse_scenario(text, path, plugins=plugins, max_runs=max_runs)


def parse_scenario(text: str, path="<string>", plugins=(), max_runs: int | None = None) -> Scenario:
    """Validate TOML ``text`` as a scenario; relative data paths resolve against ``path``'s folder.

    The schema is the experiment model (:mod:`choicelab.scenarios.experiment`); ``plugins``
    (module names or .py paths) are imported before it is validated.
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
    if isinstance(head, dict) and "kind" in head:
        raise ScenarioError(
            path,
            "scenario.kind",
            head["kind"],
            ctx.line(("scenario", "kind")),
            "scenario kinds were replaced by composed experiments (world, data, conditions, "
            "estimators, measures); the built-ins show each former kind as an experiment file "
            "(choicelab list), and docs/experiments.md describes the format",
        )
    from choicelab.scenarios.experiment import parse_experiment

    return parse_experiment(raw, ctx, plugins=plugins, max_runs=max_runs)


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
    if seed_override is not None and (
        isinstance(seed_override, bool) or not isinstance(seed_override, int) or not 0 <= seed_override < 2**63
    ):
        raise ValueError(f"seed_override must be an integer in [0, 2**63) or None, got {seed_override!r}")
    from choicelab.scenarios.experiment import expand_experiment

    return expand_experiment(scenario, seed_override)


def _run_id(batch: str, kind: str, params: dict, seed: int) -> str:
    blob = json.dumps(
        {"batch": batch, "kind": kind, "params": params, "seed": seed},
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _replace_paths(params, digests):
    if isinstance(params, dict):
        return {k: _replace_paths(v, digests) for k, v in params.items()}
    if isinstance(params, list):
        return [_replace_paths(v, digests) for v in params]
    if isinstance(params, str) and params in digests:
        return "sha256:" + digests[params]
    return params


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


# ---------------------------------------------------------------------------------------------
# Data files, read by choicelab.sim.io (one reader per format)


def _scenario_error(exc) -> ScenarioError:
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
    from choicelab.sim.io import DataFileError
    from choicelab.sim.io import read_embeddings as _read

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
    from choicelab.sim.io import DataFileError
    from choicelab.sim.io import read_comparisons as _read

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

"""Self-contained HTML and Markdown reports built from the results store (DESIGN.md, Reports).

A report reads only the store (:class:`choicelab.scenarios.store.Store`): the batch row (its
scenario text, validated params and declared figures), the runs, their result rows and blobs.
Nothing is refitted. Per batch it writes ``<out>/<batch>/index.html`` (one file, figures
embedded as PNG data URIs, no network access needed), ``report.md`` with the same content and
its figures as ``fig-*.png`` beside it, and every witness of a violation as
``witnesses/*.json`` (replayable with :func:`choicelab.axioms.replay` where the check has one).

Sections: what was run and how to reproduce it; theory against measurement (SPEC §3 cells that
the batch measured, with agreement marks and witnesses); the figures the scenario declares in
``[report] figures``; the kind's result tables (rewards, curves, residuals); the exact settings
and seeds; the runs.
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["build_report", "ReportFiles"]

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,100}$")
_MARK = {True: "✓ agrees", False: "✗ disagrees", None: "–"}
_CODE_OUTCOME = {1.0: "holds", 0.0: "violated"}
_STANDARD_TWIN = {"mle": True, "neural_mle": True, "weighted_mle": False, "neural_weighted_mle": False}
_MAX_TABLE_ROWS = 200


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote for one batch."""

    batch: str
    folder: Path
    html: Path
    markdown: Path
    figures: tuple[str, ...]
    witnesses: tuple[Path, ...]


# ---------------------------------------------------------------------------------------------
# Blocks: the content, rendered twice (HTML and Markdown)

@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Para:
    text: str
    code: bool = False  # render as one line of code


@dataclass(frozen=True)
class _Table:
    header: tuple
    rows: tuple
    caption: str = ""


@dataclass(frozen=True)
class _Link:
    """A table cell that links to a file beside the report."""

    text: str
    href: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class _Figure:
    key: str
    title: str
    png: bytes
    caption: str = ""


@dataclass(frozen=True)
class _Pre:
    summary: str
    text: str
    link: str = ""  # a file beside report.md holding the same text


@dataclass
class _Report:
    title: str
    blocks: list = field(default_factory=list)
    witnesses: dict = field(default_factory=dict)  # relative path -> JSON text

    def add(self, block) -> None:
        self.blocks.append(block)


# ---------------------------------------------------------------------------------------------
# Reading a batch

@dataclass
class _Batch:
    name: str
    kind: str
    meta: dict  # the batches row's params: params, sweep, report, seeds, base_seed, description
    row: dict
    runs: list
    done: list
    rows: list
    store: object
    db: str

    @property
    def params(self) -> dict:
        return self.meta.get("params", {})

    @property
    def figures(self) -> list:
        return list(self.meta.get("report", {}).get("figures", []))

    def values(self, estimator=None, metric=None, key=None) -> dict:
        """``{run_id: value}`` of the rows matching every given field (one row per run expected)."""
        return {r.run_id: r.value for r in self.rows
                if (estimator is None or r.estimator == estimator) and (metric is None or r.metric == metric)
                and (key is None or r.key == key)}

    def order(self, estimator: str):
        """Sort key: the scenario's estimator order, then by name."""
        names = list(self.params.get("estimators", {}).get("names", []))
        return (names.index(estimator) if estimator in names else len(names), estimator)

    def estimators(self, metric_prefix: str = "") -> list:
        seen = {r.estimator for r in self.rows if r.metric.startswith(metric_prefix)}
        return sorted(seen, key=self.order)

    def blob(self, run_id: str, name: str):
        try:
            return self.store.blob(run_id, name)
        except KeyError:
            return None

    def first_blob(self, name: str):
        """``(run, array)`` of the first done run (in seed order) that stores ``name``."""
        for run in self.done:
            arr = self.blob(run["run_id"], name)
            if arr is not None:
                return run, arr
        return None, None


def _load(store, name: str, db: str) -> _Batch:
    rows = [b for b in store.batches() if b["name"] == name]
    if not rows:
        known = ", ".join(b["name"] for b in store.batches()) or "none"
        raise ValueError(f"batch: no batch {name!r} in the store {db!r} (batches: {known})")
    row = rows[0]
    runs = sorted(store.runs(batch=name), key=_run_order)
    done = [r for r in runs if r["status"] == "done"]
    return _Batch(name=name, kind=row["kind"], meta=row["params"] or {}, row=row, runs=runs, done=done,
                  rows=store.results(batch=name), store=store, db=db)


def _run_order(run: dict):
    """Seed, then sweep point with numbers compared as numbers (m = 4 before m = 16)."""
    point = tuple((k, (0, v, "") if isinstance(v, (int, float)) else (1, 0, json.dumps(v, sort_keys=True)))
                  for k, v in sorted(run["point"].items()))
    return run["seed"], point


# ---------------------------------------------------------------------------------------------
# Public entry point

def build_report(db, batch: str | None = None, out="reports") -> list[ReportFiles]:
    """Write the HTML and Markdown report of one batch (or of every batch) of a results store.

    Parameters
    ----------
    db : str or Path
        The SQLite store written by ``choicelab run`` (it must exist; it is opened, never
        created or changed).
    batch : str, optional
        The batch (scenario) name; by default every batch in the store.
    out : str or Path
        Output folder; batch ``b`` goes to ``out/b/index.html`` and ``out/b/report.md``. A batch
        whose name is not a plain file name (letters, digits, ``.``, ``_``, ``-``) gets a folder
        named by a hash of the name.

    Returns
    -------
    list of ReportFiles

    Examples
    --------
    >>> from choicelab import reports
    >>> files = reports.build_report("choicelab.sqlite", batch="psz-case-study")  # doctest: +SKIP
    >>> files[0].html                                                             # doctest: +SKIP
    PosixPath('reports/psz-case-study/index.html')
    """
    from choicelab.scenarios.store import Store

    db_path = Path(db)
    if not db_path.is_file():
        raise ValueError(f"db: no results store at {str(db_path)!r} (run a scenario first: choicelab run NAME --db {db})")
    out = Path(out)
    written = []
    with Store(db_path) as store:
        names = [b["name"] for b in store.batches()] if batch is None else [batch]
        if not names:
            raise ValueError(f"db: the store {str(db_path)!r} holds no batch yet")
        for name in names:
            data = _load(store, name, str(db_path))
            report = _build(data)
            written.append(_write(report, out / _folder_name(name), name))
    return written


def _folder_name(name: str) -> str:
    if _SAFE_NAME.match(name) and name not in (".", ".."):
        return name
    import hashlib

    return "batch-" + hashlib.sha256(name.encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Content

def _build(b: _Batch) -> _Report:
    rep = _Report(title=f"{b.name} ({b.kind})")
    _header(rep, b)
    if b.kind == "experiment":  # composed experiments: generic over measures (choicelab.reports.experiment)
        from choicelab.reports.experiment import experiment_sections

        experiment_sections(rep, b)
        _settings_section(rep, b)
        _runs_section(rep, b)
        return rep
    _theory_section(rep, b)
    _figures_section(rep, b)
    _tables_section(rep, b)
    _settings_section(rep, b)
    _runs_section(rep, b)
    return rep


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "nan" if np.isnan(value) else str(value)
        return f"{value:.{digits}g}"
    return str(value)


def _when(ts) -> str:
    if ts is None:
        return "–"
    return _dt.datetime.fromtimestamp(float(ts), tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _header(rep: _Report, b: _Batch) -> None:
    desc = (b.meta.get("description") or "").strip()
    if desc:
        for para in re.split(r"\n\s*\n", desc):
            rep.add(_Para(" ".join(para.split())))
    counts = {s: sum(r["status"] == s for r in b.runs) for s in ("done", "error", "running")}
    seconds = sum(r["seconds"] or 0.0 for r in b.done)
    rep.add(_Table(("store", "created", "updated", "runs done", "errors", "unfinished", "compute (s)"),
                   ((b.db, _when(b.row.get("created")), _when(b.row.get("updated")), counts["done"],
                     counts["error"], counts["running"], f"{seconds:.1f}"),)))
    source = b.row.get("source") or b.name
    plugins = "".join(f" --plugin {p}" for p in (b.params.get("plugins") or {}).get("modules", []))
    rep.add(_Para("Reproduce: choicelab run " + source + plugins + f" --db {b.db} && choicelab report --db {b.db} "
                  f"--batch {b.name}", code=True))
    if counts["error"] or counts["running"]:
        rep.add(_Para(f"Only the {counts['done']} done runs enter the figures and tables; "
                      f"{counts['error']} runs raised and {counts['running']} are unfinished (see Runs)."))


# --- theory against measurement ---------------------------------------------------------------

def _outcome(code) -> str:
    if code is None or not np.isfinite(code):
        return "inconclusive"
    return _CODE_OUTCOME.get(float(code), "inconclusive")


def _combine(outcomes: list) -> str:
    """One measured outcome over runs: a single confirmed violation is a counterexample."""
    if "violated" in outcomes:
        return "violated"
    if "inconclusive" in outcomes or not outcomes:
        return "inconclusive"
    return "holds"


def _theory_section(rep: _Report, b: _Batch) -> None:
    from choicelab.axioms.base import expected_verdict

    cells = {}  # (axiom, estimator) -> list of (run, outcome)
    errors = []
    run_by_id = {r["run_id"]: r for r in b.done}
    for r in b.rows:
        if r.metric != "verdict":
            continue
        axiom_id, _, what = r.key.partition(".")
        if what == "measured":
            cells.setdefault((axiom_id, r.estimator), []).append((run_by_id.get(r.run_id), _outcome(r.value)))
        elif what == "error":
            errors.append((axiom_id, r.estimator, r.run_id))
    if b.kind == "case_study":
        _case_study_theory(rep, b)
    if not cells and not errors:
        if "theory_table" in b.figures:
            rep.add(_Heading(2, "Theory against measurement"))
            rep.add(_Para("This batch stores no verdicts (no done run measured an axiom)."))
        return
    rep.add(_Heading(2, "Theory against measurement"))
    rep.add(_Para("Theory is the SPEC §3 table (choicelab.axioms.THEORY); measured combines the done runs "
                  "(one confirmed violation in any run is a counterexample). A witness is a JSON instance "
                  "that reproduces the measurement: choicelab.axioms.replay(json.load(open(path)))."))
    body, silent = [], 0
    for (axiom_id, est) in sorted(cells, key=lambda c: (_axiom_key(c[0]), b.order(c[1]))):
        runs = cells[(axiom_id, est)]
        outcomes = [o for _, o in runs]
        measured = _combine(outcomes)
        expected = expected_verdict(axiom_id, est)
        if expected is None and measured == "inconclusive":
            silent += 1  # e.g. P4 asked of Borda: theory is silent and the check measures nothing
            continue
        agrees = None if expected is None or measured == "inconclusive" else measured == expected
        tally = ", ".join(f"{outcomes.count(o)} {o}" for o in ("holds", "violated", "inconclusive") if o in outcomes)
        detail, witness = _cell_evidence(rep, b, axiom_id, est, runs, measured)
        body.append((axiom_id, est, expected or "(theory silent)", f"{measured} ({tally})", _MARK[agrees],
                     _fmt(_cell_magnitude(b, axiom_id, est)), detail, witness))
    for axiom_id, est, run_id in errors:
        blob = b.blob(run_id, f"verdict.{axiom_id}.{est}")
        message = json.loads(str(blob)).get("error", "") if blob is not None else ""
        body.append((axiom_id, est, expected_verdict(axiom_id, est) or "(theory silent)", "error", "–", "–",
                     message, ""))
    disagree = sum(row[4] == _MARK[False] for row in body)
    rep.add(_Table(("axiom", "estimator", "theory", "measured (runs)", "agreement", "magnitude", "detail",
                    "witness"), tuple(body),
                   caption=f"{len(body)} cells: {sum(row[4] == _MARK[True] for row in body)} agree, {disagree} "
                           f"disagree, {sum(row[4] == _MARK[None] for row in body)} undecided"
                           + (f"; {silent} cells where theory is silent and nothing was measured are left out."
                              if silent else ".")))
    for axiom_id, est, expected, measured, mark, _, _, witness in body:
        if isinstance(witness, _Link):
            rep.add(_Pre(f"witness {axiom_id} / {est}: {measured}", rep.witnesses[witness.href], link=witness.href))


def _axiom_key(axiom_id: str):
    order = "ATPX"
    return (order.index(axiom_id[0]) if axiom_id[:1] in order else 9, int(axiom_id[1:]) if axiom_id[1:].isdigit() else 0)


def _cell_magnitude(b: _Batch, axiom_id: str, est: str):
    """The statistic behind a cell (``magnitude`` rows, every kind), worst over runs."""
    finite = [v for v in b.values(est, "magnitude", axiom_id).values() if v is not None and np.isfinite(v)]
    return max(finite) if finite else None


def _cell_evidence(rep: _Report, b: _Batch, axiom_id: str, est: str, runs: list, measured: str):
    """(detail line, witness file) of a cell; a witness file is written for a violation."""
    for run, outcome in runs:
        if run is None:
            continue
        blob = b.blob(run["run_id"], f"verdict.{axiom_id}.{est}")
        verdict = json.loads(str(blob)) if blob is not None else None
        if measured == "violated" and outcome != "violated":
            continue
        detail = (verdict or {}).get("detail", "")
        if outcome != "violated":
            return detail, ""
        path = f"witnesses/{axiom_id}.{_file_part(est)}.{run['run_id'][:12]}.json"
        if verdict is not None and verdict.get("witness") is not None:
            rep.witnesses[path] = json.dumps(verdict["witness"], indent=1, default=str)
        else:  # the run's parameters and seed rebuild the instance
            rep.witnesses[path] = json.dumps({"batch": b.name, "run_id": run["run_id"], "seed": run["seed"],
                                              "params": run["params"], "axiom": axiom_id, "estimator": est,
                                              "note": "choicelab.scenarios.tasks.run_task(kind, params, seed) "
                                                      "recomputes this run"}, indent=1, default=str)
        return detail or f"violated in run {run['run_id'][:12]} (seed {run['seed']})", _Link(path, path)
    return "", ""


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:60]


def _case_study_theory(rep: _Report, b: _Batch) -> None:
    means = _topic_means(b)
    if not means:
        return
    rep.add(_Heading(2, "Theory against measurement"))
    rep.add(_Para("[PSZ] case study: near-duplicates of one topic move the standard MLE (not robust to "
                  "approximate clones, SPEC A1 fails; its order is the Borda order, P4) and leave the "
                  "Voronoi-weighted MLE in place (A1 holds). Top topics are taken on topic rewards averaged "
                  "over the done runs; 'runs with a change' counts the runs whose own top topic changed."))
    body = []
    for est, per in means.items():
        if "original" not in per or "clones" not in per:
            continue
        top_o = max(per["original"], key=lambda t: per["original"][t][0])
        top_c = max(per["clones"], key=lambda t: per["clones"][t][0])
        changed = top_o != top_c
        flips = [v for v in b.values(est, "top_changed", "").values() if v is not None]
        standard = _STANDARD_TWIN.get(est)
        if standard is None:
            theory, mark = "(theory silent)", _MARK[None]
        elif standard:  # theory allows the change; not seeing it on this world is no contradiction
            theory, mark = "can change (A1 fails)", _MARK[True] if changed else "– not shown on this world"
        else:
            theory, mark = "unchanged (A1 holds)", _MARK[not changed]
        body.append((est, theory, top_o, top_c, "changed" if changed else "unchanged",
                     f"{int(sum(flips))} of {len(flips)}", mark))
    rep.add(_Table(("estimator", "theory: top topic with clones", "top topic (Original)", "top topic (Clones)",
                    "measured", "runs with a change", "agreement"), tuple(body)))


# --- figures ----------------------------------------------------------------------------------

def _figures_section(rep: _Report, b: _Batch) -> None:
    wanted = [f for f in b.figures if f != "theory_table"]
    if not wanted:
        return
    rep.add(_Heading(2, "Figures"))
    if not b.done:
        rep.add(_Para("No run is done yet, so there is nothing to draw."))
        return
    from choicelab.reports import figures as F

    for name in wanted:
        made = _FIGURE_MAKERS.get(name, _not_applicable)(b, F)
        if isinstance(made, str):
            rep.add(_Para(f"Figure {name}: {made}"))
            continue
        for key, title, fig, caption in made:
            rep.add(_Figure(key, title, F.to_png(fig), caption))


def _not_applicable(b: _Batch, F):
    return f"not drawn for batches of kind {b.kind!r} (they do not store the data it needs)."


def _topic_means(b: _Batch) -> dict:
    """``{estimator: {dataset: {topic: (mean, stderr)}}}`` over done runs, topics in stored order."""
    acc: dict = {}
    for r in b.rows:
        if r.metric.startswith("topic_reward.") and r.value is not None:
            dataset = r.metric.split(".", 1)[1]
            acc.setdefault(r.estimator, {}).setdefault(dataset, {}).setdefault(r.key, []).append(r.value)
    _, labels = b.first_blob("labels.original")  # topics in the scenario's order (params JSON sorts keys)
    topics = [] if labels is None else list(dict.fromkeys(str(x) for x in labels))
    out = {}
    for est in sorted(acc, key=b.order):
        per = acc[est]
        out[est] = {}
        for dataset, by_topic in per.items():
            order = [t for t in topics if t in by_topic] + [t for t in by_topic if t not in topics]
            out[est][dataset] = {t: _mean_se(by_topic[t]) for t in order}
    return out


def _mean_se(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=float)
    se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0
    return float(v.mean()), se


def _fig_topic_rewards(b: _Batch, F):
    means = _topic_means(b)
    if not means:
        return _not_applicable(b, F)
    panels, topics = {}, None
    for est, per in means.items():
        series = {}
        for dataset in ("original", "clones"):
            if dataset in per:
                topics = list(per[dataset])
                mu = np.array([per[dataset][t][0] for t in topics])
                se = np.array([per[dataset][t][1] for t in topics])
                series[dataset.capitalize()] = (mu, se if len(b.done) > 1 else None)
        panels[est] = series
    fig = F.topic_rewards(topics, panels, title=f"Reward per topic, Original vs Clones ({len(b.done)} runs)")
    return [("topic_rewards", "Reward per topic", fig,
             "Mean reward of each topic's original responses, averaged over runs; error bars: standard error "
             "over runs (seeds). 'top' marks each dataset's best topic ([PSZ] case-study figure).")]


def _fig_delta_curves(b: _Batch, F):
    curves = {}
    for est in b.estimators("delta"):
        stacks = [b.blob(r["run_id"], f"{est}.delta_curve") for r in b.done]
        stacks = [s for s in stacks if s is not None]
        if not stacks:
            continue
        eps = stacks[0][0]
        same = [s[1] for s in stacks if s.shape == stacks[0].shape and np.allclose(s[0], eps)]
        curves[est] = (eps, np.mean(same, axis=0))
    if not curves:
        return _not_applicable(b, F)
    fig = F.delta_curves(curves, title=f"Robustness to approximate clones (A1), mean of {len(b.done)} runs")
    return [("delta_curves", "Δ(ε) curves", fig,
             "Largest change of any reward (or of the clone's reward against its original) when an ε-clone joins "
             "M, on log-log axes. Theory (SPEC A1): the standard MLE levels off above zero, the Voronoi-weighted "
             "MLE falls towards zero roughly linearly in ε.")]


def _region_of(b: _Batch, run):
    from choicelab.sim.regions import region_from_dict

    return region_from_dict(json.loads(str(b.blob(run["run_id"], "region"))))


def _fig_voronoi_cells(b: _Batch, F):
    if b.kind == "clone_robustness":
        run, X = b.first_blob("X.with_clone")
        if run is None:
            return "the runs store no positions (older results); rerun the batch."
        w = b.blob(run["run_id"], "weights.with_clone")
        idx = int(run["params"]["task"]["indices"][0])
        clone_of = np.full(len(X), -1)
        clone_of[-1] = idx
        label, caption = "clone", (f"Voronoi cells of M plus one approximate clone of alternative {idx} (within the "
                                   f"largest ε), coloured by weight: the clone and its original share one cell's weight.")
    elif b.kind == "byo_data":
        run, X = b.first_blob("X")
        if run is None:
            return "drawn only for 2-D embeddings (this data set is not 2-D)."
        w = b.blob(run["run_id"], "weights")
        dense = b.blob(run["run_id"], "dense")
        clone_of = np.where(np.asarray(dense, dtype=bool), 0, -1)
        label, caption = "dense (near-duplicate)", "Voronoi cells of your alternatives coloured by weight; crosses mark " \
                                                   "alternatives the clone diagnostic flags as dense."
    else:
        return _not_applicable(b, F)
    if X.shape[1] != 2:
        return f"drawn only for 2-D alternatives (these are {X.shape[1]}-D)."
    region = _region_of(b, run)
    lo, hi = region.bounds
    fig = F.voronoi_cells(X, w, (lo, hi), clone_of=clone_of, inside=region.contains, marked_label=label,
                          title=f"Voronoi weights (run seed {run['seed']})")
    return [("voronoi_cells", "Voronoi cells", fig, caption)]


def _fig_sensitivity(b: _Batch, F):
    run, grid = b.first_blob("sensitivity_grid")
    if run is None:
        return _not_applicable(b, F)
    values = b.blob(run["run_id"], "sensitivity_map")
    kappa = 2.0
    made = [("sensitivity_heatmap", "Sensitivity map", F.sensitivity_heatmap(grid, grid, values, kappa=kappa),
             f"∂P_ik/∂P_ij of the BT chain over (P_ij, P_jk) (SPEC X1), log colour scale; dashed lines: the X2 "
             f"thresholds for κ = {kappa:g}, outside which alone the sensitivity can exceed κ.")]
    curves = {}
    for est in b.estimators("learned_p_ik"):
        arr = b.blob(run["run_id"], f"{est}.curves")
        if arr is not None:
            curves[est] = (arr[0], arr[1], arr[2])
    if curves:
        p_jk = float(run["params"].get("task", {}).get("p_jk", float("nan")))
        made.append(("three_option", "Three-option experiment", F.three_option_curves(curves, p_jk),
                     "Learned probability of the never-trained pair (i, k) as the trained P_ij moves, against "
                     "the X1 closed form (SPEC X3): a small change of P_ij swings P_ik from near 0 to near 1."))
    x4 = b.blob(run["run_id"], "pairwise_vs_tuple")
    if x4 is not None:
        p_jk = float(run["params"].get("task", {}).get("p_jk", float("nan")))
        pair = {"pairwise chain (BT): P_ik": (x4[0], x4[1], x4[3]), "K = 3 tuple (PL): q_i|T": (x4[0], x4[2], x4[3])}
        made.append(("pairwise_vs_tuple", "Pairwise chain against K-tuples",
                     F.three_option_curves(pair, p_jk, title="Pairwise chain vs K = 3 tuple (X4)",
                                           ylabel="probability that i wins", suffix=""),
                     "SPEC X4 (a measurement, no verdict): the untrained pair's P_ik predicted by chaining the "
                     "pairwise fits, against q_i|T, the probability that i is chosen first from {i, j, k} under the "
                     "PL fit on full rankings of the same world. Observing the tuple jointly lowers the sensitivity "
                     "to P_ij."))
    return made


def _fig_residuals(b: _Batch, F):
    from choicelab.axioms.theorems import IDENTITY_TOL

    series = {}
    for est in b.estimators("residual"):
        vals = b.values(est, "residual", "max")
        ms, res = [], []
        for run in b.done:
            if run["run_id"] in vals and vals[run["run_id"]] is not None:
                ms.append(run["params"].get("world", {}).get("alternatives", {}).get("m", np.nan))
                res.append(vals[run["run_id"]])
        series[est] = (np.asarray(ms, dtype=float), np.asarray(res, dtype=float))
    if not series:
        return _not_applicable(b, F)
    return [("residuals", "Borda identity residuals", F.residuals(series, tol=IDENTITY_TOL),
             "Largest residual of the Borda (P4, standard MLE) and weighted-Borda (P5, weighted MLE) identities "
             "per run, against m; the dashed line is the bound the checker uses.")]


def _fig_majority_graph(b: _Batch, F):
    made = []
    if b.kind == "borda_identity":
        best = None
        for run in b.done:
            m = run["params"].get("world", {}).get("alternatives", {}).get("m", 0)
            if m >= 3 and (best is None or m < best[0]):
                best = (m, run)
        if best is not None:
            P = b.blob(best[1]["run_id"], "P")
            if P is not None:
                made.append(("majority_graph", "Majority graph",
                             F.majority_graph(P, title=f"Majority graph (m = {best[0]}, seed {best[1]['seed']})"),
                             "Edge i → j when P_ij > 1/2 (width grows with the margin); node shade: majority wins."))
    elif b.kind == "axiom_matrix":
        for run in b.done:
            for axiom_id in run["params"].get("axioms", {}).get("ids", []):
                for est in b.estimators("verdict"):
                    blob = b.blob(run["run_id"], f"verdict.{axiom_id}.{est}")
                    v = json.loads(str(blob)) if blob is not None else {}
                    P = ((v.get("witness") or {}).get("instance") or {}).get("P")
                    if v.get("measured") == "violated" and P is not None and 3 <= len(P) <= 10 and len(made) < 4:
                        made.append((f"majority_graph_{axiom_id}_{_file_part(est)}", f"Majority graph: {axiom_id} / {est}",
                                     F.majority_graph(np.asarray(P, dtype=float), title=f"{axiom_id} witness for {est}"),
                                     v.get("detail", "")))
    return made or _not_applicable(b, F)


def _fig_clone_diagnostic(b: _Batch, F):
    run, ratio = b.first_blob("weight_ratio")
    if run is None:
        return _not_applicable(b, F)
    labels = b.blob(run["run_id"], "labels")
    dense = b.blob(run["run_id"], "dense")
    threshold = run["params"].get("task", {}).get("dense_weight_ratio")
    return [("clone_diagnostic", "Clone diagnostic", F.weight_ratios(labels, ratio, dense, threshold=threshold),
             "m·w_i per alternative, sorted (1 = an even share of the space). Near-duplicates split one cell and "
             "fall far below 1; orange bars are the alternatives the diagnostic flags as dense.")]


_FIGURE_MAKERS = {
    "topic_rewards": _fig_topic_rewards,
    "delta_curves": _fig_delta_curves,
    "voronoi_cells": _fig_voronoi_cells,
    "sensitivity_heatmap": _fig_sensitivity,
    "residuals": _fig_residuals,
    "majority_graph": _fig_majority_graph,
    "clone_diagnostic": _fig_clone_diagnostic,
}


# --- result tables ----------------------------------------------------------------------------

def _tables_section(rep: _Report, b: _Batch) -> None:
    if not b.done:
        return
    rep.add(_Heading(2, "Results"))
    maker = _TABLE_MAKERS.get(b.kind, _generic_tables)
    for table in maker(b):
        rep.add(table)


def _case_study_tables(b: _Batch):
    means = _topic_means(b)
    cols = [(est, ds) for est, per in means.items() for ds in ("original", "clones") if ds in per]
    topics = []
    for est, ds in cols:
        topics += [t for t in means[est][ds] if t not in topics]
    body = tuple((t,) + tuple(_pm(*means[est][ds][t]) if t in means[est][ds] else "–" for est, ds in cols)
                 for t in topics)
    yield _Table(("topic",) + tuple(f"{est} · {ds}" for est, ds in cols), body,
                 caption=f"Topic rewards: mean ± standard error over {len(b.done)} runs (seeds "
                         f"{_seed_list(b.done)}).")
    quality = {}
    for r in b.rows:
        if r.metric.startswith("fit_quality.") and r.value is not None:
            quality.setdefault((r.estimator, r.metric.split(".", 1)[1], r.key), []).append(r.value)
    if quality:
        yield _Table(("estimator", "dataset", "fit quality", "mean over runs"),
                     tuple((e, d, k, _fmt(float(np.mean(v)))) for (e, d, k), v in sorted(quality.items())),
                     caption="kendall_tau_vs_exact: Kendall tau between a neural fit and the exact estimator on the "
                             "same data; final_loss: mean training loss at the last step (log 2 = 0.693 is chance).")


def _pm(mean: float, se: float) -> str:
    return f"{mean:.4f} ± {se:.4f}"


def _seed_list(runs) -> str:
    seeds = sorted({r["seed"] for r in runs})
    return ", ".join(map(str, seeds[:30])) + (" …" if len(seeds) > 30 else "")


def _clone_robustness_tables(b: _Batch):
    ests = b.estimators("delta")
    per = {}
    for r in b.rows:
        if r.metric == "delta" and r.value is not None:
            per.setdefault((float(r.key), r.estimator), []).append(r.value)
    eps = sorted({e for e, _ in per}, reverse=True)
    body = tuple((_fmt(e),) + tuple(_fmt(float(np.mean(per[(e, est)]))) if (e, est) in per else "–" for est in ests)
                 for e in eps)
    slopes = tuple(_fmt(_mean(b.values(est, "slope", ""))) for est in ests)
    yield _Table(("ε",) + tuple(ests), body + (("log-log slope",) + slopes,),
                 caption=f"Δ(ε), mean over {len(b.done)} runs (seeds {_seed_list(b.done)}); slope over ε ≤ 1e-2.")


def _mean(values: dict):
    finite = [v for v in values.values() if v is not None and np.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _sensitivity_tables(b: _Batch):
    for est in b.estimators("learned_p_ik"):
        by_key = {}
        for r in b.rows:
            if r.estimator == est and r.metric in ("learned_p_ik", "closed_form_p_ik"):
                by_key.setdefault(r.key, {})[r.metric] = r.value
        body = tuple((k, _fmt(v.get("learned_p_ik")), _fmt(v.get("closed_form_p_ik")))
                     for k, v in sorted(by_key.items(), key=lambda kv: float(kv[0])))
        yield _Table(("P_ij (realised)", f"{est}: learned P_ik", "X1 closed form"), body,
                     caption=f"{est}: max |learned − closed form| = {_fmt(_mean(b.values(est, 'max_error', '')))}.")
    x4 = {est: _mean(b.values(est, "max_sensitivity", "")) for est in ("pairwise_bt", "tuple_pl")}
    if any(v is not None for v in x4.values()):
        yield _Table(("model", "largest |dP/dP_ij| along the grid"), tuple((k, _fmt(v)) for k, v in x4.items()),
                     caption="SPEC X4 measurement: chained pairwise BT against the PL tuple model (K = 3).")


def _borda_tables(b: _Batch):
    body = []
    for run in b.done:
        m = run["params"].get("world", {}).get("alternatives", {}).get("m", "–")
        for est in b.estimators("residual"):
            get = {(r.metric, r.key): r.value for r in b.rows if r.run_id == run["run_id"] and r.estimator == est}
            body.append((run["seed"], m, est, _fmt(get.get(("residual", "max"))), _fmt(get.get(("weighted_sum", ""))),
                         _fmt(get.get(("order_agreement", "kendall_tau")))))
    yield _Table(("seed", "m", "estimator", "max residual", "|Σ w_i r_i|", "Kendall tau vs Borda/WAWR"),
                 tuple(body[:_MAX_TABLE_ROWS]), caption=_truncated(len(body)))
    run, r = b.first_blob("mle.rewards")
    if run is not None:
        w = b.blob(run["run_id"], "weights")
        rw = b.blob(run["run_id"], "weighted_mle.rewards")
        P = b.blob(run["run_id"], "P")
        body = tuple((i, _fmt(float(P[i].sum())), _fmt(float(r[i])), _fmt(float(w[i])), _fmt(float(P[i] @ w)),
                      _fmt(float(rw[i]))) for i in range(len(r)))
        yield _Table(("alternative", "Borda B(i)", "mle reward", "Voronoi weight", "WAWR(i)", "weighted_mle reward"),
                     body[:_MAX_TABLE_ROWS], caption=f"Fitted rewards of the run with seed {run['seed']} "
                                                      f"(m = {len(r)}, λ = {b.params.get('estimators', {}).get('lam')}).")


def _truncated(n: int) -> str:
    return f"First {_MAX_TABLE_ROWS} of {n} rows." if n > _MAX_TABLE_ROWS else ""


def _byo_tables(b: _Batch):
    diag = {r.key: r.value for r in b.rows if r.metric == "clone_diagnostic"}
    yield _Table(("quantity", "value"), tuple((k, _fmt(v)) for k, v in diag.items()), caption="Clone diagnostic.")
    body = []
    for est in [e for e in b.estimators() if e != "data"]:
        top = [r.key for r in b.rows if r.estimator == est and r.metric == "top_alternative"]
        top_c = [r.key for r in b.rows if r.estimator == est and r.metric == "top_alternative_collapsed"]
        tau = _mean(b.values(est, "kendall_tau", "collapsed"))
        body.append((est, ", ".join(top) or "–", ", ".join(top_c) or "–", _fmt(tau)))
    yield _Table(("estimator", "top alternative", "top after collapsing near-duplicates", "Kendall tau (kept)"),
                 tuple(body), caption="A standard MLE whose ranking moves while the weighted MLE's does not is the "
                                      "clone effect of [PSZ].")
    run, labels = b.first_blob("labels")
    if run is not None:
        ratio = b.blob(run["run_id"], "weight_ratio")
        dense = b.blob(run["run_id"], "dense")
        fits = [(est, b.blob(run["run_id"], f"{est}.rewards")) for est, *_ in body]
        fits = [(e, r) for e, r in fits if r is not None]
        rows = tuple((str(labels[i]), _fmt(float(ratio[i])), "yes" if dense[i] else "")
                     + tuple(_fmt(float(r[i])) for _, r in fits) for i in range(len(labels)))
        yield _Table(("alternative", "m·w_i", "dense") + tuple(f"{e} reward" for e, _ in fits),
                     rows[:_MAX_TABLE_ROWS], caption=_truncated(len(rows)))


def _axiom_matrix_tables(b: _Batch):
    return iter(())  # the theory table is this kind's result


def _generic_tables(b: _Batch):
    acc = {}
    for r in b.rows:
        if r.value is not None and np.isfinite(r.value):
            acc.setdefault((r.estimator, r.metric, r.key), []).append(r.value)
    body = tuple((e, m, k, _fmt(float(np.mean(v))), len(v)) for (e, m, k), v in sorted(acc.items()))
    yield _Table(("estimator", "metric", "key", "mean over runs", "runs"), body[:_MAX_TABLE_ROWS],
                 caption=_truncated(len(body)))


_TABLE_MAKERS = {
    "case_study": _case_study_tables,
    "clone_robustness": _clone_robustness_tables,
    "sensitivity": _sensitivity_tables,
    "borda_identity": _borda_tables,
    "byo_data": _byo_tables,
    "axiom_matrix": _axiom_matrix_tables,
}


# --- settings and runs ------------------------------------------------------------------------

def _flatten(prefix: str, value, out: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    else:
        out.append((prefix, json.dumps(value, default=str)))


def _settings_section(rep: _Report, b: _Batch) -> None:
    rep.add(_Heading(2, "Settings"))
    flat: list = []
    _flatten("", b.params, flat)
    rep.add(_Table(("key", "value"), tuple(flat), caption="The validated parameters every run received before "
                                                           "its sweep values (defaults filled in)."))
    sweep = b.meta.get("sweep") or {}
    if sweep:
        rep.add(_Table(("swept key", "values"), tuple((k, json.dumps(v, default=str)) for k, v in sweep.items())))
    rep.add(_Para(f"Seeds: base seed {b.meta.get('base_seed', '–')}, offsets "
                  f"{json.dumps(b.meta.get('seeds', []))}; each run draws everything from "
                  f"numpy.random.default_rng(seed)."))
    text = b.row.get("scenario") or ""
    if text:
        rep.add(_Pre("scenario file as run", text))


def _runs_section(rep: _Report, b: _Batch) -> None:
    rep.add(_Heading(2, "Runs"))
    body = []
    for r in b.runs:
        error = (r["error"] or "").strip().splitlines()
        body.append((r["run_id"][:12], r["seed"], json.dumps(r["point"], default=str) if r["point"] else "",
                     r["status"], _fmt(r["seconds"], 3), error[-1] if error else ""))
    rep.add(_Table(("run", "seed", "sweep point", "status", "seconds", "error"), tuple(body[:_MAX_TABLE_ROWS]),
                   caption=_truncated(len(body))))


# ---------------------------------------------------------------------------------------------
# Rendering

_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;max-width:1100px;margin:1.5em auto;
padding:0 1em;color:#1f2328;line-height:1.45}
h1{font-size:1.6em;border-bottom:1px solid #d0d7de;padding-bottom:.3em}h2{font-size:1.25em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.86em;display:block;overflow-x:auto}
th,td{border:1px solid #d0d7de;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f6f8fa}caption{caption-side:bottom;text-align:left;color:#57606a;padding-top:.3em}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{color:#57606a;font-size:.9em}code{background:#f6f8fa;padding:.15em .35em;border-radius:4px}
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;font-size:.8em;max-height:28em}
.ok{color:#1a7f37}.bad{color:#cf222e;font-weight:600}footer{color:#57606a;font-size:.8em;margin-top:3em}
"""


def _cell_html(text) -> str:
    if isinstance(text, _Link):
        return f'<a href="{html.escape(text.href)}">{html.escape(text.text)}</a>'
    text = html.escape(str(text))
    if text.startswith("✓"):
        return f'<span class="ok">{text}</span>'
    if text.startswith("✗"):
        return f'<span class="bad">{text}</span>'
    return text


def _render_html(rep: _Report) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{e(rep.title)}</title><style>{_CSS}</style></head><body>",
             f"<h1>{e(rep.title)}</h1>"]
    for blk in rep.blocks:
        if isinstance(blk, _Heading):
            parts.append(f"<h{blk.level}>{e(blk.text)}</h{blk.level}>")
        elif isinstance(blk, _Para):
            parts.append(f"<p><code>{e(blk.text)}</code></p>" if blk.code else f"<p>{e(blk.text)}</p>")
        elif isinstance(blk, _Table):
            head = "".join(f"<th>{e(str(h))}</th>" for h in blk.header)
            body = "".join("<tr>" + "".join(f"<td>{_cell_html(c)}</td>" for c in row) + "</tr>" for row in blk.rows)
            cap = f"<caption>{e(blk.caption)}</caption>" if blk.caption else ""
            parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(blk, _Figure):
            data = base64.b64encode(blk.png).decode("ascii")
            parts.append(f'<figure data-figure="{e(blk.key)}"><img alt="{e(blk.title)}" '
                         f'src="data:image/png;base64,{data}"><figcaption>{e(blk.caption)}</figcaption></figure>')
        elif isinstance(blk, _Pre):
            link = f' (also <a href="{e(blk.link)}">{e(blk.link)}</a>)' if blk.link else ""
            parts.append(f"<details><summary>{e(blk.summary)}{link}</summary><pre>{e(blk.text)}</pre></details>")
    parts.append(f"<footer>choicelab report, written {e(_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC'))} "
                 "from the results store alone.</footer></body></html>")
    return "\n".join(parts)


def _md(text) -> str:
    """A Markdown table cell or paragraph: no HTML, no table breaks, no stray emphasis."""
    text = html.escape(str(text), quote=False).replace("|", "\\|").replace("\n", " ")
    return re.sub(r"([\\`*_\[\]#])", lambda m: m.group(1) if m.group(1) == "\\" else "\\" + m.group(1), text)


def _render_markdown(rep: _Report, figure_files: dict) -> str:
    lines = [f"# {_md(rep.title)}", ""]
    for blk in rep.blocks:
        if isinstance(blk, _Heading):
            lines += ["#" * blk.level + " " + _md(blk.text), ""]
        elif isinstance(blk, _Para):
            lines += [f"`{blk.text.replace('`', chr(39))}`" if blk.code else _md(blk.text), ""]
        elif isinstance(blk, _Table):
            lines.append("| " + " | ".join(_md(h) for h in blk.header) + " |")
            lines.append("|" + "---|" * len(blk.header))
            lines += ["| " + " | ".join(f"[{_md(c)}]({c.href})" if isinstance(c, _Link) else _md(c) for c in row)
                      + " |" for row in blk.rows]
            lines += ([""] + [f"_{_md(blk.caption)}_"] if blk.caption else []) + [""]
        elif isinstance(blk, _Figure):
            lines += [f"![{_md(blk.title)}]({figure_files[blk.key]})", "", f"_{_md(blk.caption)}_", ""]
        elif isinstance(blk, _Pre):
            if blk.link:
                lines += [f"- {_md(blk.summary)}: [{blk.link}]({blk.link})", ""]
            else:
                fence = "````" if "```" in blk.text else "```"
                lines += [f"{_md(blk.summary)}:", "", fence + "toml", blk.text.rstrip(), fence, ""]
    return "\n".join(lines).rstrip() + "\n"


def _write(rep: _Report, folder: Path, name: str) -> ReportFiles:
    folder.mkdir(parents=True, exist_ok=True)
    figure_files = {}
    for blk in rep.blocks:
        if isinstance(blk, _Figure):
            fname = f"fig-{_file_part(blk.key)}.png"
            (folder / fname).write_bytes(blk.png)
            figure_files[blk.key] = fname
    witnesses = []
    for rel, text in rep.witnesses.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        witnesses.append(path)
    html_path, md_path = folder / "index.html", folder / "report.md"
    html_path.write_text(_render_html(rep), encoding="utf-8")
    md_path.write_text(_render_markdown(rep, figure_files), encoding="utf-8")
    return ReportFiles(batch=name, folder=folder, html=html_path, markdown=md_path,
                       figures=tuple(figure_files), witnesses=tuple(witnesses))

"""What a run computes, per scenario ``kind``: plain functions ``(params, seed) -> TaskOutput``.

Every function draws all its randomness from ``rng = np.random.default_rng(seed)``, passed down
(neural fits get an integer base seed drawn from it, and seed their torch generators from that),
so the same params and seed give the same numbers in any process.

Kinds
-----
``selftest``         infrastructure check: sleeps / burns CPU, emits seeded numbers, raises on request.
``case_study``       [PSZ] "Describe Paris" replica: topic rewards of standard vs weighted MLE
                     (exact and neural) on an Original and a Clones dataset.
``borda_identity``   P4 / P5 residuals, weighted sums and order agreement on a world's matrix.
``clone_robustness`` A1: the Delta(eps) curve per estimator (choicelab.axioms.clones.a1_curve).
``sensitivity``      X1-X3 [XK]: the three-option experiment and the BT sensitivity map.
``axiom_matrix``     ``choicelab.axioms.check`` per estimator x axiom.
``byo_data``         your own embeddings and comparisons: weights, fits, a clone diagnostic.

Result rows are ``(estimator, metric, key, value)`` with a float value; blobs are named arrays.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import numpy as np

__all__ = ["TaskOutput", "run_task", "TASKS", "build_region", "build_alternatives", "build_population",
           "add_clones", "summarise"]


@dataclass(frozen=True)
class TaskOutput:
    """What one run produced.

    Attributes
    ----------
    rows : list of (str, str, str, float)
        ``(estimator, metric, key, value)``.
    blobs : dict of str -> ndarray
        Arrays reports need (reward vectors, curves, weights); numeric or unicode dtype.
    """

    rows: list = field(default_factory=list)
    blobs: dict = field(default_factory=dict)
    verdicts: list = field(default_factory=list)

    def add(self, estimator: str, metric: str, key, value) -> None:
        self.rows.append((str(estimator), str(metric), str(key), float(value)))


def run_task(kind: str, params: dict, seed: int) -> TaskOutput:
    """Run the computation of scenario ``kind`` with ``np.random.default_rng(seed)``."""
    try:
        fn = TASKS[kind]
    except KeyError:
        raise ValueError(f"kind must be one of {sorted(TASKS)}, got {kind!r}") from None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    rng = np.random.default_rng(int(seed))
    out = TaskOutput()
    fn(params, int(seed), rng, out)
    return out


# ---------------------------------------------------------------------------------------------
# World building from validated params (choicelab.scenarios.spec)

def build_region(desc: dict | None):
    """Box or Ball from ``[world.region]``; None when absent."""
    from choicelab import sim

    if desc is None:
        return None
    if desc["type"] == "box":
        return sim.Box(desc["lo"], desc["hi"])
    return sim.Ball(desc["center"], desc["radius"])


def build_alternatives(desc: dict, rng, region=None):
    """Alternatives from ``[world.alternatives]``.

    ``topic_clusters``: topic k contributes ``per_topic`` points ``c_k + spread * s * N(0, I)``
    with per-axis ``scales`` s (default 1; decreasing scales mimic PCA coordinates).
    """
    from choicelab import sim
    from choicelab.scenarios.spec import read_embeddings

    gen = desc["generator"]
    if gen == "topic_clusters":
        names = list(desc["topics"])
        C = np.asarray([desc["topics"][t] for t in names], dtype=float)
        scales = np.asarray(desc.get("scales", [1.0] * C.shape[1]), dtype=float)
        # draw around C / s, then stretch by s: noise becomes spread * s * N(0, I), centres stay
        alts = sim.topic_clusters(C / scales, desc["per_topic"], desc["spread"], rng=rng, names=names)
        return sim.Alternatives(alts.X * scales, labels=alts.labels)
    if gen == "uniform":
        return sim.uniform_alternatives(region, desc["m"], rng=rng)
    if gen == "grid":
        return sim.grid_alternatives(region, desc["per_axis"])
    X, labels = read_embeddings(desc["path"])
    return sim.Alternatives(X, labels=None if labels is None else np.asarray(labels))


def build_population(desc: dict, alts, topic_centres: dict | None = None):
    """Population from ``[world.population]``; topic-table centres default to the world's topics."""
    from choicelab import sim

    types = []
    for t in desc["types"]:
        fam = t["reward"]
        if fam == "linear":
            reward = sim.linear_reward(t["theta"])
        elif fam == "ideal_point":
            reward = sim.ideal_point_reward(t["center"])
        elif fam == "topic_table":
            if "centers" in t:
                centers, utilities = t["centers"], t["utilities"]
            else:
                names = list(topic_centres)
                centers = [topic_centres[k] for k in names]
                u = t["utilities"]
                utilities = [u[k] for k in names] if isinstance(u, dict) else u
            reward = sim.topic_table_reward(centers, utilities, t["tau"])
        elif fam == "rbf_mixture":
            reward = sim.rbf_mixture_reward(t["centers"], t["weights"], t["bandwidth"])
        else:
            reward = sim.explicit_reward(alts.X, t["values"])
        types.append(sim.AnnotatorType(t["share"], reward))
    return sim.Population(types, choice=desc["choice"], beta=desc["beta"])


def add_clones(alts, desc: dict | None, rng, region=None):
    """Apply ``[world.clones]``: ``count`` copies of ``index``, or of every original of ``topic``."""
    from choicelab import sim

    if desc is None or desc["count"] == 0:
        return alts
    if "index" in desc:
        targets = [desc["index"]]
    else:
        targets = [int(i) for i in alts.originals if str(alts.labels[i]) == desc["topic"]]
    for i in targets:
        if desc["type"] == "exact":
            alts = sim.add_exact_clones(alts, i, desc["count"])
        else:
            alts = sim.add_approximate_clones(alts, i, desc["count"], desc["eps"], rng=rng, region=region)
    return alts


def _topic_centres(params) -> dict | None:
    alts = params.get("world", {}).get("alternatives", {})
    return alts.get("topics") if alts.get("generator") == "topic_clusters" else None


def _world(params, rng):
    """(region, alternatives without clones, population) of ``[world]``."""
    world = params["world"]
    region = build_region(world.get("region"))
    alts = build_alternatives(world["alternatives"], rng, region)
    pop = build_population(world["population"], alts, _topic_centres(params)) if "population" in world else None
    return region, alts, pop


def _weights(X, region, params, rng):
    from choicelab.estimators.weights import voronoi_weights

    v = params["estimators"]["voronoi"]
    return np.asarray(voronoi_weights(X, region, method=v["method"], n_samples=v["n_samples"], rng=rng), dtype=float)


def _neural_seed(rng) -> int:
    return int(rng.integers(0, 2**62))


def _fit(name: str, X, data, m: int, weights, params, rng) -> tuple[np.ndarray, dict]:
    """Rewards of a BT-type estimator on comparisons or a matrix; returns (rewards, diagnostics)."""
    from choicelab.sim.data import Comparisons

    lam = params["estimators"]["lam"]
    w = weights if name in ("weighted_mle", "neural_weighted_mle") else None
    if name in ("mle", "weighted_mle"):
        from choicelab.estimators.bt import bt_mle, bt_mle_comparisons

        fit = bt_mle_comparisons(data, m, weights=w, lam=lam) if isinstance(data, Comparisons) else \
            bt_mle(data, weights=w, lam=lam)
        return np.asarray(fit.rewards, dtype=float), {"converged": float(fit.converged)}
    if name in ("neural_mle", "neural_weighted_mle"):
        from choicelab.estimators.neural import neural_bt

        nn = params["estimators"]["neural"]
        fit = neural_bt(X, data, weights=w, hidden=nn["hidden"], layers=nn["layers"], lr=nn["lr"],
                        batch_size=nn["batch_size"], steps=nn["steps"], seeds=nn["seeds"],
                        activation=nn["activation"], output_reg=nn["output_reg"], seed=_neural_seed(rng))
        curve = np.asarray(fit.loss_curves, dtype=float).mean(axis=0)
        return np.asarray(fit.rewards(X), dtype=float), {"final_loss": float(np.mean(fit.final_loss)),
                                                         "loss_curve": curve}
    raise ValueError(f"estimator {name!r} is not supported here (mle, weighted_mle, neural_mle, neural_weighted_mle)")


def _kendall_tau(x, y) -> float:
    from scipy.stats import kendalltau

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(kendalltau(x, y).statistic)


# ---------------------------------------------------------------------------------------------
# selftest

def _selftest(params, seed, rng, out: TaskOutput) -> None:
    """Infrastructure check: sleep, burn ``work`` CPU iterations, emit ``values`` seeded rows."""
    task = params["task"]
    if task["sleep"]:
        time.sleep(task["sleep"])
    acc = seed
    for _ in range(task["work"]):  # pure-Python LCG: single-threaded CPU work, no BLAS involved
        acc = (6364136223846793005 * acc + 1442695040888963407) % (1 << 64)
    if seed in task["fail_seeds"]:
        raise RuntimeError(f"selftest: seed {seed} is listed in task.fail_seeds")
    for k in range(task["values"]):
        out.add("selftest", "value", k, rng.random())
    out.add("selftest", "checksum", "", acc % 1000003)
    out.blobs["draws"] = rng.standard_normal(5)


# ---------------------------------------------------------------------------------------------
# case_study: [PSZ] "Describe Paris" without a language model

def _case_study(params, seed, rng, out: TaskOutput) -> None:
    """Topic rewards of each estimator on an Original and a Clones dataset ([PSZ] case study).

    The Clones dataset holds the same responses plus ``world.clones`` near-duplicates; each
    dataset gets its own ``data.n`` comparisons (SPEC §1 Data (b)). A topic's reward is the mean
    reward of that topic's original responses (the same points in both datasets). Rows:
    ``topic_reward.<dataset>`` (key topic), ``rank.<dataset>`` (1 = best), ``top_changed``
    (1 when the top topic differs between datasets), and for neural estimators
    ``fit_quality.<dataset>``: Kendall tau against the exact estimator on the same data
    (``kendall_tau_vs_exact``), the final training loss and the spread of topic rewards.
    """
    region, alts, pop = _world(params, rng)
    clones = add_clones(alts, params["world"]["clones"], rng, region)
    topics = list(params["world"]["alternatives"]["topics"])
    m0 = alts.m
    labels = np.asarray([str(x) for x in alts.labels])
    members = {t: np.flatnonzero(labels == t) for t in topics}
    names = params["estimators"]["names"]
    exact_for = {"neural_mle": "mle", "neural_weighted_mle": "weighted_mle"}
    want_exact = params["task"]["exact_check"]
    tops: dict = {}
    for dataset, A in (("original", alts), ("clones", clones)):
        comps = pop.sample_comparisons(A.X, params["data"]["n"], rng=rng)
        w = _weights(A.X, region, params, rng)
        out.blobs[f"weights.{dataset}"] = w
        out.blobs[f"X.{dataset}"] = A.X
        out.blobs[f"labels.{dataset}"] = np.asarray([str(x) for x in A.labels])
        fitted = {}
        order = list(names)
        if want_exact:  # exact fits first, so neural fits can be compared with them
            extra = [exact_for[n] for n in names if n in exact_for and exact_for[n] not in names]
            order = [n for n in order if not n.startswith("neural")] + extra + [n for n in order if n.startswith("neural")]
        for name in order:
            r, diag = _fit(name, A.X, comps, A.m, w, params, rng)
            fitted[name] = r
            if name not in names:
                continue
            out.blobs[f"{name}.{dataset}.rewards"] = r
            topic_r = np.array([r[members[t]].mean() for t in topics])
            ranks = np.empty(len(topics))
            ranks[np.argsort(-topic_r, kind="stable")] = np.arange(1, len(topics) + 1)
            for t, v, rk in zip(topics, topic_r, ranks):
                out.add(name, f"topic_reward.{dataset}", t, v)
                out.add(name, f"rank.{dataset}", t, rk)
            tops.setdefault(name, {})[dataset] = int(np.argmax(topic_r))
            if "loss_curve" in diag:
                out.blobs[f"{name}.{dataset}.loss_curve"] = diag["loss_curve"]
                out.add(name, f"fit_quality.{dataset}", "final_loss", diag["final_loss"])
                out.add(name, f"fit_quality.{dataset}", "topic_reward_spread", float(np.ptp(topic_r)))
                if exact_for[name] in fitted:
                    out.add(name, f"fit_quality.{dataset}", "kendall_tau_vs_exact",
                            _kendall_tau(r[:m0], fitted[exact_for[name]][:m0]))
            if "converged" in diag:
                out.add(name, f"fit_quality.{dataset}", "converged", diag["converged"])
    for name, t in tops.items():
        out.add(name, "top_changed", "", float(t["original"] != t["clones"]))


# ---------------------------------------------------------------------------------------------
# borda_identity: P4 / P5

def _borda_identity(params, seed, rng, out: TaskOutput) -> None:
    """P4 and P5 on the world's matrix P (SPEC P4, P5).

    Fits the standard MLE (Eq. 1) and the weighted MLE (Eq. 2, Voronoi or Dirichlet weights) on
    P and records ``residual`` = max_i |sum_j w_j sigma(r_i - r_j) + lam r_i - sum_j w_j P_ij|
    (:func:`choicelab.axioms.theorems.borda_identity_residual`), ``weighted_sum`` = |sum_i w_i
    r_i| and ``order_agreement`` = Kendall tau between the rewards and the Borda / WAWR scores;
    ``verdict`` / ``P4.measured`` (mle) and ``P5.measured`` (weighted_mle): holds when the fit
    converged and residual and weighted sum are below ``IDENTITY_TOL`` (the order claim follows
    from the identity). Blobs: rewards, residuals, weights and the matrix ``P`` (majority graph).
    """
    from choicelab.axioms.theorems import IDENTITY_TOL, borda_identity_residual
    from choicelab.estimators.bt import bt_mle

    region, alts, pop = _world(params, rng)
    P = pop.preference_matrix(alts.X)
    lam = params["estimators"]["lam"]
    if params["task"]["weights"] == "voronoi":
        w = _weights(alts.X, region, params, rng)
    else:
        w = rng.dirichlet(np.ones(alts.m))
    for name, weights, axiom_id in (("mle", None, "P4"), ("weighted_mle", w, "P5")):
        fit = bt_mle(P, weights=weights, lam=lam)
        r = np.asarray(fit.rewards, dtype=float)
        ww = np.ones(alts.m) if weights is None else weights
        res = borda_identity_residual(P, r, lam, weights)
        worst, centre = float(np.max(np.abs(res))), abs(float(ww @ r))
        out.add(name, "residual", "max", worst)
        out.add(name, "weighted_sum", "", centre)
        _add_measured(out, name, axiom_id, "inconclusive" if not fit.converged else
                      "holds" if max(worst, centre) < IDENTITY_TOL else "violated", max(worst, centre))
        out.add(name, "order_agreement", "kendall_tau", _kendall_tau(r, P @ ww))
        out.add(name, "converged", "", float(fit.converged))
        out.blobs[f"{name}.rewards"] = r
        out.blobs[f"{name}.residual"] = res
    out.blobs["weights"] = w
    out.blobs["P"] = P


# ---------------------------------------------------------------------------------------------
# clone_robustness: A1

# Verdict rows of every kind: ("verdict", "<id>.measured") with 1 holds, 0 violated, NaN inconclusive,
# and ("magnitude", "<id>") with the statistic the verdict rule read (as axiom_matrix stores it).
_OUTCOME_CODE = {"holds": 1.0, "violated": 0.0, "inconclusive": float("nan")}


def _region_blob(region) -> np.ndarray:
    """The region as a 0-d JSON text array (``choicelab.sim.regions.region_to_dict``)."""
    from choicelab.sim.regions import region_to_dict

    return np.array(json.dumps(region_to_dict(region)))


def _add_measured(out: "TaskOutput", estimator: str, axiom_id: str, outcome: str, magnitude: float) -> None:
    out.add(estimator, "verdict", f"{axiom_id}.measured", _OUTCOME_CODE[outcome])
    out.add(estimator, "magnitude", axiom_id, magnitude)


def _clone_robustness(params, seed, rng, out: TaskOutput) -> None:
    """A1: the Delta(eps) curve of every estimator on the world's instance (SPEC A1).

    Reuses :func:`choicelab.axioms.clones.a1_curve` (a clone of each alternative in
    ``task.indices`` at distance eps along a random direction, refitted through the estimator
    registry on representative data; weighted estimators recompute Voronoi weights) and its
    verdict rule :func:`~choicelab.axioms.clones.a1_verdict`. Rows: ``delta`` (key eps, the
    worst over the indices), ``slope`` (log-log slope over eps <= 1e-2) and ``verdict`` /
    ``A1.measured`` (1 holds, 0 violated, NaN inconclusive). Blob ``<estimator>.delta_curve``:
    rows eps, Delta. For the Voronoi figure: ``X.with_clone`` (M plus one clone of the first
    index at the largest eps) and ``weights.with_clone`` (its Voronoi weights).
    """
    from choicelab import sim
    from choicelab.axioms.clones import a1_curve, a1_verdict

    region, alts, pop = _world(params, rng)
    instance = sim.Instance(alts, pop, region)
    task = params["task"]
    for name in params["estimators"]["names"]:
        curve = a1_curve(name, instance, eps_grid=task["eps"], indices=task["indices"], rng=rng, quick=task["quick"])
        eps, delta = np.asarray(curve["eps"], dtype=float), np.asarray(curve["delta"], dtype=float)
        for e, dlt in zip(eps, delta):
            out.add(name, "delta", f"{e:.6g}", dlt)
        outcome, slope = a1_verdict(eps, delta)
        out.add(name, "slope", "", slope)
        _add_measured(out, name, "A1", outcome, float(delta[np.argmin(eps)]))  # Delta at the smallest eps
        out.add(name, "converged", "", float(curve["converged"]))
        out.blobs[f"{name}.delta_curve"] = np.vstack([eps, delta])
    if region is not None:
        shown = sim.add_approximate_clones(alts, int(task["indices"][0]), 1, float(max(task["eps"])), rng=rng,
                                           region=region)
        out.blobs["X.with_clone"] = shown.X
        out.blobs["weights.with_clone"] = _weights(shown.X, region, params, rng)
        out.blobs["region"] = _region_blob(region)


# ---------------------------------------------------------------------------------------------
# sensitivity: X1-X3

def _sensitivity(params, seed, rng, out: TaskOutput) -> None:
    """X1-X3 [XK]: the three-option experiment per estimator and the BT sensitivity map.

    Reuses :func:`choicelab.axioms.sensitivity.three_option_experiment` (grid from
    ``default_p_ij_grid(p_jk, points, half_width)``) and ``sensitivity_map``. Rows:
    ``learned_p_ik`` (key P_ij), ``closed_form_p_ik``, ``max_error`` = max |learned - closed form|
    and ``verdict`` / ``X3.measured`` by the rule of the X3 check
    (:func:`choicelab.axioms.sensitivity.x3_outcome`). With ``task.pairwise_vs_tuple`` also
    the X4 measurement (no verdict, SPEC X4) on the same grid,
    :func:`~choicelab.axioms.sensitivity.pairwise_vs_tuple_experiment`: estimator ``pairwise_bt``
    and ``tuple_pl`` rows ``max_sensitivity`` (largest |dP/dP_ij| along the grid) and the blob
    ``pairwise_vs_tuple`` (rows P_ij, chained pairwise P_ik, PL first-choice q_i|T, closed form).
    """
    from choicelab.axioms import sensitivity as xs

    task = params["task"]
    grid = xs.default_p_ij_grid(task["p_jk"], points=task["points"], half_width=task["half_width"])
    for name in params["estimators"]["names"]:
        curves = xs.three_option_experiment(name, grid, task["p_jk"], rng=rng, n_per_pair=task["n_per_pair"],
                                            lam=params["estimators"]["lam"], quick=task["quick"])
        for p, learned, closed in zip(curves.realised_p_ij, curves.learned_p_ik, curves.closed_form_p_ik):
            out.add(name, "learned_p_ik", f"{p:.6g}", learned)
            out.add(name, "closed_form_p_ik", f"{p:.6g}", closed)
        out.add(name, "max_error", "", curves.max_error)
        _add_measured(out, name, "X3", xs.x3_outcome(name, curves)[0], curves.max_error)
        out.add(name, "converged", "", float(np.all(curves.converged)))
        out.blobs[f"{name}.curves"] = np.vstack([curves.realised_p_ij, curves.learned_p_ik, curves.closed_form_p_ik])
    if task["pairwise_vs_tuple"]:
        x4 = xs.pairwise_vs_tuple_experiment(grid, task["p_jk"], n=task["n_per_pair"], lam=params["estimators"]["lam"])
        out.add("pairwise_bt", "max_sensitivity", "", x4["max_pairwise_sensitivity"])
        out.add("tuple_pl", "max_sensitivity", "", x4["max_tuple_sensitivity"])
        out.add("pairwise_bt", "converged", "", float(all(x4["converged"])))
        out.blobs["pairwise_vs_tuple"] = np.vstack([x4["p_ij"], x4["pairwise_p_ik"], x4["tuple_q_i"],
                                                    x4["closed_form_p_ik"]])
    g = np.linspace(0.0, 1.0, task["map_points"] + 2)[1:-1]
    out.blobs["sensitivity_grid"] = g
    out.blobs["sensitivity_map"] = xs.sensitivity_map(g)


# ---------------------------------------------------------------------------------------------
# axiom_matrix

def _axiom_matrix(params, seed, rng, out: TaskOutput) -> None:
    """``choicelab.axioms.check`` for every estimator x axiom (SPEC §3).

    Rows per cell: ``verdict`` with keys ``<id>.measured`` (1 holds, 0 violated, NaN
    inconclusive), ``<id>.expected`` (same code; NaN where theory is silent), ``<id>.agrees``
    (1/0, NaN when undecided) and ``magnitude`` (key id). The full verdict (witness included) is
    the blob ``verdict.<id>.<estimator>``: a 0-d unicode array holding its JSON. A cell whose
    check raises is recorded as ``verdict`` / ``<id>.error`` = 1 with the message in its blob,
    and the other cells still run.
    """
    from choicelab import axioms, sim

    instance = None
    if "population" in params.get("world", {}):
        region, alts, pop = _world(params, rng)
        instance = sim.Instance(alts, pop, region)
    quick = params["axioms"]["quick"]
    for aid in params["axioms"]["ids"]:
        for name in params["estimators"]["names"]:
            try:
                v = axioms.check(aid, estimator=name, instance=instance, rng=rng, quick=quick)
            except Exception as exc:  # one failing cell must not hide the others
                out.add(name, "verdict", f"{aid}.error", 1.0)
                out.blobs[f"verdict.{aid}.{name}"] = np.array(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
                continue
            out.add(name, "verdict", f"{aid}.measured", _OUTCOME_CODE.get(v.measured, float("nan")))
            out.add(name, "verdict", f"{aid}.expected", _OUTCOME_CODE.get(v.expected, float("nan")))
            out.add(name, "verdict", f"{aid}.agrees", float("nan") if v.agrees is None else float(v.agrees))
            out.add(name, "magnitude", aid, v.magnitude)
            out.blobs[f"verdict.{aid}.{name}"] = np.array(json.dumps(v.to_dict(), default=_json_default))


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return str(obj)


# ---------------------------------------------------------------------------------------------
# byo_data: your own embeddings and comparisons

def _byo_data(params, seed, rng, out: TaskOutput) -> None:
    """Your own data through the same pipeline: weights, standard vs weighted fits, clone diagnostic.

    * Region: ``[world.region]`` if given, else the bounding box of the embeddings widened by
      ``task.region_margin`` times its extent on every side.
    * Voronoi weights (SPEC §2) and each estimator's rewards (blobs ``weights``,
      ``<estimator>.rewards``; rows ``top_alternative`` with the top label as key).
    * Clone diagnostic, against the typical spacing ``s = (vol(S) / m)^(1/d)`` (the cell side
      if the m points were spread evenly): alternative i sits in a dense cluster when
      ``m w_i < dense_weight_ratio`` or its nearest-neighbour distance is below
      ``dense_nn_ratio * s`` (rows ``clone_diagnostic``: ``dense_count``, ``typical_spacing``,
      ``median_nn``; rows ``dense_alternative`` per flagged label with value ``m w_i``; blobs
      ``weight_ratio``, ``nn_distance``, ``dense``, ``region``, and ``X`` when d = 2).
    * Collapse test: alternatives within ``collapse_radius`` (default ``dense_nn_ratio * s``)
      form groups (connected components of the radius graph); each group keeps its lowest index
      and the other members are removed with every comparison they took part in, i.e. the data
      as if the near-duplicates had never been shown. Every estimator is refitted (weights
      recomputed) and ``kendall_tau`` / ``collapsed`` is Kendall's tau between its rewards on
      the kept alternatives before and after; rows ``top_alternative_collapsed`` name the new
      top. A standard MLE whose ranking moves while the weighted MLE's does not is the clone
      effect of [PSZ]. Blobs ``collapsed_keep`` (kept indices), ``weights.collapsed``.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    from choicelab import sim
    from choicelab.scenarios.spec import read_comparisons, read_embeddings

    task = params["task"]
    X, labels = read_embeddings(params["data"]["embeddings"])
    m, d = X.shape
    labels = [str(i) for i in range(m)] if labels is None else labels
    comps = read_comparisons(params["data"]["comparisons"], m)
    region = build_region(params.get("world", {}).get("region"))
    if region is None:
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = task["region_margin"] * np.where(hi > lo, hi - lo, 1.0)
        region = sim.Box(lo - pad, hi + pad)
    w = _weights(X, region, params, rng)
    spacing = float((region.volume / m) ** (1.0 / d))
    tree = cKDTree(X)
    dist, _ = tree.query(X, k=2)
    nn = dist[:, 1]
    dense = (m * w < task["dense_weight_ratio"]) | (nn < task["dense_nn_ratio"] * spacing)
    out.blobs.update(weights=w, weight_ratio=m * w, nn_distance=nn, dense=dense.astype(np.int8),
                     labels=np.asarray(labels), region=_region_blob(region))
    if d == 2:  # positions are kept only where a report can draw the Voronoi cells
        out.blobs["X"] = X
    out.add("data", "clone_diagnostic", "m", m)
    out.add("data", "clone_diagnostic", "n_comparisons", comps.n)
    out.add("data", "clone_diagnostic", "dense_count", int(dense.sum()))
    out.add("data", "clone_diagnostic", "typical_spacing", spacing)
    out.add("data", "clone_diagnostic", "median_nn", float(np.median(nn)))
    for i in np.flatnonzero(dense):
        out.add("data", "dense_alternative", labels[i], m * w[i])
    radius = task.get("collapse_radius", task["dense_nn_ratio"] * spacing)
    pairs = np.array(sorted(tree.query_pairs(radius)), dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
    n_groups, group = connected_components(graph, directed=False)
    keep = np.sort([np.flatnonzero(group == g).min() for g in range(n_groups)])
    new_index = np.full(m, -1, dtype=np.int64)
    new_index[keep] = np.arange(keep.size)
    kept = (new_index[comps.a] >= 0) & (new_index[comps.b] >= 0)
    winner = np.where(comps.winner == -1, -1, new_index[np.maximum(comps.winner, 0)])
    collapsed = sim.Comparisons(new_index[comps.a[kept]], new_index[comps.b[kept]], winner[kept],
                                comps.annotator[kept])
    out.add("data", "clone_diagnostic", "collapse_radius", radius)
    out.add("data", "clone_diagnostic", "collapsed_m", n_groups)
    out.add("data", "clone_diagnostic", "collapsed_comparisons", collapsed.n)
    Xc = X[keep]
    wc = _weights(Xc, region, params, rng) if n_groups < m else w
    out.blobs["weights.collapsed"] = wc
    out.blobs["collapsed_keep"] = keep
    for name in params["estimators"]["names"]:
        r, _ = _fit(name, X, comps, m, w, params, rng)
        out.blobs[f"{name}.rewards"] = r
        top = int(np.argmax(r))
        out.add(name, "top_alternative", labels[top], top)
        if n_groups >= 2 and collapsed.n:
            rc, _ = _fit(name, Xc, collapsed, n_groups, wc, params, rng)
            out.add(name, "kendall_tau", "collapsed", _kendall_tau(r[keep], rc))
            top_c = int(keep[np.argmax(rc)])
            out.add(name, "top_alternative_collapsed", labels[top_c], top_c)
            out.blobs[f"{name}.rewards.collapsed"] = rc


def _experiment(params, seed, rng, out: TaskOutput) -> None:
    """A composed experiment (:mod:`choicelab.scenarios.experiment`); draws from its own ``default_rng(seed)``."""
    from choicelab.scenarios.experiment import run_experiment

    run_experiment(params, seed, out)


TASKS = {
    "experiment": _experiment,
    "selftest": _selftest,
    "case_study": _case_study,
    "borda_identity": _borda_identity,
    "clone_robustness": _clone_robustness,
    "sensitivity": _sensitivity,
    "axiom_matrix": _axiom_matrix,
    "byo_data": _byo_data,
}


# ---------------------------------------------------------------------------------------------
# Batch summaries (the "key results" lines of `choicelab run`)

# Per kind, the (metric, key) rows worth a line in the summary (key None: every key, averaged).
_SUMMARY_ROWS = {
    "selftest": (("value", None), ("checksum", "")),
    "clone_robustness": (("verdict", "A1.measured"), ("slope", "")),
    "sensitivity": (("max_error", ""), ("verdict", "X3.measured"), ("max_sensitivity", "")),
    "borda_identity": (("residual", "max"), ("weighted_sum", ""), ("order_agreement", "kendall_tau"),
                       ("verdict", "P4.measured"), ("verdict", "P5.measured")),
    "byo_data": (("clone_diagnostic", "dense_count"), ("clone_diagnostic", "collapsed_m"),
                 ("kendall_tau", "collapsed"), ("top_alternative", None), ("top_alternative_collapsed", None)),
}


def summarise(kind: str, store, batch: str) -> dict:
    """Key results of a batch, read back from the store (JSON-serialisable).

    ``case_study``: per estimator and dataset, the topic rewards averaged over done runs and
    the top topic, plus ``flip`` (top topic differs between Original and Clones).
    ``axiom_matrix``: per estimator, how many cells agree with theory, disagree, are undecided
    (theory silent or inconclusive) or raised. Other kinds: ``means`` of the kind's headline
    rows (:data:`_SUMMARY_ROWS`) over done runs, as ``"<estimator> <metric>[ <key>]"``.
    """
    if kind == "experiment":
        from choicelab.scenarios.summary import summarise_experiment

        return summarise_experiment(store, batch)
    rows = store.results(batch=batch)
    if kind == "case_study":
        return {"kind": kind, "estimators": _case_study_summary(rows)}
    if kind == "axiom_matrix":
        cells: dict = {}
        for r in rows:
            if r.metric != "verdict":
                continue
            entry = cells.setdefault(r.estimator, {"agree": 0, "disagree": 0, "undecided": 0, "error": 0})
            if r.key.endswith(".error"):
                entry["error"] += 1
            elif r.key.endswith(".agrees"):
                entry["agree" if r.value == 1.0 else "disagree" if r.value == 0.0 else "undecided"] += 1
        return {"kind": kind, "cells": cells}
    wanted = _SUMMARY_ROWS.get(kind)
    acc: dict = {}
    for r in rows:
        if r.value is None or not np.isfinite(r.value):
            continue
        if wanted is not None and not any(r.metric == m and (k is None or r.key == k) for m, k in wanted):
            continue
        label = f"{r.estimator} {r.metric}" + (f" {r.key}" if r.key and wanted is not None and
                                                 dict(wanted).get(r.metric) is not None else "")
        acc.setdefault(label, []).append(r.value)
    return {"kind": kind, "means": {k: float(np.mean(v)) for k, v in sorted(acc.items())[:20]}}


def _case_study_summary(rows) -> dict:
    acc: dict = {}
    for r in rows:
        if r.metric.startswith("topic_reward.") and r.value is not None:
            dataset = r.metric.split(".", 1)[1]
            acc.setdefault(r.estimator, {}).setdefault(dataset, {}).setdefault(r.key, []).append(r.value)
    out = {}
    for est, per in acc.items():
        entry = {}
        for dataset, topics in per.items():
            means = {t: float(np.mean(v)) for t, v in topics.items()}
            entry[dataset] = {"top_topic": max(means, key=means.get), "topic_rewards": means}
        if "original" in entry and "clones" in entry:
            entry["flip"] = entry["original"]["top_topic"] != entry["clones"]["top_topic"]
        out[est] = entry
    return out

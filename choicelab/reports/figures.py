"""Matplotlib figures that reports embed .

Every function takes plain arrays (what the store keeps) and returns a
``matplotlib.figure.Figure``; nothing here reads the store or the scenario. The Agg backend
is used so that figures render without a display.
"""
from __future__ import annotations

import io

import numpy as np

_STANDARD = "#4C72B0"
_WEIGHTED = "#DD8452"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    # labels come from users (alternative names, topics, batch names): '$' must not start a formula
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt


def _log_floor(arrays) -> float:
    """Where zeros are drawn on a log axis: a decade below the smallest positive value."""
    positives = [a[a > 0] for a in (np.asarray(x, dtype=float) for x in arrays)]
    return min((p.min() for p in positives if p.size), default=1e-15) / 10


def _finish(fig, ax, title: str, xlabel: str, ylabel: str, log_grid: bool = False):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both" if log_grid else "major", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def topic_rewards(topics, panels: dict, title: str = "Reward per topic"):
    """Grouped bars of reward per topic, one panel per estimator, Original vs Clones.

    The clone-robustness paper's case-study figure [PSZ, Fig. 2].

    Parameters
    ----------
    topics : sequence of str
        Topic names (x axis).
    panels : dict
        ``{panel_title: {dataset_name: (mean (K,), stderr (K,))}}``, e.g.
        ``{"standard MLE": {"Original": (mu, se), "Clones": (mu2, se2)}}``. Error bars are
        the standard error over seeds (or runs).
    """
    plt = _plt()
    topics = [str(t) for t in topics]
    k = len(topics)
    ncols = min(2, max(len(panels), 1))
    nrows = -(-max(len(panels), 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.8 * ncols, 3.4 * nrows), squeeze=False, sharey=True)
    colors = ["#8C8C8C", _WEIGHTED, _STANDARD, "#55A868"]
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (panel, series) in zip(axes.flat, panels.items()):
        width = 0.8 / max(len(series), 1)
        for s, (name, (mean, err)) in enumerate(series.items()):
            mean = np.asarray(mean, dtype=float)
            err = None if err is None else np.asarray(err, dtype=float)
            x = np.arange(k) + (s - (len(series) - 1) / 2) * width
            ax.bar(x, mean, width, yerr=err, capsize=3, label=name, color=colors[s % len(colors)])
            top = int(np.argmax(mean))
            ax.annotate("top", (x[top], mean[top]), xytext=(0, 4), textcoords="offset points",
                        ha="center", fontsize=7)
        ax.set_xticks(np.arange(k), topics, rotation=30, ha="right")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_title(panel)
        ax.legend(fontsize=8)
    for row in axes:
        row[0].set_ylabel("mean reward of the topic's responses")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def delta_curves(curves: dict, title: str = "Robustness to approximate clones (A1)"):
    """Delta(eps) on log-log axes, one line per estimator (contract A1).

    ``curves`` maps an estimator name to ``(eps (k,), delta (k,))``. Zero deltas are drawn
    at the axis floor so that a curve that reaches 0 stays visible.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    floor = _log_floor(d for _, d in curves.values())
    for name, (eps, delta) in curves.items():
        delta = np.asarray(delta, dtype=float)
        ax.loglog(np.asarray(eps, dtype=float), np.where(delta > 0, delta, floor), marker="o", ms=3, label=name)
    return _finish(fig, ax, title, "clone distance ε", "Δ(ε): largest reward change", log_grid=True)


def sensitivity_heatmap(p_ij, p_jk, values, kappa: float | None = None,
                        title: str = "Sensitivity ∂P_ik/∂P_ij (X1)"):
    """Heatmap over (P_ij, P_jk) of a sensitivity map, with the X2 thresholds drawn.

    ``values[a, b]`` belongs to ``p_ij[a]``, ``p_jk[b]``. With ``kappa`` the two vertical lines
    P_ij = (1 ± sqrt(1 - 1/kappa)) / 2 of contract X2 are drawn: sensitivity above kappa is only
    possible outside them.
    """
    plt = _plt()
    from matplotlib.colors import LogNorm

    p_ij = np.asarray(p_ij, dtype=float)
    p_jk = np.asarray(p_jk, dtype=float)
    values = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(5.2, 4.2))
    positive = values[values > 0]
    norm = LogNorm(vmin=positive.min(), vmax=positive.max()) if positive.size else None
    mesh = ax.pcolormesh(p_ij, p_jk, values.T, shading="auto", norm=norm, cmap="viridis")
    fig.colorbar(mesh, ax=ax, label="∂P_ik / ∂P_ij")
    if kappa is not None and kappa >= 1:
        half = np.sqrt(1 - 1 / kappa) / 2
        for x in (0.5 - half, 0.5 + half):
            ax.axvline(x, color="white", ls="--", lw=1)
        ax.text(0.5, 0.02, f"|sensitivity| ≤ {kappa:g} between the dashed lines",
                transform=ax.transAxes, ha="center", color="white", fontsize=8)
    ax.set_xlabel("P_ij")
    ax.set_ylabel("P_jk")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def voronoi_cells(X, weights, region_bounds, clone_of=None, title: str = "Voronoi weights", inside=None,
                  marked_label: str = "clone"):
    """2-D Voronoi cells coloured by weight, clones marked (contract §2, Voronoi weights).

    The cells are drawn by rasterising nearest-neighbour assignment over the region's bounding
    box, which is exact up to the pixel size and needs no polygon clipping. ``inside`` (a
    region's ``contains``) blanks the pixels outside a non-box region. Points with
    ``clone_of >= 0`` are drawn as crosses labelled ``marked_label``.
    """
    plt = _plt()
    from scipy.spatial import cKDTree

    X = np.asarray(X, dtype=float)
    weights = np.asarray(weights, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"voronoi_cells draws 2-D alternatives only, got X with shape {X.shape}")
    lo, hi = (np.asarray(b, dtype=float) for b in region_bounds)
    res = 300
    gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], res), np.linspace(lo[1], hi[1], res))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    _, idx = cKDTree(X).query(grid)
    shade = weights[idx]
    if inside is not None:
        shade = np.where(inside(grid), shade, np.nan)
    fig, ax = plt.subplots(figsize=(5.0, 4.4))
    img = ax.imshow(shade.reshape(res, res), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
                    cmap="magma", aspect="auto")
    fig.colorbar(img, ax=ax, label="Voronoi weight")
    clone_of = np.full(len(X), -1) if clone_of is None else np.asarray(clone_of)
    orig = clone_of < 0
    ax.scatter(X[orig, 0], X[orig, 1], s=14, c="white", edgecolors="black", lw=0.5, label="original")
    if np.any(~orig):
        ax.scatter(X[~orig, 0], X[~orig, 1], s=26, marker="x", c="cyan", lw=1.2, label=marked_label)
    ax.legend(fontsize=8, loc="best", framealpha=0.6)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def majority_graph(P, labels=None, title: str = "Majority graph"):
    """The majority relation of ``P`` (an edge i -> j when P_ij > 1/2), drawn on a circle."""
    plt = _plt()
    import networkx as nx

    P = np.asarray(P, dtype=float)
    m = P.shape[0]
    labels = [str(i) for i in range(m)] if labels is None else [str(x) for x in labels]
    G = nx.DiGraph()
    G.add_nodes_from(range(m))
    for i in range(m):
        for j in range(m):
            if i != j and P[i, j] > 0.5:
                G.add_edge(i, j, weight=P[i, j])
    pos = nx.circular_layout(G)
    fig, ax = plt.subplots(figsize=(4.6, 4.6))
    wins = np.array([G.out_degree(i) for i in range(m)])
    nx.draw_networkx_nodes(G, pos, ax=ax, node_color=wins, cmap="Blues", vmin=-1, vmax=m - 1,
                           edgecolors="black", node_size=600)
    nx.draw_networkx_labels(G, pos, {i: labels[i] for i in range(m)}, ax=ax, font_size=8)
    nx.draw_networkx_edges(G, pos, ax=ax, arrowsize=14, node_size=600,
                           width=[1 + 4 * (G[u][v]["weight"] - 0.5) for u, v in G.edges])
    ax.set_title(title)
    ax.axis("off")
    fig.tight_layout()
    return fig


def three_option_curves(curves: dict, p_jk: float, title: str = "Untrained pair (i, k) against P_ij (X3)",
                        ylabel: str = "P_ik (never trained)", suffix: str = " (learned)"):
    """Learned P_ik of each estimator against the X1 closed form, over the swept P_ij (contract X3).

    ``curves`` maps an estimator name to ``(p_ij (g,), learned_p_ik (g,), closed_form_p_ik (g,))``;
    the closed form is drawn once, from the first entry. The X4 figure passes the pairwise chain
    and the tuple's first-choice probability as two such curves.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    closed_drawn = False
    for name, (p_ij, learned, closed) in curves.items():
        order = np.argsort(np.asarray(p_ij, dtype=float))
        p = np.asarray(p_ij, dtype=float)[order]
        if not closed_drawn:
            ax.plot(p, np.asarray(closed, dtype=float)[order], color="black", lw=2, alpha=0.35,
                    label="X1: σ(logit P_ij + logit P_jk)")
            closed_drawn = True
        ax.plot(p, np.asarray(learned, dtype=float)[order], marker="o", ms=3, lw=1, label=f"{name}{suffix}")
    ax.set_ylim(-0.02, 1.02)
    return _finish(fig, ax, title, f"P_ij (trained; P_jk = {p_jk:g} fixed)", ylabel)


def residuals(series: dict, tol: float | None = None, title: str = "Borda identity residuals (P4, P5)"):
    """Largest first-order residual of each fit against the number of alternatives, log scale.

    ``series`` maps an estimator name to ``(m (n,), residual (n,))``, one point per run; ``tol``
    draws the bound the check uses. Zero residuals are drawn at the axis floor.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    floor = _log_floor(r for _, r in series.values())
    for k, (name, (m, res)) in enumerate(series.items()):
        m = np.asarray(m, dtype=float)
        res = np.asarray(res, dtype=float)
        jitter = 1 + 0.04 * (k - (len(series) - 1) / 2)  # side by side at the same m
        ax.scatter(m * jitter, np.where(res > 0, res, floor), s=16, label=name)
    if tol is not None:
        ax.axhline(tol, color="crimson", ls="--", lw=1, label=f"bound {tol:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    return _finish(fig, ax, title, "alternatives m", "max_i |Σ_j w_j σ(r_i − r_j) + λ r_i − Σ_j w_j P_ij|",
                   log_grid=True)


def weight_ratios(labels, ratio, dense, threshold: float | None = None,
                  title: str = "Clone diagnostic: m·w_i per alternative"):
    """Bars of ``m w_i`` (1 = an even share of the space), flagged alternatives highlighted.

    Alternatives in dense clusters (near-duplicates) have ``m w_i`` far below 1; ``threshold``
    draws the cut the diagnostic used.
    """
    plt = _plt()
    ratio = np.asarray(ratio, dtype=float)
    dense = np.asarray(dense, dtype=bool)
    order = np.argsort(ratio, kind="stable")
    labels = [str(labels[i]) for i in order]
    fig, ax = plt.subplots(figsize=(max(5.0, min(12.0, 0.35 * len(labels) + 2)), 3.8))
    colors = np.where(dense[order], _WEIGHTED, _STANDARD)
    ax.bar(np.arange(len(labels)), ratio[order], color=colors)
    if threshold is not None:
        ax.axhline(threshold, color="crimson", ls="--", lw=1, label=f"dense below {threshold:g}")
        ax.legend(fontsize=8)
    ax.axhline(1.0, color="black", lw=0.6)
    if len(labels) <= 40:
        ax.set_xticks(np.arange(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("m · Voronoi weight")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def effects_forest(rows, margin: float):
    """Forest plot of the effects section: per row (a label), the effect D with its 95% interval and
    the A/A control C with its own, against the equivalence band [-margin, margin].

    ``rows``: dicts with ``label``, ``value``, ``ci_low``, ``ci_high``, ``control``,
    ``control_low``, ``control_high`` (NaN without a control) and ``verdict``.
    """
    plt = _plt()
    n = len(rows)
    fig, ax = plt.subplots(figsize=(7.0, 0.42 * n + 1.4))
    ax.axvspan(-margin, margin, color="#dddddd", zorder=0, label=f"±δ = {margin:g}")
    ax.axvline(0.0, color="#888888", lw=0.8, zorder=1)
    y = np.arange(n)[::-1].astype(float)
    for k, r in enumerate(rows):
        ax.errorbar(r["value"], y[k] + 0.12, xerr=[[r["value"] - r["ci_low"]], [r["ci_high"] - r["value"]]],
                    fmt="o", color=_STANDARD, ms=5, capsize=3, label="effect D" if k == 0 else None)
        if np.isfinite(r.get("control", np.nan)):
            ax.errorbar(r["control"], y[k] - 0.12,
                        xerr=[[r["control"] - r["control_low"]], [r["control_high"] - r["control"]]],
                        fmt="s", color="#999999", ms=4, capsize=3, label="A/A control C" if k == 0 else None)
        ax.annotate(r["verdict"], (1.01, y[k]), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([r["label"] for r in rows], fontsize=8)
    ax.set_xlabel("difference from the baseline (95% interval over runs)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def to_png(fig, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes and close it."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# The figure registry: figures drawn from the typed results table, one decorated function each.

class FigureEntry:
    """A registry entry: ``fn(frame) -> Figure or (Figure, caption) or None``, or ``fn(frame, ctx)``.

    ``frame`` is a pandas DataFrame of the typed results table (columns ``run_id, seed,
    <swept keys>, condition, estimator, measure, item, label, value, stderr, ci_low, ci_high``)
    restricted to one sweep point (the whole batch when ``across_sweep``) and to the figure's
    ``measures``; returning None draws nothing. A function with a second parameter receives a
    context with ``blob(run_id, name)`` (arrays stored beside a run, or None), ``sweep_keys`` and
    ``about`` (the batch's recorded descriptions).
    """

    __slots__ = ("name", "fn", "measures", "description", "source", "across_sweep", "wants_ctx")

    def __init__(self, name, fn, measures, description, source, across_sweep=False):
        import inspect

        self.name, self.fn, self.measures, self.description, self.source = name, fn, measures, description, source
        self.across_sweep = across_sweep
        try:
            self.wants_ctx = len(inspect.signature(fn).parameters) >= 2
        except (TypeError, ValueError):
            self.wants_ctx = False

    def __repr__(self):
        return f"FigureEntry({self.name!r}, measures={self.measures!r})"


_FIGURES: dict = {}


def register(name: str, *, measures=(), across_sweep: bool = False, description: str | None = None,
             replace: bool = False):
    """Decorator adding a figure drawn when a batch has every measure in ``measures``.

    ``across_sweep``: the figure receives every sweep point at once and puts the swept value on
    an axis (otherwise it is drawn once per sweep point).
    """
    measures = (measures,) if isinstance(measures, str) else tuple(measures)

    def decorator(fn):
        if name in _FIGURES and not replace:
            raise ValueError(f"register: a figure called {name!r} is already registered")
        doc = description or (fn.__doc__ or "").strip().split("\n")[0]
        _FIGURES[name] = FigureEntry(name, fn, measures, doc, getattr(fn, "__module__", "plugin"), across_sweep)
        return fn

    return decorator


def list_figures() -> dict:
    """Every registered figure by name (installed plugins' figures included)."""
    from choicelab.plugins import load_entry_points

    load_entry_points("choicelab.figures")
    return dict(_FIGURES)


def get_figure(name: str) -> FigureEntry:
    try:
        return _FIGURES[name]
    except KeyError:
        raise ValueError(f"unknown figure {name!r}; known: {', '.join(_FIGURES)}") from None


def item_sort_key(item):
    """Numbers first in numeric order (2 before 10), then text in its own order."""
    try:
        return (0, float(item), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(item))


def _mean_se_table(frame, by):
    g = frame.groupby(by, sort=False)["value"]
    out = g.agg(["mean", "std", "count"]).reset_index()
    out["se"] = (out["std"] / np.sqrt(out["count"])).where(out["count"] > 1, 0.0)
    return out


def _text(label) -> str:
    """User text shown by matplotlib (mathtext is off in :func:`_plt`, so '$' is a plain character)."""
    return str(label)


@register("scores_by_item", measures=("scores",))
def scores_by_item(frame):
    """Each estimator's score of every alternative (mean over seeds, error bar = standard error), per condition."""
    plt = _plt()
    data = frame[frame["measure"] == "scores"]
    if data.empty:
        return None
    conditions = list(dict.fromkeys(data["condition"]))
    estimators = list(dict.fromkeys(data["estimator"]))
    width_each = max(4.0, min(12.0, 1.5 + 0.22 * data["item"].nunique() * len(estimators)))
    fig, axes = plt.subplots(1, len(conditions), figsize=(width_each * len(conditions), 3.6), squeeze=False)
    for ax, cond in zip(axes[0], conditions):
        sub = data[data["condition"] == cond]
        items = sorted(dict.fromkeys(sub["item"]), key=item_sort_key)
        labels = {r.item: r.label for r in sub.itertuples()}
        width = 0.8 / max(1, len(estimators))
        for k, est in enumerate(estimators):
            t = _mean_se_table(sub[sub["estimator"] == est], ["item"]).set_index("item").reindex(items)
            # scores of different estimators live on different scales: centre each on its mean
            mu = t["mean"].to_numpy(dtype=float)
            ax.bar(np.arange(len(items)) + (k - (len(estimators) - 1) / 2) * width, mu - np.nanmean(mu), width,
                   yerr=t["se"].to_numpy(dtype=float), label=_text(est), capsize=2)
        ax.set_xticks(np.arange(len(items)), [_text(labels[i]) for i in items], rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("score − estimator's mean score")
        ax.set_title(_text(f"condition: {cond}"), fontsize=9)
        ax.axhline(0, color="#888", lw=0.6)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig, ("Scores of every alternative (clones included, marked 'clone of k'), each estimator centred on "
                 "its own mean so that rewards and vote scores share an axis; error bars: standard error over seeds.")


@register("topic_rewards_by_condition", measures=("topic_rewards",))
def topic_rewards_by_condition(frame):
    """Mean reward of each topic's originals, one panel per estimator, one bar per condition."""
    data = frame[frame["measure"] == "topic_rewards"]
    if data.empty:
        return None
    panels, topics = {}, list(dict.fromkeys(data["item"]))
    for est in dict.fromkeys(data["estimator"]):
        series = {}
        for cond in dict.fromkeys(data["condition"]):
            sub = data[(data["estimator"] == est) & (data["condition"] == cond)]
            t = _mean_se_table(sub, ["item"]).set_index("item").reindex(topics)
            series[_text(cond)] = (t["mean"].to_numpy(dtype=float), t["se"].to_numpy(dtype=float))
        panels[_text(est)] = series
    fig = topic_rewards([_text(t) for t in topics], panels, title="Reward per topic")
    return fig, "Mean reward of each topic's original responses; error bars: standard error over seeds."


@register("a1_curves", measures=("a1_curve",))
def a1_curves(frame):
    """Delta(eps) of contract A1 per estimator on log-log axes (mean over seeds)."""
    data = frame[(frame["measure"] == "a1_curve") & frame["item"].map(_is_number)]
    if data.empty:
        return None
    curves = {}
    for (cond, est), sub in data.groupby(["condition", "estimator"], sort=False):
        t = _mean_se_table(sub, ["item"])
        eps = t["item"].astype(float).to_numpy()
        order = np.argsort(eps)
        name = est if data["condition"].nunique() == 1 else f"{est} ({cond})"
        curves[_text(name)] = (eps[order], t["mean"].to_numpy(dtype=float)[order])
    return delta_curves(curves), ("Largest reward move Δ(ε) when an ε-approximate clone joins (contract A1); "
                                  "mean over seeds.")


def _first_blob(frame, ctx, name):
    for run_id in dict.fromkeys(frame["run_id"]):
        arr = ctx.blob(run_id, name)
        if arr is not None:
            return run_id, arr
    return None, None


@register("majority_graph", measures=())
def majority_graph_figure(frame, ctx):
    """The majority relation of the first run's preference matrix (an edge i -> j when P_ij > 1/2)."""
    for cond in dict.fromkeys(frame["condition"]) if not frame.empty else ["default"]:
        run_id, P = _first_blob(frame, ctx, f"P.{cond}")
        if P is not None:
            labels = ctx.blob(run_id, f"labels.{cond}")
            fig = majority_graph(P, labels=None if labels is None else [_text(x) for x in labels],
                                 title=_text(f"Majority graph (condition {cond}, first run)"))
            return fig, "The majority relation of the first run's preference matrix: an edge i → j when P_ij > 1/2."
    return None


@register("voronoi_cells", measures=())
def voronoi_cells_figure(frame, ctx):
    """2-D Voronoi cells of the first run's alternatives coloured by weight, clones marked."""
    import json

    for cond in dict.fromkeys(frame["condition"]) if not frame.empty else ["default"]:
        run_id, X = _first_blob(frame, ctx, f"X.{cond}")
        w = None if run_id is None else ctx.blob(run_id, f"weights.{cond}")
        if X is None or w is None or X.shape[1] != 2:
            continue
        region = ctx.blob(run_id, "region")
        if region is not None:
            desc = json.loads(str(region))
            if desc["type"] == "box":
                bounds = (desc["lo"], desc["hi"])
            else:
                c, r = np.asarray(desc["center"]), desc["radius"]
                bounds = ((c - r).tolist(), (c + r).tolist())
        else:
            pad = 0.1 * np.ptp(X, axis=0)
            bounds = ((X.min(axis=0) - pad).tolist(), (X.max(axis=0) + pad).tolist())
        fig = voronoi_cells(X, w, bounds, clone_of=ctx.blob(run_id, f"clone_of.{cond}"),
                            title=_text(f"Voronoi weights (condition {cond}, first run)"))
        return fig, ("Each alternative's Voronoi cell in the region, coloured by its weight (the share of the "
                     "region closer to it than to any other alternative); crosses mark clones.")
    return None


@register("identity_residuals", measures=("identity_residual",), across_sweep=True)
def identity_residuals(frame, ctx):
    """Largest residual of the Borda identity (contract P4 / P5) per run, against the swept value."""
    data = frame[(frame["measure"] == "identity_residual") & (frame["item"] == "residual")]
    if data.empty:
        return None
    key = ctx.sweep_keys[0] if ctx.sweep_keys else None
    series = {}
    for est, sub in data.groupby("estimator", sort=False):
        x = sub[key].to_numpy(dtype=float) if key else np.arange(len(sub), dtype=float)
        series[_text(est)] = (x, sub["value"].to_numpy(dtype=float))
    tol = frame[(frame["measure"] == "identity_residual") & (frame["item"] == "tolerance")]["value"]
    fig = residuals(series, tol=float(tol.iloc[0]) if len(tol) else None)
    if key:
        fig.axes[0].set_xlabel(_text(key))
    return fig, ("Largest first-order residual max_i |Σ_j w_j σ(r_i − r_j) + λ r_i − Σ_j w_j P_ij| of every run; "
                 "the dashed line is the tolerance under which the identity counts as holding.")


@register("three_option_curves", measures=("three_option",))
def three_option_figure(frame):
    """Learned P_ik of the never-trained pair against the BT prediction, per estimator (contract X3)."""
    data = frame[frame["measure"] == "three_option"]
    curves = {}
    for est, sub in data.groupby("estimator", sort=False):
        learned = {float(r.item): r.value for r in sub.itertuples() if _is_number(r.item)}
        closed = {float(r.item.split(":", 1)[1]): r.value for r in sub.itertuples()
                  if str(r.item).startswith("closed_form:")}
        p = np.array(sorted(learned))
        if p.size:
            curves[_text(est)] = (p, np.array([learned[x] for x in p]), np.array([closed.get(x, np.nan) for x in p]))
    if not curves:
        return None
    return three_option_curves(curves, float("nan")), (
        "Learned probability of the never-trained pair (i, k) as the trained P_ij moves, against the BT "
        "prediction σ(logit P_ij + logit P_jk) (contract X3): a small change of P_ij swings P_ik from near 0 to near 1.")


@register("sensitivity_heatmap", measures=("sensitivity_map",))
def sensitivity_heatmap_figure(frame):
    """dP_ik/dP_ij of the BT chain over (P_ij, P_jk), with the X2 thresholds (contract X1, X2)."""
    data = frame[frame["measure"] == "sensitivity_map"]
    if data.empty:
        return None
    first = data[data["run_id"] == data["run_id"].iloc[0]]
    pairs = [tuple(float(v) for v in str(i).split(",")) for i in first["item"]]
    a = np.array(sorted({p for p, _ in pairs}))
    b = np.array(sorted({q for _, q in pairs}))
    values = np.full((a.size, b.size), np.nan)
    ia = {v: k for k, v in enumerate(a)}
    ib = {v: k for k, v in enumerate(b)}
    for (p, q), v in zip(pairs, first["value"].to_numpy(dtype=float)):
        values[ia[p], ib[q]] = v
    kappa = 2.0
    return sensitivity_heatmap(a, b, values, kappa=kappa), (
        f"∂P_ik/∂P_ij of the BT chain over (P_ij, P_jk) (contract X1), log colour scale; dashed lines: the X2 "
        f"thresholds for κ = {kappa:g}, outside which alone the sensitivity can exceed κ.")


@register("clone_diagnostic", measures=("clone_diagnostic",))
def clone_diagnostic_figure(frame, ctx):
    """m·w_i per alternative (1 = an even share of the space), alternatives in dense clusters highlighted."""
    run_id, ratio = _first_blob(frame, ctx, "diagnostic.weight_ratio")
    if ratio is None:
        return None
    cond = frame["condition"].iloc[0]
    labels = ctx.blob(run_id, f"labels.{cond}")
    dense = ctx.blob(run_id, "diagnostic.dense")
    labels = [str(i) for i in range(ratio.size)] if labels is None else [_text(x) for x in labels]
    return weight_ratios(labels, ratio, np.asarray(dense, dtype=bool)), (
        "m·w_i of every alternative: 1 is an even share of the region; near-duplicates share a cell and fall far "
        "below 1 (highlighted: flagged as sitting in a dense cluster).")


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


@register("weight_error", measures=("weight_error",))
def weight_error_figure(frame):
    """How far Monte Carlo weights alone could move each weighted-MLE reward (delta method), per condition."""
    from choicelab.stats import mean_interval

    data = frame[frame["measure"] == "weight_error"]
    per_item = data[data["item"].map(_is_number)]
    if per_item.empty:
        return None
    plt = _plt()
    conditions = list(dict.fromkeys(per_item["condition"]))
    n_items = per_item["item"].nunique()
    fig, axes = plt.subplots(1, len(conditions), figsize=(max(4.0, min(12.0, 1.5 + 0.25 * n_items)) * len(conditions),
                                                          3.4), squeeze=False)
    pairs = []
    for ax, cond in zip(axes[0], conditions):
        sub = per_item[per_item["condition"] == cond]
        items = sorted(dict.fromkeys(sub["item"]), key=item_sort_key)
        labels = {r.item: r.label for r in sub.itertuples()}
        t = _mean_se_table(sub, ["item"]).set_index("item").reindex(items)
        ax.bar(np.arange(len(items)), t["mean"].to_numpy(dtype=float), 0.7, yerr=t["se"].to_numpy(dtype=float),
               capsize=2, color="#4c72b0")
        ax.set_xticks(np.arange(len(items)), [_text(labels[i]) for i in items], rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("reward sd from the weights")
        ax.set_title(_text(f"condition: {cond}"), fontsize=9)
        swapped = data[(data["condition"] == cond) & (data["item"] == "expected_discordant_pairs")]["value"]
        v = swapped.to_numpy(dtype=float)
        if v.size:
            mean, lo, hi, _, n = mean_interval(v)
            pairs.append(f"{cond}: {mean:.3g}" + (f" [{lo:.3g}, {hi:.3g}]" if n > 1 and lo != hi else ""))
    fig.tight_layout()
    caption = ("Standard deviation of each weighted-MLE reward caused by the Monte Carlo error of its Voronoi "
               "weights alone (delta method through Eq. 2), mean over runs; error bars: standard error over runs.")
    if pairs:
        caption += (" Expected number of pairs whose order the weight noise swaps, mean [95% interval]: "
                    + "; ".join(pairs) + ".")
    return fig, caption

"""Matplotlib figures that reports embed (DESIGN.md, Reports).

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
    import matplotlib.pyplot as plt

    return plt


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
    fig, axes = plt.subplots(1, len(panels), figsize=(4.8 * len(panels), 3.6), squeeze=False, sharey=True)
    colors = ["#8C8C8C", _WEIGHTED, _STANDARD, "#55A868"]
    for ax, (panel, series) in zip(axes[0], panels.items()):
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
    axes[0][0].set_ylabel("mean reward of the topic's responses")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def delta_curves(curves: dict, title: str = "Robustness to approximate clones (A1)"):
    """Delta(eps) on log-log axes, one line per estimator (SPEC A1).

    ``curves`` maps an estimator name to ``(eps (k,), delta (k,))``. Zero deltas are drawn
    at the axis floor so that a curve that reaches 0 stays visible.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    floor = None
    positives = [np.asarray(d, float)[np.asarray(d, float) > 0] for _, d in curves.values()]
    positives = [p for p in positives if p.size]
    if positives:
        floor = min(p.min() for p in positives) / 10
    for name, (eps, delta) in curves.items():
        eps = np.asarray(eps, dtype=float)
        delta = np.asarray(delta, dtype=float)
        shown = np.where(delta > 0, delta, floor if floor else 1e-16)
        ax.loglog(eps, shown, marker="o", ms=3, label=name)
    ax.set_xlabel("clone distance ε")
    ax.set_ylabel("Δ(ε): largest reward change")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def sensitivity_heatmap(p_ij, p_jk, values, kappa: float | None = None,
                        title: str = "Sensitivity ∂P_ik/∂P_ij (X1)"):
    """Heatmap over (P_ij, P_jk) of a sensitivity map, with the X2 thresholds drawn.

    ``values[a, b]`` belongs to ``p_ij[a]``, ``p_jk[b]``. With ``kappa`` the two vertical lines
    P_ij = (1 ± sqrt(1 - 1/kappa)) / 2 of SPEC X2 are drawn: sensitivity above kappa is only
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


def voronoi_cells(X, weights, region_bounds, clone_of=None, title: str = "Voronoi weights"):
    """2-D Voronoi cells coloured by weight, clones marked (SPEC §2, Voronoi weights).

    The cells are drawn by rasterising nearest-neighbour assignment over the region's bounding
    box, which is exact up to the pixel size and needs no polygon clipping.
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
    _, idx = cKDTree(X).query(np.column_stack([gx.ravel(), gy.ravel()]))
    fig, ax = plt.subplots(figsize=(5.0, 4.4))
    img = ax.imshow(weights[idx].reshape(res, res), origin="lower", extent=(lo[0], hi[0], lo[1], hi[1]),
                    cmap="magma", aspect="auto")
    fig.colorbar(img, ax=ax, label="Voronoi weight")
    clone_of = np.full(len(X), -1) if clone_of is None else np.asarray(clone_of)
    orig = clone_of < 0
    ax.scatter(X[orig, 0], X[orig, 1], s=14, c="white", edgecolors="black", lw=0.5, label="original")
    if np.any(~orig):
        ax.scatter(X[~orig, 0], X[~orig, 1], s=26, marker="x", c="cyan", lw=1.2, label="clone")
    ax.legend(fontsize=8, loc="upper right")
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


def to_png(fig, dpi: int = 110) -> bytes:
    """Render a figure to PNG bytes and close it."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()

"""Speed of ``Population.preference_matrix`` against per-pair Python loops (contract §1).

World: m alternatives in [0, 1]^16, T = 5 Bradley-Terry types with topic-table rewards
(8 topics, tau = 0.5). Vectorised: ``pop.preference_matrix(X)`` at m = 2000 (and at the
baseline size, for a direct comparison). Baselines, run on a smaller m (200) and
extrapolated per ordered pair to m = 2000:

- "naive": for every ordered pair (i, j) and type t, evaluate r_t(x_i), r_t(x_j) and
  sigma(beta (r_t(x_i) - r_t(x_j))) -- what a direct transcription of the formula does;
- "cached": rewards precomputed once per (type, alternative), then a Python loop over pairs
  and types with ``math.exp``.

Usage: ``.venv/bin/python benchmarks/bench_preference_matrix.py [--quick]``. The full run
writes ``benchmarks/results/sim.md``; ``--quick`` only prints a tiny smoke run.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np

from choicelab import sim

HERE = Path(__file__).resolve().parent


def _world(m: int, d: int = 16, T: int = 5, K: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    box = sim.Box(np.zeros(d), np.ones(d))
    X = sim.uniform_alternatives(box, m, rng).X
    centers = box.sample(K, rng)
    shares = np.full(T, 1.0 / T)
    types = [sim.AnnotatorType(float(s), sim.topic_table_reward(centers, rng.normal(size=K), 0.5)) for s in shares]
    return X, sim.Population(types, choice="bt", beta=1.0)


def _naive(pop, X):
    m = X.shape[0]
    P = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            total = 0.0
            for typ in pop.types:
                z = typ.reward(X[i : i + 1])[0] - typ.reward(X[j : j + 1])[0]
                total += typ.share / (1.0 + math.exp(-pop.beta * z))
            P[i, j] = total
    return P


def _cached(pop, X):
    m = X.shape[0]
    R = [[float(v) for v in typ.reward(X)] for typ in pop.types]
    shares = [typ.share for typ in pop.types]
    P = np.empty((m, m))
    for i in range(m):
        for j in range(m):
            total = 0.0
            for r, alpha in zip(R, shares):
                total += alpha / (1.0 + math.exp(-pop.beta * (r[i] - r[j])))
            P[i, j] = total
    return P


def _best_time(fn, repeats: int) -> tuple[float, object]:
    best, out = math.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run, writes nothing")
    args = ap.parse_args(argv)
    m_big, m_small, m_naive = (300, 60, 20) if args.quick else (2000, 200, 60)

    X_small, pop = _world(m_small)
    X_big, pop_big = _world(m_big)
    X_naive, pop_naive = _world(m_naive)

    t_vec_small, P_small = _best_time(lambda: pop.preference_matrix(X_small), 5)
    t_vec_big, _ = _best_time(lambda: pop_big.preference_matrix(X_big), 3)
    t_cached, P_cached = _best_time(lambda: _cached(pop, X_small), 1)
    t_naive, P_naive = _best_time(lambda: _naive(pop_naive, X_naive), 1)
    # the baselines compute the same matrix (diagonal aside, which they leave at sigma(0) = 1/2)
    err = max(np.max(np.abs(P_small - P_cached)), np.max(np.abs(pop_naive.preference_matrix(X_naive) - P_naive)))
    if err > 1e-12:
        print(f"baseline disagrees with preference_matrix: max |diff| = {err:.2e}", file=sys.stderr)
        return 1

    per_pair_cached = t_cached / m_small**2
    per_pair_naive = t_naive / m_naive**2
    rows = [
        ("preference_matrix (vectorised)", m_big, t_vec_big, "measured", 1.0),
        (
            "cached rewards + Python pair loop",
            m_big,
            per_pair_cached * m_big**2,
            f"extrapolated from m={m_small} ({t_cached:.2f} s)",
            per_pair_cached * m_big**2 / t_vec_big,
        ),
        (
            "naive per-pair loop",
            m_big,
            per_pair_naive * m_big**2,
            f"extrapolated from m={m_naive} ({t_naive:.2f} s)",
            per_pair_naive * m_big**2 / t_vec_big,
        ),
        ("preference_matrix (vectorised)", m_small, t_vec_small, "measured", 1.0),
        ("cached rewards + Python pair loop", m_small, t_cached, "measured", t_cached / t_vec_small),
    ]
    cmd = ".venv/bin/python benchmarks/bench_preference_matrix.py" + (" --quick" if args.quick else "")
    lines = [
        "## sim: population preference matrix",
        "",
        f"`Population.preference_matrix` (T = 5 BT types, topic-table rewards, d = 16) against per-pair "
        f"Python loops computing the same matrix (agreement checked, max |diff| {err:.1e}). "
        f"The loops are timed on fewer alternatives and their cost per ordered pair is scaled to the "
        f"{m_big}^2 pairs of m = {m_big}; ratio = time / "
        "vectorised time at the same m (higher = slower than vectorised).",
        "",
        "| method | m | time (s) | how | ratio vs vectorised |",
        "|---|---:|---:|---|---:|",
    ]
    lines += [f"| {name} | {m} | {t:.4g} | {how} | {ratio:.0f}x |" for name, m, t, how, ratio in rows]
    lines += [
        "",
        f"Command: `{cmd}`, run {_dt.date.today().isoformat()} on {platform.machine()} "
        f"(Python {platform.python_version()}, numpy {np.__version__}), machine shared with other jobs.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        out = HERE / "results" / "sim.md"
        out.parent.mkdir(exist_ok=True)
        out.write_text(text)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

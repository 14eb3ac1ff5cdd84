"""Exact Bradley-Terry MLE on a dense preference matrix (contract Eq. 1 / Eq. 2): speed and optimum.

Usage: ``.venv/bin/python benchmarks/bench_bt_dense.py [--quick] [--cap SECONDS]``

Table 1: ``bt_mle`` (method "auto") against the cvxpy reference ``bt_mle_cvxpy`` (Clarabel,
tolerances 1e-12) at m = 50, 100, 300, for Eq. 1 and Eq. 2 (Dirichlet weights), lam = 0.1.

Table 2: m = 1000 and 5000 against
  * a plain Newton method written below (full m x m temporaries, stable log-sigmoid, explicit
    Hessian, LAPACK Cholesky, Armijo backtracking, the same stopping rule as bt_mle), and
  * choix's ``ilsr_pairwise_dense`` where it applies: it takes the (fractional) comparison
    matrix P and returns the unregularized MLE, i.e. Eq. 1 with lam = 0 on the counts N = P
    (off-diagonal), which choicelab solves with ``bt_mle_counts(N, lam=0)``. choix's
    ``opt_pairwise`` needs a list of integer comparisons and does not apply to a matrix P.

P is the preference matrix of a three-type Bradley-Terry population (contract §1) with reward
spread 1.5. choicelab's times are the best of ``--repeat`` runs; baselines run once, each in
its own subprocess, stopped after ``--cap`` seconds. Ratio = baseline time / choicelab time on
the same instance. Results go to ``benchmarks/results/bt.md`` (section "dense"; not written by
``--quick``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "bt.md"


def make_instance(m, seed, weighted):
    """Three-type BT population matrix (P_ij + P_ji = 1, P_ii = 1/2) and optional weights."""
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    u = rng.normal(size=(3, m)) * 1.5
    alpha = rng.dirichlet(np.ones(3))
    P = np.zeros((m, m))
    for t in range(3):
        P += alpha[t] * expit(u[t][:, None] - u[t][None, :])
    w = rng.dirichlet(np.ones(m)) if weighted else None
    return P, w


def plain_newton(P, w, lam, tol=1e-10, max_iter=100):
    """Baseline: textbook damped Newton with a dense Hessian and Cholesky, no blocking.

    Minimises -sum_{i!=j} w_i w_j P_ij log sigma(r_i - r_j) + lam/2 sum_i w_i r_i^2 and stops
    when ||grad|| <= tol * (||w * u|| + lam ||w||), u_i = sum_{j!=i} w_j P_ij (bt_mle's rule).
    """
    from scipy.linalg import cho_factor, cho_solve
    from scipy.special import expit

    m = P.shape[0]
    w = np.ones(m) if w is None else w
    W = np.outer(w, w) * P
    np.fill_diagonal(W, 0.0)
    scale = np.linalg.norm(W.sum(axis=1)) + lam * np.linalg.norm(w)  # W.sum(1) = w * u

    def fg(r):
        D = r[:, None] - r[None, :]
        f = np.sum(W * np.logaddexp(0.0, -D)) + 0.5 * lam * np.sum(w * r * r)
        S = expit(D)
        G = W * (1.0 - S)
        g = -G.sum(axis=1) + G.sum(axis=0) + lam * w * r
        return f, g, S

    r = np.zeros(m)
    f, g, S = fg(r)
    for it in range(max_iter):
        if np.linalg.norm(g) <= tol * scale:
            return r, it, True
        C = (W + W.T) * S * (1.0 - S)
        H = -C
        H[np.diag_indices(m)] = C.sum(axis=1) - np.diag(C) + lam * w
        p = cho_solve(cho_factor(H), -g)
        t, slope = 1.0, g @ p
        while True:
            r_new = r + t * p
            f_new, g_new, S_new = fg(r_new)
            if f_new <= f + 1e-4 * t * slope + 1e3 * np.finfo(float).eps * abs(f) or t < 1e-10:
                break
            t *= 0.5
        r, f, g, S = r_new, f_new, g_new, S_new
    return r, max_iter, bool(np.linalg.norm(g) <= tol * scale)


# ------------------------------------------------------------------------------ subprocess worker
def _worker(spec):
    P, w = make_instance(spec["m"], spec["seed"], spec["weighted"])
    kind = spec["kind"]
    if kind == "cvxpy":
        import cvxpy  # noqa: F401  (import outside the timing)

        from choicelab.estimators.reference import bt_mle_cvxpy

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = bt_mle_cvxpy(P, w, lam=spec["lam"]).rewards
    elif kind == "plain_newton":
        t0 = time.perf_counter()
        r = plain_newton(P, w, spec["lam"])[0]
    elif kind == "choix_ilsr_dense":
        import choix

        t0 = time.perf_counter()
        r = choix.ilsr_pairwise_dense(P, alpha=0.0, max_iter=1000)
    else:
        raise ValueError(kind)
    seconds = time.perf_counter() - t0
    np.save(spec["out"], r)
    return seconds


def run_baseline(spec, cap):
    """Run one baseline in a subprocess; (seconds or None if stopped at the cap, rewards)."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = dict(spec, out=str(Path(tmp) / "r.npy"))
        try:
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps(spec)],
                capture_output=True,
                text=True,
                timeout=cap,
            )
        except subprocess.TimeoutExpired:
            return None, None
        if proc.returncode != 0:
            raise RuntimeError(f"baseline {spec['kind']} failed:\n{proc.stderr}")
        return float(proc.stdout.strip().splitlines()[-1]), np.load(spec["out"])


def time_choicelab(fn, repeat):
    best, fit = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        fit = fn()
        best = min(best, time.perf_counter() - t0)
    return best, fit


def _fmt(x):
    if x is None:
        return "-"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; nothing written")
    ap.add_argument("--cap", type=float, default=120.0, help="seconds before a baseline is stopped")
    ap.add_argument("--repeat", type=int, default=3, help="choicelab runs per instance (best kept)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(_worker(json.loads(args.worker)))
        return 0

    from choicelab.estimators.bt import bt_mle, bt_mle_counts

    lam = 0.1
    small = [20, 30] if args.quick else [50, 100, 300]
    large = [200] if args.quick else [1000, 5000]
    load0 = os.getloadavg()[0]
    rows1, rows2 = [], []

    for m in small:
        for weighted in (False, True):
            P, w = make_instance(m, seed=m, weighted=weighted)
            t_ours, fit = time_choicelab(lambda P=P, w=w: bt_mle(P, w, lam=lam), args.repeat)
            t_ref, r_ref = run_baseline(dict(kind="cvxpy", m=m, seed=m, weighted=weighted, lam=lam), args.cap)
            diff = None if r_ref is None else float(np.max(np.abs(r_ref - fit.rewards)))
            rows1.append((m, "Eq. 2" if weighted else "Eq. 1", fit.info["method"], t_ours, t_ref, diff))
            print("table1", rows1[-1], flush=True)

    for m in large:
        for weighted in (False, True):
            P, w = make_instance(m, seed=m, weighted=weighted)
            t_ours, fit = time_choicelab(lambda P=P, w=w: bt_mle(P, w, lam=lam), args.repeat)
            t_b, r_b = run_baseline(dict(kind="plain_newton", m=m, seed=m, weighted=weighted, lam=lam), args.cap)
            diff = None if r_b is None else float(np.max(np.abs(r_b - fit.rewards)))
            label = f"{'Eq. 2' if weighted else 'Eq. 1'}, lam = {lam}"
            rows2.append((m, label, fit.info["method"], t_ours, "plain Newton + Cholesky", t_b, diff))
            print("table2", rows2[-1], flush=True)
        P, _ = make_instance(m, seed=m, weighted=False)
        N = P.copy()
        np.fill_diagonal(N, 0.0)
        t_ours, fit = time_choicelab(lambda N=N: bt_mle_counts(N, lam=0.0), args.repeat)
        t_c, r_c = run_baseline(dict(kind="choix_ilsr_dense", m=m, seed=m, weighted=False, lam=0.0), args.cap)
        diff = None if r_c is None else float(np.max(np.abs(r_c - fit.rewards)))  # both centred
        rows2.append((m, "Eq. 1 on N = P, lam = 0", fit.info["method"], t_ours, "choix ilsr_pairwise_dense", t_c, diff))
        print("table2", rows2[-1], flush=True)
        del P, N
    load1 = os.getloadavg()[0]

    lines = [
        "## bt: exact Bradley-Terry MLE, dense preference matrix",
        "",
        "Ratio = baseline time / choicelab time on the same instance (higher = choicelab faster); "
        "max |diff| = largest reward difference between the two optima. P: three-type BT population, "
        f"reward spread 1.5; Eq. 2 weights Dirichlet(1). choicelab: best of {args.repeat}; baselines: "
        f"one run each in a subprocess, stopped after {args.cap:.0f} s.",
        "",
        "| m | objective | choicelab method | choicelab (s) | cvxpy + Clarabel (s) | ratio | max abs diff |",
        "|---:|---|---|---:|---:|---:|---:|",
    ]
    for m, obj, meth, t, tr, d in rows1:
        if tr is None:
            lines.append(
                f"| {m} | {obj}, lam = {lam} | {meth} | {_fmt(t)} | > {args.cap:.0f} (stopped) | > {args.cap / t:.0f}x | - |"
            )
        else:
            lines.append(f"| {m} | {obj}, lam = {lam} | {meth} | {_fmt(t)} | {_fmt(tr)} | {tr / t:.0f}x | {d:.1e} |")
    lines += [
        "",
        "| m | objective | choicelab method | choicelab (s) | baseline | baseline (s) | ratio | max abs diff |",
        "|---:|---|---|---:|---|---:|---:|---:|",
    ]
    for m, obj, meth, t, base, tb, d in rows2:
        if tb is None:
            lines.append(
                f"| {m} | {obj} | {meth} | {_fmt(t)} | {base} | > {args.cap:.0f} (stopped) | > {args.cap / t:.0f}x | - |"
            )
        else:
            lines.append(f"| {m} | {obj} | {meth} | {_fmt(t)} | {base} | {_fmt(tb)} | {tb / t:.1f}x | {d:.1e} |")
    lines += [
        "",
        f"Command: `.venv/bin/python benchmarks/bench_bt_dense.py`, run {_dt.date.today().isoformat()} on "
        f"{platform.machine()} ({os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}); "
        f"machine shared with other jobs, 1-min load average {load0:.1f} at start, {load1:.1f} at end.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        _write_section(text, "dense")
    return 0


def _write_section(text, name):
    """Replace this script's section of benchmarks/results/bt.md, keeping the other one."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    marker_start, marker_end = f"<!-- bt:{name} -->", f"<!-- /bt:{name} -->"
    block = f"{marker_start}\n{text}{marker_end}\n"
    old = RESULTS.read_text() if RESULTS.exists() else ""
    if marker_start in old:
        head, rest = old.split(marker_start, 1)
        tail = rest.split(marker_end, 1)[1].lstrip("\n")
        new = head + block + ("\n" + tail if tail else "")
    else:
        new = old + ("\n" if old else "") + block
    RESULTS.write_text(new)


if __name__ == "__main__":
    raise SystemExit(main())

"""`choicelab list` and `choicelab run`: exit statuses, one-line errors, summaries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from scipy import stats as st

from choicelab.cli import main
from choicelab.scenarios.store import Store

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "choicelab", *argv], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (
            [str(DATA / "bad_unknown_key.toml")],
            f"{DATA / 'bad_unknown_key.toml'}:4: scenario.sede = 3: unknown key; did you mean 'scenario.seeds'?",
        ),
        (
            [str(DATA / "bad_kind.toml")],
            f"{DATA / 'bad_kind.toml'}:3: scenario.kind = 'case_study': scenario kinds were "
            "replaced by composed experiments",
        ),
        (
            [str(DATA / "bad_measure_option.toml")],
            "bad_measure_option.toml:12: measures.options.selftest.fail_seed = [1]: "
            "unknown option; did you mean 'fail_seeds'?",
        ),
        ([str(DATA / "bad_syntax.toml")], "bad_syntax.toml:6: not valid TOML"),
        (["psz-case-studdy"], "did you mean 'psz-case-study'?"),
        ([str(DATA / "no_such_file.toml")], "no such scenario file"),
        ([str(DATA / "selftest.toml"), "--workers", "0"], "--workers must be >= 1, got 0"),
        ([str(DATA / "selftest.toml"), "--seed", "-3"], "--seed must be an integer in [0, 2**63), got -3"),
        ([str(DATA / "selftest.toml"), "--scheduler", "tcp://x:1"], "--scheduler needs --engine dask"),
        ([str(DATA / "selftest.toml"), "--db", "/no/such/folder/s.sqlite"], "folder '/no/such/folder' does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, argv, fragment):
    if "--db" not in argv:
        argv = argv + ["--db", str(tmp_path / "s.sqlite")]
    proc = _cli("run", *argv)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("choicelab: ") and "Traceback" not in proc.stderr
    assert fragment in lines[0]


def test_malformed_data_file_exits_2(tmp_path):
    text = (DATA / "byo_template.toml").read_text()
    text = text.replace("EMB", str(DATA / "emb_good.csv")).replace("COMP", str(DATA / "bad_comp_winner.csv"))
    scenario = tmp_path / "byo.toml"
    scenario.write_text(text)
    proc = _cli("run", str(scenario), "--db", str(tmp_path / "s.sqlite"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == (
        f"choicelab: {DATA / 'bad_comp_winner.csv'}:3: winner = 1: must be a (2), b (3) "
        f"or -1 for a tie (file named by data.comparisons in {scenario})"
    )


def _mode_check(row: dict, labels: list) -> None:
    """A mode row of the summary: its label is a most frequent one among ``labels``, with its count."""
    counts = Counter(labels)
    assert row["runs"] == len(labels)
    assert row["label_runs"] == counts[row["label"]] == max(counts.values())


def test_run_json_summary_and_exit_status(tmp_path, capsys):
    db = tmp_path / "s.sqlite"
    status = main(["run", str(DATA / "selftest.toml"), "--db", str(db), "--workers", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1  # seed 3 raises by design: some runs errored
    batch = out["batches"][0]
    assert (batch["batch"], batch["kind"], batch["total"], batch["done"], batch["skipped"], len(batch["errors"])) == (
        "selftest",
        "experiment",
        12,
        10,
        0,
        2,
    )
    assert {e["seed"] for e in batch["errors"]} == {3}
    assert batch["store_counts"] == {"done": 10, "error": 2, "running": 0}
    assert batch["store"] == str(db)
    key = batch["key_results"]
    assert key["kind"] == "experiment" and key["sweep_keys"] == ["measures.options.selftest.values"]
    # one section per sweep point, the per-run values counted (values + checksum), never averaged across points
    assert [(p["point"], p["rows"]) for p in key["points"]] == [
        (
            {"measures.options.selftest.values": v},
            [{"condition": "default", "estimator": "selftest", "measure": "selftest", "items": v + 1}],
        )
        for v in (2, 4)
    ]
    status = main(["run", str(DATA / "good_small_case_study.toml"), "--db", str(db), "--workers", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    key = out["batches"][0]["key_results"]
    assert key["kind"] == "experiment" and key["sweep_keys"] == [] and key["verdicts"] == {}
    (point,) = key["points"]
    rows = {(r["condition"], r["estimator"], r["measure"]): r for r in point["rows"]}
    with Store(db) as store:
        frame = store.to_frame("results", "small-case-study")
    for cond in ("original", "clones"):
        for est in ("mle", "weighted_mle"):
            assert rows[(cond, est, "topic_rewards")]["items"] == 2
            fit = frame[(frame.condition == cond) & (frame.estimator == est)]
            # the top topic of each run is the topic with the larger stored topic reward
            per_run = []
            for _, run in fit[fit.measure == "topic_rewards"].groupby("run_id"):
                per_run.append(run.set_index("item")["value"].idxmax())
            assert sorted(per_run) == sorted(fit[fit.measure == "top_topic"]["label"])
            _mode_check(rows[(cond, est, "top_topic")], per_run)
    for est in ("mle", "weighted_mle"):
        tops = frame[(frame.estimator == est) & (frame.measure == "top_topic")].pivot(
            index="run_id", columns="condition", values="label"
        )
        assert rows[("clones", est, "top_change")]["mean"] == pytest.approx(
            (tops["original"] != tops["clones"]).mean(), abs=1e-12
        )
        assert ("original", est, "top_change") not in rows


def test_run_human_summary_and_resume(tmp_path):
    db = tmp_path / "s.sqlite"
    first = _cli("run", str(DATA / "good_small_case_study.toml"), "--db", str(db), "--workers", "1")
    assert first.returncode == 0 and first.stderr == ""  # not a terminal: no progress bar
    lines = first.stdout.splitlines()
    assert lines[0].startswith("small-case-study: 2 runs: 2 done now, 0 already done, 0 errors in ")
    assert lines[0].endswith("(inline)")
    assert f"store: {db}" in lines[1] and "(batch totals: 2 done, 0 error, 0 unfinished)" in lines[1]
    with Store(db) as store:
        frame = store.to_frame("results", "small-case-study")
    changed = frame[(frame.measure == "top_change") & (frame.estimator == "mle")]["value"].to_numpy()
    cell = [f"{changed.mean():.6g}"]
    if changed.std() > 0:  # the 95% Student-t interval over the 2 runs, recomputed with scipy
        lo, hi = st.t.interval(0.95, 1, loc=changed.mean(), scale=st.sem(changed))
        cell += [f"[{lo:.3g},", f"{hi:.3g}]"]
    assert any(line.split() == ["clones", "mle", "top_change", *cell] for line in lines), lines
    assert any(
        line.split()[:3] == ["original", "weighted_mle", "top_topic"] and line.rstrip().endswith("of 2 runs)")
        for line in lines
    )
    again = _cli("run", str(DATA / "good_small_case_study.toml"), "--db", str(db))
    assert again.returncode == 0
    assert "2 runs: 0 done now, 2 already done, 0 errors" in again.stdout and "(nothing to run)" in again.stdout
    assert again.stdout.splitlines()[2:] == lines[2:]  # the same key results, read back from the store
    assert len(again.stdout.splitlines()) <= 24  # one screen


def test_run_errors_are_listed_with_their_seed_and_exit_1(tmp_path):
    proc = _cli("run", str(DATA / "selftest.toml"), "--db", str(tmp_path / "s.sqlite"), "--workers", "1")
    assert proc.returncode == 1 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("selftest: 12 runs: 10 done now, 0 already done, 2 errors in ")
    errors = [line for line in lines if line.strip().startswith("error in run ")]
    assert len(errors) == 2 and all(
        line.endswith("(seed 3): RuntimeError: selftest: seed 3 is listed in measures.options.selftest.fail_seeds")
        for line in errors
    )
    assert (
        "measures.options.selftest.values = 2" in proc.stdout and "measures.options.selftest.values = 4" in proc.stdout
    )


def test_list_json_names_scenarios_and_every_registry(capsys):
    from choicelab.scenarios.spec import expand, list_builtin, load_scenario

    assert main(["list", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = {s["name"]: s for s in out["scenarios"]}
    assert set(names) == set(list_builtin())
    assert {
        "psz-case-study",
        "psz-case-study-converged",
        "psz-clone-robustness",
        "psz-borda",
        "xk-sensitivity",
        "axiom-matrix",
        "byo-data",
        "clone-sweep",
    } <= set(names)
    for name in ("psz-case-study", "axiom-matrix", "clone-sweep", "psz-borda"):
        assert names[name]["runs"] == len(expand(load_scenario(name)))
    assert (names["psz-case-study"]["runs"], names["axiom-matrix"]["runs"], names["clone-sweep"]["runs"]) == (
        40,  # 20 seeds x the two couplings
        18,
        12,
    )
    assert not any(s["description"].startswith("INVALID") for s in out["scenarios"])
    estimators = {e["name"] for e in out["estimators"]}
    assert {"mle", "weighted_mle", "neural_mle", "neural_weighted_mle", "borda", "wawr"} <= estimators
    assert {"scores", "top_item", "identity_residual", "a1_curve", "selftest", "clone_diagnostic", "A5"} <= {
        m["name"] for m in out["measures"]
    }
    assert {"default", "original", "clones", "aa_control"} <= {c["name"] for c in out["conditions"]}
    assert "voronoi" in {w["name"] for w in out["weightings"]}
    assert {"scores_by_item", "topic_rewards_by_condition", "majority_graph"} <= {f["name"] for f in out["figures"]}
    assert [a["id"] for a in out["axioms"]][:3] == ["A1", "A2", "A3"]
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "psz-case-study" in text and "Estimators:" in text and "Measures:" in text and "Axioms" in text
    assert any(line.split()[:3] == ["clone-sweep", "12", "runs"] for line in text.splitlines())

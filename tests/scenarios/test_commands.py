"""`choicelab list` and `choicelab run`: exit statuses, one-line errors, summaries."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from choicelab.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"
ROOT = Path(__file__).resolve().parents[2]


def _cli(*argv, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "choicelab", *argv], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


@pytest.mark.parametrize("argv, fragment", [
    ([str(DATA / "bad_unknown_key.toml")], f"{DATA / 'bad_unknown_key.toml'}:4: scenario.sede = 3: unknown key; "
                                            "did you mean 'scenario.seeds'?"),
    ([str(DATA / "bad_syntax.toml")], "bad_syntax.toml:4: not valid TOML"),
    (["psz-case-studdy"], "did you mean 'psz-case-study'?"),
    ([str(DATA / "no_such_file.toml")], "no such scenario file"),
    ([str(DATA / "selftest.toml"), "--workers", "0"], "--workers must be >= 1, got 0"),
    ([str(DATA / "selftest.toml"), "--seed", "-3"], "--seed must be >= 0, got -3"),
    ([str(DATA / "selftest.toml"), "--scheduler", "tcp://x:1"], "--scheduler needs --engine dask"),
    ([str(DATA / "selftest.toml"), "--db", "/no/such/folder/s.sqlite"], "folder '/no/such/folder' does not exist"),
])
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
    assert proc.returncode == 2
    assert proc.stderr.strip() == (f"choicelab: {DATA / 'bad_comp_winner.csv'}:3: winner = 1: must be a (2), b (3) "
                                   f"or -1 for a tie (file named by data.comparisons in {scenario})")


def test_run_json_summary_and_exit_status(tmp_path, capsys):
    db = tmp_path / "s.sqlite"
    status = main(["run", str(DATA / "selftest.toml"), "--db", str(db), "--workers", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 1  # seed 3 raises by design: some runs errored
    batch = out["batches"][0]
    assert (batch["batch"], batch["total"], batch["done"], batch["skipped"], len(batch["errors"])) == ("selftest", 12, 10, 0, 2)
    assert batch["store_counts"] == {"done": 10, "error": 2, "running": 0}
    assert batch["store"] == str(db)
    assert set(batch["key_results"]["means"]) == {"selftest checksum", "selftest value"}
    status = main(["run", str(DATA / "good_small_case_study.toml"), "--db", str(db), "--workers", "1", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    key = out["batches"][0]["key_results"]
    assert key["kind"] == "case_study"
    for est in ("mle", "weighted_mle"):
        assert set(key["estimators"][est]) == {"original", "clones", "flip"}
        rewards = key["estimators"][est]["original"]["topic_rewards"]
        assert set(rewards) == {"history", "food"}
        assert key["estimators"][est]["original"]["top_topic"] == max(rewards, key=rewards.get)


def test_run_human_summary_and_resume(tmp_path):
    db = tmp_path / "s.sqlite"
    first = _cli("run", str(DATA / "good_small_case_study.toml"), "--db", str(db), "--workers", "1")
    assert first.returncode == 0 and first.stderr == ""  # not a terminal: no progress bar
    lines = first.stdout.splitlines()
    assert lines[0].startswith("bad (case_study): 2 runs: 2 done now, 0 already done, 0 errors in ")
    assert f"store: {db}" in lines[1]
    assert any(line.strip().startswith("mle ") and "original:" in line and "clones:" in line for line in lines)
    again = _cli("run", str(DATA / "good_small_case_study.toml"), "--db", str(db))
    assert again.returncode == 0
    assert "2 runs: 0 done now, 2 already done, 0 errors" in again.stdout
    assert len(again.stdout.splitlines()) <= 24  # one screen


def test_list_json_names_scenarios_estimators_axioms(capsys):
    assert main(["list", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    names = {s["name"]: s for s in out["scenarios"]}
    assert {"psz-case-study", "psz-case-study-converged", "psz-clone-robustness", "psz-borda", "xk-sensitivity",
            "axiom-matrix", "byo-data"} <= set(names)
    assert names["psz-case-study"]["kind"] == "case_study" and names["psz-case-study"]["runs"] == 20
    assert names["axiom-matrix"]["runs"] == 18
    assert not any(s["description"].startswith("INVALID") for s in out["scenarios"])
    assert {"mle", "weighted_mle", "neural_mle", "neural_weighted_mle", "borda", "wawr"} <= set(out["estimators"])
    assert [a["id"] for a in out["axioms"]][:3] == ["A1", "A2", "A3"]
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert "psz-case-study" in text and "Estimators:" in text and "Axioms:" in text

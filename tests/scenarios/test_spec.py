"""Scenario files: validation messages (file, key, value, line, suggestion), sweeps, run ids."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.scenarios.spec import (
    Scenario, ScenarioError, expand, list_builtin, load_scenario, parse_scenario, read_comparisons,
    read_embeddings,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"

# file, key, value (repr in the message; None when absent), line, fragment of the message
MALFORMED = [
    ("bad_unknown_key.toml", "scenario.sede", "3", 4, "did you mean 'scenario.seeds'?"),
    ("bad_unknown_section.toml", "wrld", None, 5, "did you mean 'world'?"),
    ("bad_task_key.toml", "task.fail_seed", "[1]", 7, "did you mean 'task.fail_seeds'?"),
    ("bad_seeds_type.toml", "scenario.seeds", "'ten'", 4, "must be an integer >= 1"),
    ("bad_kind.toml", "scenario.kind", "'case_studdy'", 3, "did you mean 'case_study'?"),
    ("bad_missing_name.toml", "scenario.name", None, 1, "is required"),
    ("bad_syntax.toml", None, None, 4, "not valid TOML"),
    ("bad_negative_share.toml", "world.population.types[1].share", "-0.4", 33, "must be > 0"),
    ("bad_shares_sum.toml", "world.population.types", "[0.6, 0.3]", 26, "shares must sum to 1"),
    ("bad_clone_topic.toml", "world.clones.topic", "'fod'", 19, "did you mean 'food'?"),
    ("bad_clone_both.toml", "world.clones", None, 17, "exactly one of 'index'"),
    ("bad_region.toml", "world.region.hi", "[2.0, -3.0]", 15, "must exceed lo"),
    ("bad_utilities_topic.toml", "world.population.types[1].utilities.histroy", "0.0", 36, "did you mean 'history'?"),
    ("bad_estimator.toml", "estimators.names", "'weigted_mle'", 43, "did you mean 'weighted_mle'?"),
    ("bad_eps_type.toml", "world.clones.eps", "'small'", 21, "must be a number"),
    ("bad_data_key.toml", "data.k", "3", 41, "does not apply to data kind 'comparisons'"),
    ("bad_sweep_key.toml", "sweep.world.clones.epsilon", None, 49, "did you mean 'world.clones.eps'?"),
    ("bad_sweep_value.toml", "sweep.world.clones.eps", "-1.0", 49, "world.clones.eps must be >= 0"),
    ("bad_sweep_table.toml", "sweep.world.clones", None, 49, "names a table"),
]


@pytest.mark.parametrize("name, key, value, line, fragment", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_scenario_message(name, key, value, line, fragment):
    path = DATA / name
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    err = info.value
    assert err.file == str(path)
    assert err.key == key
    assert err.line == line
    assert fragment in err.message
    text = str(err)
    assert "\n" not in text
    assert text.startswith(f"{path}:{line}: ")
    if key is not None:
        assert key in text
    if value is not None:
        assert f"= {value}:" in text
    # the line really holds the key (or opens its table), so a reader can jump to it
    source_line = path.read_text().splitlines()[line - 1]
    if key is not None and not key.startswith("sweep."):
        last = key.split(".")[-1].split("[")[0]
        assert last in source_line or source_line.startswith("[")


# data file, which scenario key names it, record line, field, value repr, fragment
MALFORMED_DATA = [
    ("bad_emb_value.csv", "embeddings", 3, "x1", "'zero'", "is not a number"),
    ("bad_emb_fields.csv", "embeddings", 3, "row", None, "expected 3 fields"),
    ("bad_comp_winner.csv", "comparisons", 3, "winner", "1", "must be a (2), b (3) or -1"),
    ("bad_comp_header.csv", "comparisons", 1, "header", None, "expected the header a,b,winner"),
    ("bad_comp_same.csv", "comparisons", 3, "b", "0", "must differ from a"),
    ("bad_comp_index.jsonl", "comparisons", 2, "b", "9", "must be an alternative index in [0, 4)"),
    ("bad_comp_json.jsonl", "comparisons", 3, None, None, "not a JSON object"),
    ("bad_comp_field.jsonl", "comparisons", 1, "winer", "1", "did you mean 'winner'?"),
    ("bad_comp_type.jsonl", "comparisons", 2, "winner", "'b'", "must be an integer"),
]


def _byo_scenario(tmp_path, embeddings: str, comparisons: str) -> Path:
    text = (DATA / "byo_template.toml").read_text()
    text = text.replace("EMB", str(DATA / embeddings)).replace("COMP", str(DATA / comparisons))
    path = tmp_path / "byo.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("name, which, line, field, value, fragment", MALFORMED_DATA, ids=[m[0] for m in MALFORMED_DATA])
def test_malformed_data_file_message(tmp_path, name, which, line, field, value, fragment):
    emb, comp = ("emb_good.csv", name) if which == "comparisons" else (name, "comp_good.csv")
    scenario = _byo_scenario(tmp_path, emb, comp)
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    err = info.value
    assert err.file == str(DATA / name)
    assert err.line == line
    assert err.key == field
    assert fragment in err.message
    assert f"data.{which} in {scenario}" in err.message
    text = str(err)
    assert "\n" not in text and text.startswith(f"{DATA / name}:{line}: ")
    if value is not None:
        assert f"{field} = {value}:" in text


def test_missing_data_file_names_the_key(tmp_path):
    scenario = _byo_scenario(tmp_path, "emb_good.csv", "no_such_file.csv")
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert info.value.key == "data.comparisons"
    assert info.value.line == 8
    assert "no such file" in info.value.message


def test_unknown_builtin_suggests_the_nearest_name():
    with pytest.raises(ScenarioError) as info:
        load_scenario("psz-case-studdy")
    assert "did you mean 'psz-case-study'?" in str(info.value)


def test_read_data_files_known_values():
    X, labels = read_embeddings(DATA / "emb_good.csv")
    assert labels == ["A", "B", "C", "D"]
    np.testing.assert_array_equal(X, [[0, 0], [1, 0], [0, 1], [1, 1]])
    for name in ("comp_good.csv", "comp_good.jsonl"):
        comps = read_comparisons(DATA / name, 4)
        assert comps.a.tolist() == [0, 2, 3] and comps.b.tolist() == [1, 3, 1]
        assert comps.winner.tolist() == [1, -1, 3]
    assert read_comparisons(DATA / "comp_good.jsonl", 4).annotator.tolist() == [2, -1, -1]
    assert read_comparisons(DATA / "comp_good.csv", 4).annotator.tolist() == [-1, -1, -1]


def test_npy_embeddings(tmp_path):
    path = tmp_path / "emb.npy"
    np.save(path, np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]))
    X, labels = read_embeddings(path)
    assert labels is None and X.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    np.save(path, np.array([[0.0, np.nan], [2.0, 3.0]]))
    with pytest.raises(ScenarioError, match="row 0, column 1"):
        read_embeddings(path)


# ---------------------------------------------------------------------------------------------
# expansion and run identity

def test_defaults_filled_and_seeds():
    sc = load_scenario(DATA / "good_small_case_study.toml")
    assert isinstance(sc, Scenario) and sc.kind == "case_study" and sc.seeds == (0, 1)
    assert sc.params["estimators"]["lam"] == 0.1
    assert sc.params["estimators"]["neural"]["steps"] == 500  # the paper's setting is the default
    assert sc.params["world"]["population"]["beta"] == 1.0
    runs = expand(sc)
    assert [r.seed for r in runs] == [0, 1]
    assert [r.seed for r in expand(sc, seed_override=100)] == [100, 101]


def test_run_id_is_sha256_of_canonical_json():
    sc = load_scenario(DATA / "selftest.toml")
    run = expand(sc)[0]
    expected = hashlib.sha256(json.dumps(
        {"batch": "selftest", "kind": "selftest", "params": run.params, "seed": run.seed},
        sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]
    assert run.run_id == expected


def test_sweep_grid_order_and_values():
    sc = load_scenario(DATA / "selftest.toml")
    runs = expand(sc)
    # 2 sweep values x 6 seeds, sweep outermost, seeds innermost
    assert len(runs) == 12
    assert [r.params["task"]["values"] for r in runs] == [2] * 6 + [4] * 6
    assert [r.seed for r in runs] == list(range(6)) * 2
    assert [r.point for r in runs[:1]] == [{"task.values": 2}]
    assert len({r.run_id for r in runs}) == 12


def test_two_key_sweep_is_a_cartesian_product(tmp_path):
    text = (DATA / "good_small_case_study.toml").read_text() + \
        '\n[sweep]\n"world.clones.eps" = [0.1, 0.01]\n"data.n" = [100, 200, 300]\n'
    sc = parse_scenario(text, tmp_path / "s.toml")
    runs = expand(sc)
    got = [(r.params["world"]["clones"]["eps"], r.params["data"]["n"], r.seed) for r in runs]
    assert got == [(e, n, s) for e in (0.1, 0.01) for n in (100, 200, 300) for s in (0, 1)]


def test_description_does_not_change_run_ids(tmp_path):
    base = (DATA / "good_small_case_study.toml").read_text()
    a = expand(parse_scenario(base, tmp_path / "a.toml"))
    b = expand(parse_scenario(base.replace('seeds = 2', 'seeds = 2\ndescription = "other words"'), tmp_path / "b.toml"))
    assert [r.run_id for r in a] == [r.run_id for r in b]


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 10_000), eps=st.floats(1e-6, 1.0), seed=st.integers(0, 1000))
def test_run_id_changes_exactly_when_numbers_change(n, eps, seed):
    text = (DATA / "good_small_case_study.toml").read_text()

    def runs_for(n_, eps_, seed_):
        t = text.replace("n = 200", f"n = {n_}").replace("eps = 0.05", f"eps = {eps_!r}")
        return expand(parse_scenario(t, DATA / "x.toml"), seed_override=seed_)

    base = runs_for(n, eps, seed)
    assert [r.run_id for r in runs_for(n, eps, seed)] == [r.run_id for r in base]
    assert base[0].run_id != runs_for(n + 1, eps, seed)[0].run_id
    assert base[0].run_id != runs_for(n, eps * 2, seed)[0].run_id
    assert base[0].run_id != runs_for(n, eps, seed + 1)[0].run_id
    assert base[1].run_id == runs_for(n, eps, seed + 1)[0].run_id  # seed base+1 is the same run


def test_data_file_digest_enters_run_id(tmp_path):
    emb = tmp_path / "emb.csv"
    emb.write_text((DATA / "emb_good.csv").read_text())
    comp = tmp_path / "comp.csv"
    comp.write_text((DATA / "comp_good.csv").read_text())
    scenario = tmp_path / "s.toml"
    scenario.write_text((DATA / "byo_template.toml").read_text().replace("EMB", "emb.csv").replace("COMP", "comp.csv"))
    first = expand(load_scenario(scenario))[0].run_id
    moved = tmp_path / "moved"
    moved.mkdir()
    for f in (emb, comp, scenario):
        (moved / f.name).write_text(f.read_text())
    assert expand(load_scenario(moved / "s.toml"))[0].run_id == first  # relative paths, same content
    comp.write_text("a,b,winner\n0,1,0\n")
    assert expand(load_scenario(scenario))[0].run_id != first


def test_every_builtin_loads_and_expands():
    names = list_builtin()
    for required in ("psz-case-study", "psz-case-study-converged", "psz-clone-robustness", "psz-borda",
                     "xk-sensitivity", "axiom-matrix", "byo-data"):
        assert required in names
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name
        runs = expand(sc)
        assert len(runs) == len(sc.seeds) * int(np.prod([len(v) for v in sc.sweep.values()] or [1]))
        assert len({r.run_id for r in runs}) == len(runs)


def test_converged_variant_differs_only_in_training_settings():
    paper, conv = load_scenario("psz-case-study"), load_scenario("psz-case-study-converged")
    nn_paper, nn_conv = paper.params["estimators"]["neural"], conv.params["estimators"]["neural"]
    assert (nn_paper["hidden"], nn_paper["lr"], nn_paper["batch_size"], nn_paper["steps"], nn_paper["seeds"]) == \
        (32, 1e-4, 512, 500, 20)
    assert nn_conv["lr"] > nn_paper["lr"] and nn_conv["steps"] > nn_paper["steps"]
    strip = lambda p: {k: v for k, v in p.items() if k not in ("estimators", "scenario")}  # noqa: E731
    assert strip(paper.params) == strip(conv.params)
    assert paper.seeds == conv.seeds and paper.base_seed == conv.base_seed and paper.kind == conv.kind

"""Scenario files: validation messages (file, key, value, line, suggestion), sweeps, run ids."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from choicelab.scenarios.spec import (
    Scenario,
    ScenarioError,
    expand,
    list_builtin,
    load_scenario,
    parse_scenario,
    read_comparisons,
    read_embeddings,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "scenarios"

# file, key, value (repr in the message; None when absent), line, fragment of the message
MALFORMED = [
    ("bad_unknown_key.toml", "scenario.sede", "3", 4, "unknown key; did you mean 'scenario.seeds'?"),
    ("bad_unknown_section.toml", "wrld", None, 7, "unknown key; did you mean 'world'?"),
    (
        "bad_measure_option.toml",
        "measures.options.selftest.fail_seed",
        "[1]",
        12,
        "unknown option; did you mean 'fail_seeds'?",
    ),
    ("bad_seeds_type.toml", "scenario.seeds", "'ten'", 3, "must be a valid integer"),
    ("bad_kind.toml", "scenario.kind", "'case_study'", 3, "scenario kinds were replaced by composed experiments"),
    ("bad_missing_name.toml", "scenario.name", None, 1, "is required"),
    ("bad_syntax.toml", None, None, 6, "not valid TOML"),
    ("bad_negative_share.toml", "world.population.types.1.share", "-0.4", 32, "must be greater than 0"),
    ("bad_shares_sum.toml", "world.population.types", "[0.6, 0.3]", 25, "shares must sum to 1"),
    ("bad_clone_topic.toml", "world.clones.topic", "'fod'", 18, "did you mean 'food'?"),
    ("bad_clone_both.toml", "world.clones", None, 16, "needs exactly one of 'index'"),
    ("bad_region.toml", "world.region.hi", "[2.0, -3.0]", 14, "must exceed lo"),
    pytest.param(
        "bad_utilities_topic.toml",
        "world.population.types.1.utilities.histroy",
        "0.0",
        35,
        "did you mean 'history'?",
        id="bad_utilities_topic.toml-did-you-mean",
    ),
    (
        "bad_utilities_topic.toml",
        "world.population.types.1.utilities.histroy",
        "0.0",
        35,
        "is not a topic of the world",
    ),
    ("bad_estimator.toml", "estimators.names", "'weigted_mle'", 45, "did you mean 'weighted_mle'?"),
    ("bad_eps_type.toml", "world.clones.eps", "'small'", 20, "must be a valid number"),
    ("bad_data_key.toml", "data.k", "3", 40, "unknown key; valid keys: kind, n, design"),
    ("bad_sweep_key.toml", "sweep.world.clones.epsilon", "0.1", 58, "did you mean 'world.clones.eps'?"),
    (
        "bad_sweep_value.toml",
        "sweep.world.clones.eps",
        "-1.0",
        58,
        "gives an invalid scenario: world.clones.eps = -1.0: must be greater than or equal to 0",
    ),
    ("bad_sweep_table.toml", "sweep.world.clones", "1", 58, "world.clones = 1: must be a table"),
]


def _id(m):
    return m.id if hasattr(m, "id") else m[0]


@pytest.mark.parametrize("name, key, value, line, fragment", MALFORMED, ids=[_id(m) for m in MALFORMED])
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
        last = key.split(".")[-1]
        assert last in source_line or source_line.startswith("[")
    elif key is not None:
        assert source_line.startswith(f'"{key[len("sweep.") :]}" = ')


def test_old_kind_files_are_refused_at_scenario_kind():
    """A file of the retired fixed-kind format is refused in one line pointing at scenario.kind."""
    text = '[scenario]\nname = "old"\nkind = "selftest"\n\n[task]\nsleep = 0.0\nfail_seeds = [3]\n'
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, DATA / "old.toml")
    err = info.value
    assert (err.key, err.value, err.line) == ("scenario.kind", "selftest", 3)
    assert str(err).startswith(f"{DATA / 'old.toml'}:3: scenario.kind = 'selftest': scenario kinds were replaced")
    assert "docs/experiments.md" in str(err) and "\n" not in str(err)


# data file, which scenario key names it, record line, field, value repr, fragment
MALFORMED_DATA = [
    ("bad_emb_value.csv", "world.alternatives.path", 3, "x1", "'zero'", "is not a number"),
    ("bad_emb_fields.csv", "world.alternatives.path", 3, "row", None, "expected 3 fields"),
    ("bad_comp_winner.csv", "data.comparisons", 3, "winner", "1", "must be a (2), b (3) or -1"),
    ("bad_comp_header.csv", "data.comparisons", 1, "header", None, "expected the header a,b,winner"),
    ("bad_comp_same.csv", "data.comparisons", 3, "b", "0", "must differ from a"),
    ("bad_comp_index.jsonl", "data.comparisons", 2, "b", "9", "must be an alternative index in [0, 4)"),
    ("bad_comp_json.jsonl", "data.comparisons", 3, None, None, "not a JSON object"),
    ("bad_comp_field.jsonl", "data.comparisons", 1, "winer", "1", "did you mean 'winner'?"),
    ("bad_comp_type.jsonl", "data.comparisons", 2, "winner", "'b'", "must be an integer"),
]


def _byo_scenario(tmp_path, embeddings: str, comparisons: str) -> Path:
    text = (DATA / "byo_template.toml").read_text()
    text = text.replace("EMB", str(DATA / embeddings)).replace("COMP", str(DATA / comparisons))
    path = tmp_path / "byo.toml"
    path.write_text(text)
    return path


def _data_file_case(name, which, line, field, value, fragment):
    return pytest.param(name, which, line, field, value, fragment, id=name)


@pytest.mark.parametrize("name, which, line, field, value, fragment", [_data_file_case(*m) for m in MALFORMED_DATA])
def test_malformed_data_file_message(tmp_path, name, which, line, field, value, fragment):
    emb, comp = ("emb_good.csv", name) if which == "data.comparisons" else (name, "comp_good.csv")
    scenario = _byo_scenario(tmp_path, emb, comp)
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    err = info.value
    assert err.file == str(DATA / name)
    assert err.line == line
    assert err.key == field
    assert fragment in err.message
    text = str(err)
    assert "\n" not in text and text.startswith(f"{DATA / name}:{line}: ")
    if value is not None:
        assert f"{field} = {value}:" in text
    assert f"(file named by {which} in {scenario})" in err.message


@pytest.mark.parametrize("name", ["bad_emb_value.csv", "bad_emb_fields.csv"])
def test_malformed_embeddings_file_names_file_line_and_field(tmp_path, name):
    """What the embeddings errors give today: the data file, its line and field, in one line."""
    line, field, value, fragment = {
        "bad_emb_value.csv": (3, "x1", "'zero'", "is not a number"),
        "bad_emb_fields.csv": (3, "row", "'B,1.0'", "expected 3 fields (label,x0,x1)"),
    }[name]
    with pytest.raises(ScenarioError) as info:
        load_scenario(_byo_scenario(tmp_path, name, "comp_good.csv"))
    err = info.value
    assert (err.file, err.line, err.key) == (str(DATA / name), line, field)
    assert str(err) == f"{DATA / name}:{line}: {field} = {value}: {err.message}" and fragment in err.message


@pytest.mark.parametrize(
    "which, key, line", [("comparisons", "data.comparisons", 10), ("embeddings", "world.alternatives.path", 6)]
)
def test_missing_data_file_names_the_key(tmp_path, which, key, line):
    emb, comp = (
        ("emb_good.csv", "no_such_file.csv") if which == "comparisons" else ("no_such_file.csv", "comp_good.csv")
    )
    scenario = _byo_scenario(tmp_path, emb, comp)
    with pytest.raises(ScenarioError) as info:
        load_scenario(scenario)
    assert info.value.key == key
    assert info.value.line == line
    assert info.value.file == str(scenario)
    assert info.value.message.startswith("no such file") and str(DATA / "no_such_file.csv") in info.value.message


def test_unknown_builtin_suggests_the_nearest_name():
    with pytest.raises(ScenarioError) as info:
        load_scenario("psz-case-studdy")
    assert (
        str(info.value) == "psz-case-studdy: no such scenario file or built-in scenario; did you mean 'psz-case-study'?"
    )


def test_read_data_files_known_values():
    X, labels = read_embeddings(DATA / "emb_good.csv")
    assert list(labels) == ["A", "B", "C", "D"]
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
    assert isinstance(sc, Scenario) and sc.kind == "experiment" and sc.seeds == (0, 1)
    assert sc.params["estimators"]["lam"] == 0.1 and sc.params["estimators"]["quick"] is False
    assert sc.params["estimators"]["weights"] == {"name": "voronoi", "n_samples": 20000}
    assert sc.params["world"]["population"]["beta"] == 1.0
    assert sc.params["data"] == {"kind": "comparisons", "n": 200, "design": "uniform"}
    assert sc.params["conditions"] == {"names": ["original", "clones"], "coupling": "paired"}  # paired is the default
    runs = expand(sc)
    assert [r.seed for r in runs] == [0, 1]
    assert [r.seed for r in expand(sc, seed_override=100)] == [100, 101]
    # an estimator's options default to the registry's (the paper's neural settings)
    from choicelab.estimators.registry import get_estimator

    neural = get_estimator("neural_mle").params.model_validate(sc.params["estimators"]["options"].get("neural_mle", {}))
    assert (neural.hidden, neural.lr, neural.batch_size, neural.steps, neural.seeds) == (32, 1e-4, 512, 500, 20)


def test_seed_offsets_list_and_base_seed(tmp_path):
    text = (DATA / "selftest.toml").read_text().replace("seeds = 6\nbase_seed = 0", "seeds = [4, 1]\nbase_seed = 10")
    runs = expand(parse_scenario(text, tmp_path / "s.toml"))
    assert [r.seed for r in runs] == [14, 11, 14, 11]
    assert [r.seed for r in expand(parse_scenario(text, tmp_path / "s.toml"), seed_override=0)] == [4, 1, 4, 1]


def test_run_id_is_sha256_of_canonical_json():
    sc = load_scenario(DATA / "selftest.toml")
    for run in expand(sc)[:3]:
        hashed = {k: v for k, v in run.params.items() if k != "plugins"}
        expected = hashlib.sha256(
            json.dumps(
                {"batch": "selftest", "kind": "experiment", "params": hashed, "seed": run.seed},
                sort_keys=True,
                separators=(",", ":"),
            ).encode()
        ).hexdigest()[:32]
        assert run.run_id == expected and run.kind == "experiment" and run.batch == "selftest"


def test_sweep_grid_order_and_values():
    sc = load_scenario(DATA / "selftest.toml")
    runs = expand(sc)
    # 2 sweep values x 6 seeds, sweep outermost, seeds innermost
    assert len(runs) == 12
    assert [r.params["measures"]["options"]["selftest"]["values"] for r in runs] == [2] * 6 + [4] * 6
    assert [r.seed for r in runs] == list(range(6)) * 2
    assert runs[0].point == {"measures.options.selftest.values": 2}
    assert runs[6].point == {"measures.options.selftest.values": 4}
    assert len({r.run_id for r in runs}) == 12


def test_two_key_sweep_is_a_cartesian_product(tmp_path):
    text = (
        DATA / "good_small_case_study.toml"
    ).read_text() + '\n[sweep]\n"world.clones.eps" = [0.1, 0.01]\n"data.n" = [100, 200, 300]\n'
    sc = parse_scenario(text, tmp_path / "s.toml")
    runs = expand(sc)
    got = [(r.params["world"]["clones"]["eps"], r.params["data"]["n"], r.seed) for r in runs]
    assert got == [(e, n, s) for e in (0.1, 0.01) for n in (100, 200, 300) for s in (0, 1)]
    assert [r.point for r in runs[::2]] == [
        {"world.clones.eps": e, "data.n": n} for e in (0.1, 0.01) for n in (100, 200, 300)
    ]


def test_description_does_not_change_run_ids(tmp_path):
    base = (DATA / "good_small_case_study.toml").read_text()
    a = expand(parse_scenario(base, tmp_path / "a.toml"))
    b = expand(parse_scenario(base.replace("seeds = 2", 'seeds = 2\ndescription = "other words"'), tmp_path / "b.toml"))
    assert [r.run_id for r in a] == [r.run_id for r in b]


_CASE_TEXT = (DATA / "good_small_case_study.toml").read_text()


def _runs_for(n_, eps_, seed_):
    t = _CASE_TEXT.replace("n = 200", f"n = {n_}").replace("eps = 0.05", f"eps = {eps_!r}")
    return expand(parse_scenario(t, DATA / "x.toml"), seed_override=seed_)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 10_000), eps=st.floats(1e-6, 1.0), seed=st.integers(0, 1000))
def test_run_id_changes_exactly_when_numbers_change(n, eps, seed):
    base = _runs_for(n, eps, seed)
    assert [r.run_id for r in _runs_for(n, eps, seed)] == [r.run_id for r in base]
    assert base[0].run_id != _runs_for(n + 1, eps, seed)[0].run_id
    assert base[0].run_id != _runs_for(n, eps * 2, seed)[0].run_id
    assert base[0].run_id != _runs_for(n, eps, seed + 1)[0].run_id
    assert base[1].run_id == _runs_for(n, eps, seed + 1)[0].run_id  # seed base+1 is the same run


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
    second = expand(load_scenario(scenario))[0].run_id
    assert second != first
    emb.write_text("label,x0,x1\nA,0.0,0.0\nB,1.0,0.0\nC,0.0,1.0\nD,1.0,2.0\n")  # the embeddings' content too
    assert expand(load_scenario(scenario))[0].run_id not in (first, second)


def test_every_builtin_loads_and_expands():
    names = list_builtin()
    for required in (
        "psz-case-study",
        "psz-case-study-converged",
        "psz-clone-robustness",
        "psz-borda",
        "xk-sensitivity",
        "axiom-matrix",
        "byo-data",
        "clone-sweep",
    ):
        assert required in names
    for name in names:
        sc = load_scenario(name)
        assert sc.name == name and sc.kind == "experiment"
        assert "kind" not in sc.raw["scenario"]  # every built-in is a plain experiment file
        runs = expand(sc)
        assert len(runs) == len(sc.seeds) * int(np.prod([len(v) for v in sc.sweep.values()] or [1]))
        assert len({r.run_id for r in runs}) == len(runs)


def test_converged_variant_differs_only_in_training_settings():
    paper, conv = load_scenario("psz-case-study"), load_scenario("psz-case-study-converged")
    for est in ("neural_mle", "neural_weighted_mle"):
        nn_paper, nn_conv = paper.params["estimators"]["options"][est], conv.params["estimators"]["options"][est]
        assert (nn_paper["hidden"], nn_paper["lr"], nn_paper["batch_size"], nn_paper["steps"], nn_paper["seeds"]) == (
            32,
            1e-4,
            512,
            500,
            20,
        )
        assert nn_conv["lr"] > nn_paper["lr"] and nn_conv["steps"] > nn_paper["steps"]
        assert {k: v for k, v in nn_paper.items() if k not in ("lr", "steps")} == {
            k: v for k, v in nn_conv.items() if k not in ("lr", "steps")
        }
    strip = lambda p: {k: v for k, v in p.items() if k not in ("estimators", "scenario")}  # noqa: E731
    assert strip(paper.params) == strip(conv.params)
    assert {k: v for k, v in paper.params["estimators"].items() if k != "options"} == {
        k: v for k, v in conv.params["estimators"].items() if k != "options"
    }
    assert paper.seeds == conv.seeds and paper.base_seed == conv.base_seed and paper.kind == conv.kind


def test_plugin_location_does_not_change_run_ids(tmp_path):
    """Where a plugin file lives is not part of the numbers: the same plugin at two paths, same run ids."""
    plugin = (Path(__file__).parent / "plugins" / "score_range_measure.py").read_text()
    plugin = re.sub(r"test_score_range\b", "test_score_range_spec", plugin)
    ids = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "plug.py").write_text(plugin)
        text = (
            '[scenario]\nname = "p"\n[plugins]\nmodules = ["plug.py"]\n[world.alternatives]\ngenerator = "points"\n'
            'X = [[0.0], [1.0]]\n[[world.population.types]]\nshare = 1.0\nreward = "linear"\ntheta = [1.0]\n'
            '[estimators]\nnames = ["borda"]\n[measures]\nnames = ["test_score_range_spec"]\n'
        )
        if folder == "b":
            from choicelab.scenarios import measures

            measures.unregister("test_score_range_spec")  # the second file registers the same name again
        sc = parse_scenario(text, tmp_path / folder / "s.toml")
        ids.append([r.run_id for r in expand(sc)])
        assert expand(sc)[0].plugins == (str((tmp_path / folder / "plug.py").resolve()),)
    from choicelab.scenarios import measures

    measures.unregister("test_score_range_spec")
    assert ids[0] == ids[1]

"""Composed experiments: the clone-sweep built-in, plugins through workers, load-time errors, coupling."""

from __future__ import annotations

import csv
import io
import textwrap
from pathlib import Path

import numpy as np
import pytest

from choicelab import sim
from choicelab.cli import main
from choicelab.scenarios.spec import ScenarioError, load_scenario, parse_scenario

PLUGINS = Path(__file__).parent / "plugins"
RESULT_COLUMNS = [
    "run_id",
    "seed",
    "condition",
    "estimator",
    "measure",
    "item",
    "label",
    "value",
    "stderr",
    "ci_low",
    "ci_high",
]


def _export_rows(db, capsys, *extra):
    capsys.readouterr()
    assert main(["export", "--db", str(db), "--format", "csv", *extra]) == 0
    text = capsys.readouterr().out
    reader = csv.DictReader(io.StringIO(text))
    return reader.fieldnames, list(reader)


@pytest.fixture(scope="module")
def clone_sweep_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("cs") / "cs.sqlite"
    assert main(["run", "clone-sweep", "--db", str(db), "--workers", "1", "--json"]) == 0
    return db


def _clone_sweep_world(seed: int, count: int):
    """The clone-sweep world rebuilt from the sim API alone (independent of the scenario layer)."""
    rng = np.random.default_rng(seed)
    region = sim.Box([0.0, 0.0], [1.0, 1.0])
    alts = sim.uniform_alternatives(region, 8, rng=rng)
    pop = sim.Population(
        [
            sim.AnnotatorType(0.4, sim.ideal_point_reward([0.25, 0.25])),
            sim.AnnotatorType(0.35, sim.ideal_point_reward([0.75, 0.5])),
            sim.AnnotatorType(0.25, sim.ideal_point_reward([0.4, 0.85])),
        ],
        beta=3.0,
    )
    if count:
        alts = sim.add_exact_clones(alts, 0, count)
    return alts, pop


def test_clone_sweep_export_has_every_alternative_per_count(clone_sweep_db, capsys):
    header, rows = _export_rows(clone_sweep_db, capsys)
    assert header == ["run_id", "seed", "world.clones.count"] + RESULT_COLUMNS[2:]
    scores = [r for r in rows if r["measure"] == "scores"]
    per_fit: dict = {}
    for r in scores:
        per_fit.setdefault((r["run_id"], r["estimator"]), []).append(r)
    assert len(per_fit) == 4 * 3 * 3  # counts x seeds x estimators
    for fit in per_fit.values():
        count = int(fit[0]["world.clones.count"])
        assert len(fit) == 8 + count
        items = sorted(int(r["item"]) for r in fit)
        assert items == list(range(8 + count))
        clones = [r for r in fit if int(r["item"]) >= 8]
        assert all(r["label"] == "0 (clone of 0)" for r in clones)


def test_clone_sweep_weighted_mle_invariant_standard_and_borda_move(clone_sweep_db, capsys):
    _, rows = _export_rows(clone_sweep_db, capsys)
    table: dict = {}
    for r in rows:
        if r["measure"] == "scores" and int(r["item"]) < 8:
            table[(r["estimator"], int(r["seed"]), int(r["world.clones.count"]), int(r["item"]))] = float(r["value"])
    for est, invariant in (("weighted_mle", True), ("mle", False), ("borda", False)):
        for seed in range(3):
            base = np.array([table[(est, seed, 0, i)] for i in range(8)])
            for count in (1, 2, 4):
                now = np.array([table[(est, seed, count, i)] for i in range(8)])
                if invariant:
                    np.testing.assert_allclose(now, base, atol=1e-8, rtol=0)
                else:
                    assert np.max(np.abs(now - base)) > 1e-3, (est, seed, count)


def test_clone_sweep_borda_scores_match_an_independent_recomputation(clone_sweep_db, capsys):
    _, rows = _export_rows(clone_sweep_db, capsys)
    for seed, count in ((0, 2), (2, 4)):
        alts, pop = _clone_sweep_world(seed, count)
        expected = pop.preference_matrix(alts.X).sum(axis=1)  # Borda B(i) = sum_j P_ij (self term 1/2)
        got = {
            int(r["item"]): float(r["value"])
            for r in rows
            if r["measure"] == "scores"
            and r["estimator"] == "borda"
            and int(r["seed"]) == seed
            and int(r["world.clones.count"]) == count
        }
        np.testing.assert_allclose([got[i] for i in range(alts.m)], expected, atol=1e-12)


def test_clone_sweep_top_item_collapses_clones_into_their_original(clone_sweep_db, capsys):
    _, rows = _export_rows(clone_sweep_db, capsys)
    scores: dict = {}
    for r in rows:
        if r["measure"] == "scores":
            scores.setdefault((r["run_id"], r["estimator"]), {})[int(r["item"])] = float(r["value"])
    tops = [r for r in rows if r["measure"] == "top_item"]
    assert len(tops) == 36
    for r in tops:
        s = scores[(r["run_id"], r["estimator"])]
        best = max(s, key=lambda i: (s[i], -i))
        original = best if best < 8 else 0  # every clone in clone-sweep copies alternative 0
        assert int(float(r["value"])) == original
        assert r["label"] == str(original)


def test_plugin_estimator_and_measure_run_in_two_workers_report_and_export(tmp_path, capsys):
    scenario = tmp_path / "plug.toml"
    scenario.write_text(
        textwrap.dedent("""
        [scenario]
        name = "plug"
        seeds = 3

        [world.region]
        type = "box"
        lo = [0.0, 0.0]
        hi = [1.0, 1.0]

        [world.alternatives]
        generator = "uniform"
        m = 6

        [world.population]
        beta = 2.0

        [[world.population.types]]
        share = 0.6
        reward = "ideal_point"
        center = [0.2, 0.2]

        [[world.population.types]]
        share = 0.4
        reward = "ideal_point"
        center = [0.9, 0.7]

        [estimators]
        names = ["mle", "test_margin_sum"]

        [measures]
        names = ["scores", "test_score_range"]

        [measures.options.test_score_range]
        scale = 2.0
    """)
    )
    db = tmp_path / "p.sqlite"
    plugins = [
        "--plugin",
        str(PLUGINS / "copeland_margin_estimator.py"),
        "--plugin",
        str(PLUGINS / "score_range_measure.py"),
    ]
    assert main(["run", str(scenario), "--db", str(db), "--workers", "2", "--json", *plugins]) == 0
    _, rows = _export_rows(db, capsys)
    assert {r["seed"] for r in rows} == {"0", "1", "2"}
    for seed in range(3):
        rng = np.random.default_rng(seed)
        region = sim.Box([0.0, 0.0], [1.0, 1.0])
        alts = sim.uniform_alternatives(region, 6, rng=rng)
        pop = sim.Population(
            [
                sim.AnnotatorType(0.6, sim.ideal_point_reward([0.2, 0.2])),
                sim.AnnotatorType(0.4, sim.ideal_point_reward([0.9, 0.7])),
            ],
            beta=2.0,
        )
        margins = (pop.preference_matrix(alts.X) - 0.5).sum(axis=1)
        got = {
            int(r["item"]): float(r["value"])
            for r in rows
            if r["seed"] == str(seed) and r["estimator"] == "test_margin_sum" and r["measure"] == "scores"
        }
        np.testing.assert_allclose([got[i] for i in range(6)], margins, atol=1e-12)
        ranges = [
            float(r["value"])
            for r in rows
            if r["seed"] == str(seed) and r["estimator"] == "test_margin_sum" and r["measure"] == "test_score_range"
        ]
        assert ranges == pytest.approx([2.0 * np.ptp(margins)], abs=1e-12)
    out = tmp_path / "reports"
    assert main(["report", "--db", str(db), "--out", str(out)]) == 0
    md = (out / "plug" / "report.md").read_text().replace("\\_", "_").replace("\\*", "*")
    assert f"--plugin {PLUGINS / 'score_range_measure.py'}" in md  # the Reproduce line names the plugins
    assert "test_margin_sum" in md and "measure test_score_range" in md
    assert "scale * (max score - min score) of the fit." in md  # the plugin's own description, from the store


def _error_of(capsys, argv):
    capsys.readouterr()
    rc = main(argv)
    err = capsys.readouterr().err
    return rc, err


def _write(tmp_path, body: str, name="bad.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


_BASE = """
[scenario]
name = "bad"

[world.region]
type = "box"
lo = [0.0, 0.0]
hi = [1.0, 1.0]

[world.alternatives]
generator = "uniform"
m = 4

[[world.population.types]]
share = 1.0
reward = "ideal_point"
center = [0.5, 0.5]
"""


@pytest.mark.parametrize(
    "tail, key, needle",
    [
        (
            '[estimators]\nnames = ["pl_mle"]\n',
            "estimators.names = 'pl_mle'",
            "cannot use data.kind = 'representative'",
        ),
        (
            '[data]\nkind = "rankings"\nn = 10\n[estimators]\nnames = ["mle"]\n[conditions]\ncoupling = "paired"\n',
            "conditions.coupling = 'paired'",
            "has none to pair",
        ),
        (
            '[estimators]\nnames = ["mle"]\n[estimators.options.mle]\nsteps = 3\n',
            "estimators.options.mle.steps = 3",
            "takes no options",
        ),
        (
            '[estimators]\nnames = ["neural_mle"]\n[estimators.options.neural_mle]\nstep = 3\n',
            "estimators.options.neural_mle.step = 3",
            "did you mean 'steps'",
        ),
        (
            '[estimators]\nnames = ["mle"]\n[measures]\nnames = ["scores"]\n[measures.options.scores]\nx = 1\n',
            "measures.options.scores.x = 1",
            "takes no options",
        ),
        (
            '[estimators]\nnames = ["mle"]\n[measures]\nnames = ["topic_rewards"]\n',
            "measures.names = 'topic_rewards'",
            "named topics",
        ),
        (
            '[estimators]\nnames = ["mle"]\n[measures]\nnames = ["kendall_tau"]\n[measures.options.kendall_tau]\n'
            'reference = "borda"\n',
            "measures.options.kendall_tau.reference = 'borda'",
            "must be one of estimators.names",
        ),
        ('[estimators]\nnames = ["mle"]\nlamda = 1\n', "estimators.lamda = 1", "did you mean 'estimators.lam'"),
        (
            '[estimators]\nnames = ["mle"]\n[measures]\nnames = ["socres"]\n',
            "measures.names = 'socres'",
            "did you mean 'scores'",
        ),
        (
            '[estimators]\nnames = ["mle"]\n[sweep]\n"world.population.types.5.share" = [0.5]\n',
            "sweep.world.population.types.5.share",
            "names no value",
        ),
        (
            '[estimators]\nnames = ["mle"]\n[sweep]\n"world.alternatives.mm" = [3]\n',
            "sweep.world.alternatives.mm",
            "unknown key",
        ),
        (
            '[estimators]\nnames = ["mle"]\n[conditions]\nnames = ["original", "clones"]\n',
            "world.clones",
            "required by condition 'clones'",
        ),
    ],
)
def test_load_errors_name_file_line_key_and_value(tmp_path, capsys, tail, key, needle):
    path = _write(tmp_path, _BASE + tail)
    rc, err = _error_of(capsys, ["run", str(path), "--db", str(tmp_path / "x.sqlite")])
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert f"{path}:" in lines[0] and key in lines[0] and needle in lines[0], lines[0]
    assert not (tmp_path / "x.sqlite").exists()  # refused at load: no store was opened, nothing ran


def test_error_line_points_at_the_offending_key(tmp_path):
    path = _write(
        tmp_path, _BASE + '[estimators]\nnames = ["mle"]\n[world.clones]\ntype = "exact"\nindex = 9\ncount = 1\n'
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    exc = info.value
    assert exc.key == "world.clones.index" and exc.value == 9
    assert path.read_text().splitlines()[exc.line - 1].strip() == "index = 9"
    assert "must be < m = 4" in exc.message


def test_region_tag_typo_suggests_the_right_one(tmp_path):
    text = _BASE.replace('type = "box"', 'type = "boxx"') + '[estimators]\nnames = ["mle"]\n'
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, tmp_path / "s.toml")
    assert info.value.key == "world.region.type" and "did you mean 'box'" in info.value.message
    assert text.splitlines()[info.value.line - 1].strip() == 'type = "boxx"'


def test_missing_required_key_is_named(tmp_path):
    text = _BASE.replace("m = 4\n", "") + '[estimators]\nnames = ["mle"]\n'
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, tmp_path / "s.toml")
    assert info.value.key == "world.alternatives.m" and info.value.message == "is required"


def test_sweep_values_are_validated_at_load(tmp_path):
    text = _BASE + '[estimators]\nnames = ["mle"]\n[sweep]\n"world.alternatives.m" = [3, 0]\n'
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, tmp_path / "s.toml")
    assert info.value.key == "sweep.world.alternatives.m" and info.value.value == 0
    assert "greater than 0" in info.value.message


def test_coupled_comparisons_share_every_slot_among_originals():
    rng = np.random.default_rng(3)
    region = sim.Box([0.0, 0.0], [1.0, 1.0])
    alts = sim.uniform_alternatives(region, 5, rng=rng)
    big = sim.add_approximate_clones(alts, 1, 3, 0.05, rng=rng, region=region)
    pop = sim.Population(
        [
            sim.AnnotatorType(0.5, sim.ideal_point_reward([0.1, 0.1])),
            sim.AnnotatorType(0.5, sim.ideal_point_reward([0.9, 0.9])),
        ]
    )
    orig, clones = sim.sample_coupled_comparisons(pop, [alts.X, big.X], 4000, rng=7)
    shared = (clones.a < 5) & (clones.b < 5)
    assert 0.3 < shared.mean() < 0.5  # C(5,2)/C(8,2) = 10/28 of the slots
    for field in ("a", "b", "winner", "annotator"):
        np.testing.assert_array_equal(getattr(orig, field)[shared], getattr(clones, field)[shared])
    assert orig.a.max() < 5 and orig.b.max() < 5 and np.all(orig.a != orig.b)
    assert np.array_equal(orig.annotator, clones.annotator)  # the type of each slot is shared too


def test_coupled_draw_keeps_each_conditions_marginal():
    """Original's pairs stay uniform over its own pairs, and outcomes follow its preference matrix."""
    from scipy.stats import chisquare

    X_small = np.array([[0.0], [1.0], [2.0]])
    X_big = np.vstack([X_small, [[1.0], [1.5]]])
    pop = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0]))])
    small, _ = sim.sample_coupled_comparisons(pop, [X_small, X_big], 60000, rng=11)
    pairs = np.minimum(small.a, small.b) * 3 + np.maximum(small.a, small.b)
    counts = np.array([np.sum(pairs == k) for k in (1, 2, 5)])
    assert chisquare(counts).pvalue > 1e-4
    P = pop.preference_matrix(X_small)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        sel = ((small.a == i) & (small.b == j)) | ((small.a == j) & (small.b == i))
        rate = np.mean(small.winner[sel] == i)
        se = np.sqrt(P[i, j] * (1 - P[i, j]) / sel.sum())
        assert abs(rate - P[i, j]) < 5 * se


def test_paired_experiment_couples_the_conditions_data(tmp_path):
    from choicelab.scenarios import conditions
    from choicelab.scenarios.experiment import ExperimentSpec, _draw_data

    text = _BASE + (
        '[estimators]\nnames = ["mle", "weighted_mle"]\n[data]\nkind = "comparisons"\nn = 500\n'
        '[conditions]\nnames = ["original", "clones"]\ncoupling = "paired"\n'
        '[world.clones]\ntype = "approximate"\nindex = 0\ncount = 3\neps = 0.01\n'
    )
    sc = parse_scenario(text, tmp_path / "s.toml")
    spec = ExperimentSpec.model_validate(sc.params)
    rng = np.random.default_rng(0)
    world = spec.world.build(rng)
    alts = {c: conditions.get_condition(c).build(world, rng) for c in ("original", "clones")}
    data = _draw_data(spec, world, ["original", "clones"], alts, rng, paired=True)
    shared = (data["clones"].a < 4) & (data["clones"].b < 4)
    assert shared.any() and not shared.all()
    np.testing.assert_array_equal(data["original"].winner[shared], data["clones"].winner[shared])
    np.testing.assert_array_equal(data["original"].a[shared], data["clones"].a[shared])


def test_paired_runs_use_common_weight_samples_and_fit_seeds(tmp_path, capsys):
    """With paired coupling and no clones in either condition, both conditions' fits are identical."""
    text = _BASE + (
        '[estimators]\nnames = ["weighted_mle"]\n[estimators.weights]\nname = "voronoi"\nmethod = "monte_carlo"\n'
        'n_samples = 2000\n[data]\nkind = "comparisons"\nn = 300\n'
        '[conditions]\nnames = ["original", "aa_control"]\ncoupling = "paired"\n'
    )
    path = _write(tmp_path, text, "paired.toml")
    db = tmp_path / "paired.sqlite"
    assert main(["run", str(path), "--db", str(db), "--workers", "1", "--json"]) == 0
    _, rows = _export_rows(db, capsys)
    by_cond: dict = {}
    for r in rows:
        by_cond.setdefault(r["condition"], {})[int(r["item"])] = float(r["value"])
    assert by_cond["original"] == by_cond["aa_control"]


def test_independent_aa_control_differs_from_original(tmp_path, capsys):
    text = _BASE + (
        '[estimators]\nnames = ["mle"]\n[data]\nkind = "comparisons"\nn = 300\n'
        '[conditions]\nnames = ["original", "aa_control"]\ncoupling = "independent"\n'
    )
    path = _write(tmp_path, text, "indep.toml")
    db = tmp_path / "indep.sqlite"
    assert main(["run", str(path), "--db", str(db), "--workers", "1", "--json"]) == 0
    _, rows = _export_rows(db, capsys)
    by_cond: dict = {}
    for r in rows:
        by_cond.setdefault(r["condition"], {})[int(r["item"])] = float(r["value"])
    assert by_cond["original"] != by_cond["aa_control"]


def test_export_refuses_a_schema_one_store(tmp_path, capsys):
    import sqlite3

    db = tmp_path / "old.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.commit()
    con.close()
    rc, err = _error_of(capsys, ["export", "--db", str(db), "--format", "csv"])
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "version 1" in err


def test_plugins_reach_dask_workers(tmp_path, capsys):
    pytest.importorskip("distributed")  # the dask extra is part of `make test`'s install
    text = _BASE + '[estimators]\nnames = ["test_margin_sum"]\n[measures]\nnames = ["test_score_range"]\n'
    path = _write(tmp_path, text, "dask.toml")
    db = tmp_path / "d.sqlite"
    plugins = [
        "--plugin",
        str(PLUGINS / "copeland_margin_estimator.py"),
        "--plugin",
        str(PLUGINS / "score_range_measure.py"),
    ]
    assert main(["run", str(path), "--db", str(db), "--engine", "dask", "--workers", "2", "--json", *plugins]) == 0
    _, rows = _export_rows(db, capsys)
    alts = sim.uniform_alternatives(sim.Box([0.0, 0.0], [1.0, 1.0]), 4, rng=np.random.default_rng(0))
    pop = sim.Population([sim.AnnotatorType(1.0, sim.ideal_point_reward([0.5, 0.5]))])
    margins = (pop.preference_matrix(alts.X) - 0.5).sum(axis=1)
    assert [float(r["value"]) for r in rows] == pytest.approx([np.ptp(margins)], abs=1e-12)


def test_points_world_and_plugin_module_in_the_scenario_file(tmp_path, capsys):
    """[plugins] modules in the file itself (a path relative to the scenario) and inline points."""
    (tmp_path / "myplug.py").write_text(
        (PLUGINS / "score_range_measure.py").read_text().replace("test_score_range", "test_score_range_inline")
    )
    text = textwrap.dedent("""
        [scenario]
        name = "inline"
        [plugins]
        modules = ["myplug.py"]
        [world.alternatives]
        generator = "points"
        X = [[0.0], [1.0], [3.0]]
        labels = ["low", "mid", "high"]
        [[world.population.types]]
        share = 1.0
        reward = "linear"
        theta = [1.0]
        [estimators]
        names = ["borda"]
        [measures]
        names = ["scores", "top_item", "test_score_range_inline"]
    """)
    path = _write(tmp_path, text, "inline.toml")
    db = tmp_path / "i.sqlite"
    assert main(["run", str(path), "--db", str(db), "--workers", "1", "--json"]) == 0
    _, rows = _export_rows(db, capsys)
    P = sim.Population([sim.AnnotatorType(1.0, sim.linear_reward([1.0]))]).preference_matrix([[0.0], [1.0], [3.0]])
    scores = [float(r["value"]) for r in rows if r["measure"] == "scores"]
    np.testing.assert_allclose(scores, P.sum(axis=1), atol=1e-12)
    top = [r for r in rows if r["measure"] == "top_item"][0]
    assert top["label"] == "high" and float(top["value"]) == 2.0
    rng_row = [r for r in rows if r["measure"] == "test_score_range_inline"][0]
    assert float(rng_row["value"]) == pytest.approx(P.sum(axis=1).max() - P.sum(axis=1).min())


def test_a_plugin_reader_brings_a_new_file_format_in(tmp_path, capsys):
    """A reader registered in a plugin file reads a .tsv of comparisons; the suffix picks it."""
    (tmp_path / "tsv_reader.py").write_text(
        textwrap.dedent('''
        import numpy as np
        from choicelab.sim import readers
        from choicelab.sim.data import Comparisons

        @readers.register("tsv_comparisons", produces="comparisons", suffixes=(".tsv",))
        def read_tsv(path, m=None):
            """Tab-separated winner, loser."""
            rows = [line.split("\\t") for line in open(path).read().split("\\n")[1:] if line.strip()]
            w = np.array([int(r[0]) for r in rows]); l = np.array([int(r[1]) for r in rows])
            return Comparisons(w, l, w, np.full(len(w), -1))
        ''')
    )
    (tmp_path / "emb.csv").write_text("label,x\nlow,0.0\nmid,1.0\nhigh,2.0\n")
    (tmp_path / "votes.tsv").write_text("winner\tloser\n2\t1\n2\t0\n1\t0\n2\t1\n1\t0\n0\t2\n")
    path = _write(
        tmp_path,
        textwrap.dedent("""
        [scenario]
        name = "tsv"
        [plugins]
        modules = ["tsv_reader.py"]
        [world.alternatives]
        generator = "file"
        path = "emb.csv"
        [data]
        kind = "files"
        comparisons = "votes.tsv"
        [estimators]
        names = ["mle"]
        lam = 1.0
        [measures]
        names = ["scores", "top_item"]
        """),
        "tsv.toml",
    )
    db = tmp_path / "t.sqlite"
    assert main(["run", str(path), "--db", str(db), "--workers", "1", "--json"]) == 0
    _, rows = _export_rows(db, capsys)
    from choicelab.estimators.bt import bt_mle_comparisons

    comps = sim.Comparisons(
        np.array([2, 2, 1, 2, 1, 0]), np.array([1, 0, 0, 1, 0, 2]), np.array([2, 2, 1, 2, 1, 0]), np.full(6, -1)
    )
    expected = bt_mle_comparisons(comps, 3, lam=1.0).rewards
    got = [float(r["value"]) for r in rows if r["measure"] == "scores"]
    np.testing.assert_allclose(got, expected, atol=1e-10)
    top = [r for r in rows if r["measure"] == "top_item"][0]
    assert top["label"] == "high"

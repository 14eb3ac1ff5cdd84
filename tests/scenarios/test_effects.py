"""Effects of conditions: paired differences with intervals, the A/A control, the stated verdict, rates."""

import csv
import io
import textwrap

import numpy as np
import pytest
from scipy import stats as st

from choicelab.cli import main
from choicelab.scenarios.effects import change_rates, coupling_spread, effects_frame, estimator_verdicts
from choicelab.scenarios.store import Store
from choicelab.stats import equivalence_verdict, joint_verdict

SCENARIO = textwrap.dedent("""
    [scenario]
    name = "fx"
    seeds = 20
    [world.region]
    type = "box"
    lo = [0.0, 0.0]
    hi = [1.0, 1.0]
    # one fixed world: only the data differ between runs, so the clones' effect has one sign
    [world.alternatives]
    generator = "points"
    X = [[0.15, 0.2], [0.3, 0.5], [0.55, 0.35], [0.8, 0.75], [0.6, 0.9]]
    [world.population]
    beta = 3.0
    [[world.population.types]]
    share = 0.6
    reward = "ideal_point"
    center = [0.2, 0.2]
    [[world.population.types]]
    share = 0.4
    reward = "ideal_point"
    center = [0.9, 0.8]
    [world.clones]
    type = "exact"
    index = 0
    count = 2
    [data]
    kind = "comparisons"
    n = 3000
    [conditions]
    names = ["original", "clones", "aa_control"]
    coupling = "{coupling}"
    [estimators]
    names = ["mle", "weighted_mle"]
    lam = 0.5
    [measures]
    names = ["scores", "top_change"]
    [report]
    equivalence_margin = 0.02
""")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    out = {}
    for coupling in ("paired", "independent"):
        folder = tmp_path_factory.mktemp(coupling)
        path = folder / "fx.toml"
        path.write_text(SCENARIO.replace("{coupling}", coupling))
        db = folder / "fx.sqlite"
        assert main(["run", str(path), "--db", str(db), "--workers", "1", "--json"]) == 0
        out[coupling] = db
    return out


def test_effects_are_paired_differences_with_t_intervals_and_the_stated_verdict(stores):
    with Store(stores["paired"]) as store:
        results = store.to_frame("results", "fx")
    fx = effects_frame(results, (), "original", "aa_control", 0.02)
    scores = results[results["measure"] == "scores"]
    piv = scores.pivot_table(index=["run_id", "estimator", "item"], columns="condition", values="value")
    for r in fx[fx["condition"] == "clones"].itertuples():
        sub = piv.xs((r.estimator, r.item), level=["estimator", "item"])
        d = (sub["clones"] - sub["original"]).to_numpy()
        c = (sub["aa_control"] - sub["original"]).to_numpy()
        assert r.value == pytest.approx(d.mean(), abs=1e-12)
        lo, hi = st.t.interval(0.95, d.size - 1, loc=d.mean(), scale=st.sem(d)) if d.std() > 0 else (d.mean(),) * 2
        assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), abs=1e-12)
        assert r.control == pytest.approx(c.mean(), abs=1e-12)
        assert r.verdict == equivalence_verdict(d - c, 0.02)
    assert set(fx["verdict"]) <= {"changed", "unchanged", "inconclusive"}
    assert len(fx) == 2 * 5 and set(fx["condition"]) == {"clones"}  # the control is the reference, not an effect


def test_the_paired_a_a_spread_is_below_the_independent_one(stores):
    spreads = {}
    for coupling, db in stores.items():
        with Store(db) as store:
            results = store.to_frame("results", "fx")
        s = results[(results["measure"] == "scores") & (results["estimator"] == "mle")]
        piv = s.pivot_table(index=["run_id", "item"], columns="condition", values="value")
        spreads[coupling] = float((piv["aa_control"] - piv["original"]).std())
    assert spreads["paired"] < spreads["independent"], spreads


def test_change_rates_have_wilson_intervals_and_a_mcnemar_test(stores):
    with Store(stores["paired"]) as store:
        results = store.to_frame("results", "fx")
    rates = change_rates(results, (), "aa_control")
    by = {(r["condition"], r["estimator"]): r for r in rates if "estimator" in r}
    top = results[results["measure"] == "top_change"]
    for (cond, est), r in by.items():
        v = top[(top["condition"] == cond) & (top["estimator"] == est)]["value"].to_numpy()
        assert (r["changed"], r["runs"]) == (int((v > 0.5).sum()), v.size)
        ref = st.binomtest(r["changed"], r["runs"]).proportion_ci(method="wilson")
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((ref.low, ref.high), abs=1e-12)
    tests = [r for r in rates if "mcnemar" in r and r["condition"] == "clones"]
    assert len(tests) == 1 and tests[0]["mcnemar"] == ("mle", "weighted_mle") and 0 <= tests[0]["pvalue"] <= 1


def test_export_and_report_carry_the_effects(stores, tmp_path, capsys):
    db = stores["paired"]
    capsys.readouterr()
    assert main(["export", "--db", str(db), "--table", "effects", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows and all(r["ci_low"] != "" and r["ci_high"] != "" for r in rows)
    assert all(float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) for r in rows)
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "fx" / "report.md").read_text()
    assert "## Effects of the conditions" in md and "margin δ = 0.02" in md and "Wilson" in md
    assert "McNemar exact p =" in md


def test_estimator_verdicts_follow_the_joint_rule_on_the_items(stores):
    with Store(stores["paired"]) as store:
        results = store.to_frame("results", "fx")
    overall = estimator_verdicts(results, (), "original", "aa_control", 0.02, measures=["scores"])
    piv = results[results["measure"] == "scores"].pivot_table(
        index=["run_id", "estimator", "item"], columns="condition", values="value"
    )
    assert sorted(overall["estimator"]) == ["mle", "weighted_mle"] and set(overall["condition"]) == {"clones"}
    for r in overall.itertuples():
        sub = piv.xs(r.estimator, level="estimator")
        family = [
            (g["clones"] - g["original"] - (g["aa_control"] - g["original"])).dropna().to_numpy()
            for _, g in sub.groupby(level="item")
        ]
        family = [f for f in family if f.size]  # the clones themselves have no baseline value
        assert r.items == len(family) == 5
        assert r.verdict == joint_verdict(family, 0.02)
        assert abs(r.effect) == pytest.approx(max(abs(f.mean()) for f in family), abs=1e-12)
        # the largest item's own D and C, with scipy's t interval for D
        g = sub.xs(r.largest, level="item")
        d, c = (g["clones"] - g["original"]).to_numpy(), (g["aa_control"] - g["original"]).to_numpy()
        assert (r.value, r.control, r.runs) == (
            pytest.approx(d.mean(), abs=1e-12),
            pytest.approx(c.mean(), abs=1e-12),
            20,
        )
        lo, hi = st.t.interval(0.95, d.size - 1, loc=d.mean(), scale=st.sem(d))
        assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi), abs=1e-12)


def test_coupling_spread_reports_the_paired_over_independent_a_a_ratio(tmp_path, capsys):
    text = SCENARIO.replace('coupling = "{coupling}"', 'coupling = "paired"')
    text += '[sweep]\n"conditions.coupling" = ["independent", "paired"]\n'
    path = tmp_path / "fx.toml"
    path.write_text(text)
    db = tmp_path / "fx.sqlite"
    assert main(["run", str(path), "--db", str(db), "--workers", "1", "--json"]) == 0
    with Store(db) as store:
        results = store.to_frame("results", "fx")
    spread = {
        (s["estimator"], s["measure"]): s
        for s in coupling_spread(results, ["conditions.coupling"], measures=["scores"])
    }
    assert set(spread) == {("mle", "scores"), ("weighted_mle", "scores")}
    for (est, _), s in spread.items():
        rms = {}
        for coupling, frame in results[(results["measure"] == "scores") & (results["estimator"] == est)].groupby(
            "conditions.coupling"
        ):
            piv = frame.pivot_table(index=["run_id", "item"], columns="condition", values="value")
            rms[coupling] = float(np.sqrt(((piv["aa_control"] - piv["original"]) ** 2).mean()))
        assert s["rms_paired"] == pytest.approx(rms["paired"], rel=1e-12)
        assert s["rms_independent"] == pytest.approx(rms["independent"], rel=1e-12)
        assert s["ratio"] == pytest.approx(rms["paired"] / rms["independent"], rel=1e-12)
        assert s["ci_low"] <= s["ratio"] <= s["ci_high"] and s["runs"] == (20, 20)
    assert spread[("mle", "scores")]["ratio"] < 1.0  # pairing lowers the noise floor here
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "r")]) == 0
    md = (tmp_path / "r" / "fx" / "report.md").read_text()
    assert "A/A RMS, paired" in md and f"{spread[('mle', 'scores')]['ratio']:.2f} \\[" in md
    assert "| conditions.coupling | condition | estimator | measure | largest effect on |" in md


def test_summary_table_gives_every_value_its_t_interval_over_runs(stores, capsys):
    db = stores["paired"]
    capsys.readouterr()
    assert main(["export", "--db", str(db), "--table", "summary", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    with Store(db) as store:
        results = store.to_frame("results", "fx")
    assert len(rows) == len(results.groupby(["condition", "estimator", "measure", "item"]))
    checked = 0
    for r in rows:
        sub = results[
            (results["condition"] == r["condition"])
            & (results["estimator"] == r["estimator"])
            & (results["measure"] == r["measure"])
            & (results["item"].astype(str) == r["item"])
        ]["value"].to_numpy(dtype=float)
        assert int(r["runs"]) == sub.size == 20
        assert float(r["value"]) == pytest.approx(sub.mean(), abs=1e-12)
        if sub.std() > 0:
            lo, hi = st.t.interval(0.95, sub.size - 1, loc=sub.mean(), scale=st.sem(sub))
            assert (float(r["ci_low"]), float(r["ci_high"])) == pytest.approx((lo, hi), abs=1e-12)
            checked += 1
    assert checked >= 10

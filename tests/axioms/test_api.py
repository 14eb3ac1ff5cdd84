"""check / verify / replay: verdict rules, table cells, determinism, errors, witnesses that replay."""

import json

import numpy as np
import pytest

from choicelab.axioms import api, base
from choicelab.axioms.base import HOLDS, INCONCLUSIVE, VIOLATED, Axiom, Measurement, Verdict

A5_P = [[0.5, 0.51, 0.51], [0.49, 0.5, 0.99], [0.49, 0.01, 0.5]]


def test_check_returns_a_verdict_with_theory_and_agreement():
    v = api.check("A5", "mle", instance=A5_P, rng=0)
    assert isinstance(v, Verdict)
    assert (v.axiom, v.estimator, v.expected, v.measured, v.agrees) == ("A5", "mle", VIOLATED, VIOLATED, True)
    assert v.magnitude > 0 and v.witness["format"] == "choicelab.witness/2"


def test_agreement_is_none_where_theory_is_silent_or_inconclusive():
    v = api.check("A5", "borda", instance=A5_P, rng=0)  # theory silent on Borda and Condorcet
    assert v.expected == "" and v.measured == VIOLATED and v.agrees is None
    cycle = [[0.5, 0.6, 0.4], [0.4, 0.5, 0.6], [0.6, 0.4, 0.5]]
    v = api.check("A5", "mle", instance=cycle, rng=0)  # no Condorcet winner: inconclusive
    assert v.expected == VIOLATED and v.measured == INCONCLUSIVE and v.agrees is None
    assert api._agreement(HOLDS, VIOLATED) is False and api._agreement(HOLDS, HOLDS) is True


def test_check_rejects_unknown_names_and_bad_arguments():
    with pytest.raises(ValueError, match="unknown axiom 'A99'"):
        api.check("A99")
    with pytest.raises(ValueError, match="unknown estimator 'nope'"):
        api.check("A5", "nope")
    with pytest.raises(TypeError, match="quick must be a bool"):
        api.check("A5", "mle", instance=A5_P, quick="yes")
    with pytest.raises(TypeError, match="instance must be"):
        api.check("A5", "mle", instance="matrix")


def test_theory_cells_follow_the_table():
    from choicelab.estimators.registry import list_estimators

    cells = api.theory_cells()
    # the theory cells, plus A1 on every estimator that gives rewards (theory silent there)
    rewards = {e.name for e in list_estimators() if e.kind == "reward"}
    assert set(cells) == set(base.THEORY) | {("A1", e) for e in rewards}
    assert {"neural_mle", "linear_mle", "pl_mle"} <= rewards and ("A1", "borda") not in cells
    assert api.theory_cells(axioms=["A1"], estimators=["mle", "linear_mle", "borda"]) == [
        ("A1", "mle"),
        ("A1", "linear_mle"),
    ]
    assert cells.index(("A1", "mle")) < cells.index(("A2", "mle")) < cells.index(("P4", "mle"))
    sub = api.theory_cells(axioms=["A4"], estimators=["mle", "borda"])
    assert sub == [("A4", "mle")]
    assert api.theory_cells(axioms=["A4"], estimators=["mle", "borda"], silent=True) == [("A4", "mle"), ("A4", "borda")]
    with pytest.raises(ValueError, match="unknown axiom"):
        api.theory_cells(axioms=["Z1"])


def test_verify_subset_agrees_with_theory_and_is_deterministic():
    kwargs = dict(quick=True, rng=4, axioms=["A4", "A5"], estimators=["mle", "copeland"])
    first = api.verify(**kwargs)
    assert [(v.axiom, v.estimator) for v in first] == [
        ("A4", "mle"),
        ("A4", "copeland"),
        ("A5", "mle"),
        ("A5", "copeland"),
    ]
    assert all(v.agrees is True for v in first)
    again = api.verify(**kwargs)
    assert [v.to_dict() for v in first] == [v.to_dict() for v in again]
    # a cell's result does not depend on which other cells run
    alone = api.verify(quick=True, rng=4, axioms=["A5"], estimators=["mle"])
    assert alone[0].to_dict() == first[2].to_dict()


def test_verify_reports_a_crashing_check_without_stopping(monkeypatch):
    def boom(estimator, instance, rng, quick=False):
        raise RuntimeError("kaput")

    monkeypatch.setitem(base._AXIOMS, "A3", Axiom("A3", "Pareto", "", "", boom))
    out = api.verify(quick=True, axioms=["A3", "A5"], estimators=["mle"])
    assert out[0].measured == INCONCLUSIVE and "kaput" in out[0].detail and "RuntimeError" in out[0].data["error"]
    assert out[1].agrees is True


def test_verify_silent_cells():
    out = api.verify(quick=True, axioms=["A5"], estimators=["borda"], silent=True)
    assert len(out) == 1 and out[0].expected == "" and out[0].agrees is None and out[0].measured == VIOLATED


@pytest.mark.parametrize(
    "axiom, estimator, instance",
    [
        ("A5", "mle", A5_P),
        ("A4", "weighted_mle", None),
        ("A2", "borda", None),
        ("A1", "mle", None),
    ],
)
def test_replay_reproduces_the_measurement_from_json(axiom, estimator, instance):
    v = api.check(axiom, estimator, instance=instance, rng=1, quick=True)
    assert v.measured == VIOLATED
    witness = json.loads(json.dumps(v.witness))
    again = api.replay(witness)
    assert isinstance(again, Measurement)
    assert again.measured == VIOLATED and again.magnitude == pytest.approx(v.magnitude, rel=1e-12)
    assert again.witness == witness


def test_replay_rejects_what_is_not_a_witness():
    with pytest.raises(ValueError, match="format"):
        api.replay({"P": [[0.5]]})
    with pytest.raises(ValueError, match="unknown axiom"):
        api.replay({"format": "choicelab.witness/1", "axiom": "Q1", "estimator": "mle", "instance": {}, "seed": 0})


def test_verdict_to_dict_is_json():
    v = api.check("A4", "mle", instance=np.array(A5_P), rng=0)
    json.dumps(v.to_dict(), allow_nan=False)


def test_verify_progress_bar_goes_to_stderr(capsys):
    out = api.verify(quick=True, axioms=["A5"], estimators=["copeland"], progress=True)
    err = capsys.readouterr().err
    assert len(out) == 1 and "verify" in err and "1/1" in err

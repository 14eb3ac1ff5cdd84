"""The core works without torch: neural estimators say which extra to install, in one line."""

import sys

import pytest

from choicelab.cli import main


@pytest.fixture()
def no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError


def test_core_imports_and_fits_without_torch(no_torch):
    from choicelab import sim
    from choicelab.estimators.registry import get_estimator

    inst = sim.Instance.from_matrix([[0.5, 0.7], [0.3, 0.5]])
    assert get_estimator("mle").fit(inst).order.tolist() == [0, 1]
    from choicelab._extras import MissingExtra

    with pytest.raises(MissingExtra, match=r"pip install 'choicelab\[neural\]'"):
        get_estimator("neural_mle").fit(inst)


def test_verify_marks_neural_cells_inconclusive_without_torch(no_torch):
    from choicelab import axioms

    verdicts = axioms.verify(quick=True, estimators=["neural_mle", "mle"], axioms=["A1"])
    by = {v.estimator: v for v in verdicts}
    assert by["neural_mle"].measured == "inconclusive" and "needs the neural extra" in by["neural_mle"].detail
    assert by["mle"].measured == "violated"  # the exact estimators are measured as usual


def test_a_scenario_naming_a_neural_estimator_fails_at_load_in_one_line(no_torch, tmp_path, capsys):
    path = tmp_path / "n.toml"
    path.write_text(
        '[scenario]\nname = "n"\n[world.alternatives]\ngenerator = "points"\nX = [[0.0], [1.0]]\n'
        '[[world.population.types]]\nshare = 1.0\nreward = "linear"\ntheta = [1.0]\n'
        '[estimators]\nnames = ["mle", "neural_mle"]\n'
    )
    capsys.readouterr()
    assert main(["run", str(path), "--db", str(tmp_path / "x.sqlite")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "estimators.names = 'neural_mle': needs the neural extra" in err[0]

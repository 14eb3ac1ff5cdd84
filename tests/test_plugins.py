"""A plugin package found through its entry point: listed, verified, caught where it breaks an axiom."""

import json
import textwrap
from importlib.metadata import EntryPoint

import pytest

from choicelab import plugins
from choicelab.cli import main
from choicelab.estimators.registry import unregister

PLUGIN = textwrap.dedent('''
    """A test plugin package's estimators."""
    import numpy as np

    from choicelab.estimators import register
    from choicelab.estimators.bt import bt_mle


    @register("plugin_copeland", kind="reward")
    def plugin_copeland(P):
        """Copeland score as a reward: majority wins, 1/2 per majority tie."""
        P = np.asarray(P)
        return (P > 0.5).sum(axis=1) + 0.5 * (P == 0.5).sum(axis=1) - 0.5


    def lazy_weighted(P, weights=None, lam=0.1):
        """Claims to be a weighted estimator, but ignores its weights."""
        return bt_mle(P, lam=lam).rewards
''')


@pytest.fixture()
def installed_plugin(tmp_path, monkeypatch):
    pkg = tmp_path / "cl_test_plugin"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "rules.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    real = __import__("importlib.metadata", fromlist=["entry_points"]).entry_points

    def entry_points(group=None, **kw):
        if group == "choicelab.estimators":
            return [EntryPoint(name="rules", value="cl_test_plugin.rules", group=group)]
        return real(group=group, **kw) if group is not None else real(**kw)

    monkeypatch.setattr("importlib.metadata.entry_points", entry_points)
    plugins._reset()
    yield
    import sys

    for name in ("plugin_copeland", "rules.lazy_weighted"):
        unregister(name)
    for module in [m for m in sys.modules if m.startswith("cl_test_plugin")]:
        del sys.modules[module]  # the next test installs the package afresh
    plugins._reset()


def _json_lines(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_an_installed_plugin_appears_in_choicelab_list(installed_plugin, capsys):
    capsys.readouterr()
    assert main(["list", "--json"]) == 0
    listed = {e["name"]: e for e in json.loads(capsys.readouterr().out)["estimators"]}
    assert listed["plugin_copeland"]["kind"] == "reward"
    assert listed["plugin_copeland"]["description"].startswith("Copeland score as a reward")


def test_a_copeland_score_reward_is_measured_consistent_with_a4_and_a5(installed_plugin, capsys):
    capsys.readouterr()
    assert main(["verify", "--quick", "--json", "--estimator", "plugin_copeland"]) == 0
    cells = {v["axiom"]: v for v in _json_lines(capsys)}
    assert set(cells) == {"A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"}
    assert cells["A4"]["measured"] == "holds" and cells["A5"]["measured"] == "holds"
    assert cells["A2"]["measured"] == "violated"  # Copeland is not independent of clones, witness attached
    assert cells["A2"]["witness"]["axiom"] == "A2"


def test_a_weighted_estimator_that_ignores_its_weights_violates_a2_with_a_witness(installed_plugin, capsys):
    from choicelab import axioms

    capsys.readouterr()
    rc = main(["verify", "--quick", "--json", "--estimator", "cl_test_plugin.rules:lazy_weighted", "--axiom", "A2"])
    assert rc == 0  # no theory row states A2 for a plugin: a measured violation contradicts nothing
    (cell,) = _json_lines(capsys)
    assert (cell["axiom"], cell["estimator"], cell["measured"], cell["expected"]) == (
        "A2",
        "rules.lazy_weighted",
        "violated",
        "",
    )
    replayed = axioms.replay(cell["witness"])
    assert replayed.measured == "violated"


def test_a_bad_estimator_reference_is_one_line(installed_plugin, capsys):
    capsys.readouterr()
    assert main(["verify", "--quick", "--estimator", "cl_test_plugin.rules:nothing_here"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing_here" in err[0] and "Traceback" not in err[0]

import subprocess
import sys

import pytest

HEAVY = ("torch", "cvxpy", "matplotlib", "pandas", "scipy", "numpy", "pydantic", "distributed")


@pytest.mark.parametrize(
    "argv, needle",
    [
        ([], "verify"),
        (["run"], "--plugin"),
        (["list"], "--json"),
        (["report"], "--batch"),
        (["export"], "--table"),
        (["verify"], "--quick"),
    ],
)
def test_help_imports_nothing_heavy(argv, needle):
    """`choicelab --help` and each subcommand's help are instant: no torch, cvxpy, matplotlib, numpy ..."""
    code = (
        "import sys, contextlib, io\n"
        "from choicelab.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        f"        main({argv + ['--help']!r})\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, exc.code\n"
        f"assert {needle!r} in out.getvalue(), out.getvalue()\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_lazy_subpackages_resolve():
    import choicelab

    assert choicelab.sim.__name__ == "choicelab.sim"
    assert "bt_mle" in dir(choicelab.estimators)
    from choicelab import scenarios

    assert {"load_scenario", "run_batch", "Store", "ExperimentSpec", "WorldSpec"} <= set(dir(scenarios))
    assert scenarios.ExperimentSpec.__name__ == "ExperimentSpec"


def test_bad_options_exit_2_with_one_line(capsys):
    from choicelab.cli import main

    for argv, needle in (
        (["run", "psz-borda", "--workers", "abc"], "invalid int value: 'abc'"),
        (["run", "psz-borda", "--engine", "spark"], "invalid choice: 'spark'"),
        (["run"], "the following arguments are required: NAME_OR_FILE"),
        (["export", "--format", "xml"], "invalid choice: 'xml'"),
        (["report", "--nope"], "unrecognized arguments: --nope"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.count("\n") == 1 and needle in err, (argv, err)
        assert err.startswith("choicelab")


def test_explain_prints_an_axioms_statement_and_its_theory_row(capsys):
    from choicelab.axioms.base import THEORY
    from choicelab.cli import main

    capsys.readouterr()
    assert main(["explain", "A5"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("A5: Condorcet consistency")
    for (aid, est), verdict in THEORY.items():
        if aid == "A5":
            assert f"  {est:<20} {verdict}" in out
    assert main(["explain", "neural_mle"]) == 0
    out = capsys.readouterr().out
    assert "extra neural" in out and "steps = 500" in out  # its declared options, with defaults
    assert main(["explain", "wighted_mle"]) == 2
    assert "did you mean 'weighted_mle'?" in capsys.readouterr().err

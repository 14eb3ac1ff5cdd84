import subprocess
import sys


def test_help_imports_neither_torch_nor_cvxpy():
    code = (
        "import sys, contextlib, io\n"
        "from choicelab.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'verify' in out.getvalue()\n"
        "print(sorted(m for m in ('torch', 'cvxpy', 'matplotlib') if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"


def test_lazy_subpackages_resolve():
    import choicelab

    assert choicelab.sim.__name__ == "choicelab.sim"
    assert "bt_mle" in dir(choicelab.estimators)


def test_bad_options_exit_2_with_one_line(capsys):
    import pytest

    from choicelab.cli import main

    for argv, needle in ((["run", "psz-borda", "--workers", "abc"], "invalid int value: 'abc'"),
                         (["run", "psz-borda", "--engine", "spark"], "invalid choice: 'spark'"),
                         (["report", "--nope"], "unrecognized arguments: --nope"),
                         (["frobnicate"], "invalid choice: 'frobnicate'")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.count("\n") == 1 and needle in err, (argv, err)
        assert err.startswith("choicelab")

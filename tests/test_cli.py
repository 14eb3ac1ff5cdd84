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

"""The README's example runs and prints what the README shows."""

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_prints_what_the_readme_shows(tmp_path):
    text = README.read_text()
    section = text[text.index("## An example") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    script = tmp_path / "example.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout == shown
    rows = [line.split() for line in shown.strip().splitlines()[1:]]
    assert any(r[1] != r[3] for r in rows)  # the standard MLE moves ...
    assert all(r[4] == r[6] for r in rows)  # ... the weighted MLE does not

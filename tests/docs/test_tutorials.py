"""Every tutorial page's code runs, in page order, in a fresh directory (``make docs``, ``make test``).

What a page under ``docs/tutorials/`` may hold, and what happens to it here:

- a ```` ```python ```` block runs in one namespace per page (later blocks see earlier names);
- a ```` ```bash ```` block runs with ``bash -euo pipefail``, the interpreter's ``bin`` folder
  first on ``PATH`` (so ``choicelab`` is this checkout's command);
- a ```` ```{code-block} LANG ```` block with ``:caption: FILE`` is written to ``FILE`` (the reader
  saves it under that name) before the next block runs;
- ```` ```console ````, ```` ```text ```` and ```` ```toml ```` blocks without a caption are
  illustrations and do not run.

A page's blocks share one working directory, so a page reads what its earlier blocks wrote.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).resolve().parents[2] / "docs" / "tutorials"
PAGES = sorted(p for p in TUTORIALS.glob("*.md") if p.name != "index.md")
BUDGET_S = 120  # a tutorial is meant to take well under a minute on two cores; this catches runaways

_FENCE = re.compile(r"^(?P<fence>`{3,})(?P<info>[^`]*)$")


@dataclass
class Block:
    kind: str  # "python", "bash" or "file"
    text: str
    line: int
    name: str = ""


def blocks(page: Path) -> list[Block]:
    """The runnable blocks of a MyST page, in order (see the module docstring)."""
    out, lines, i = [], page.read_text().splitlines(), 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, info, start = opening["fence"], opening["info"].strip(), i + 1
        body = []
        i += 1
        while i < len(lines) and lines[i].rstrip() != fence:
            body.append(lines[i])
            i += 1
        i += 1
        options = {}
        if info.startswith("{"):
            while body and body[0].startswith(":"):
                key, _, value = body.pop(0)[1:].partition(":")
                options[key.strip()] = value.strip()
            if body and not body[0].strip():
                body.pop(0)
        text = "\n".join(body) + "\n"
        if info.startswith("{code-block}") and "caption" in options:
            out.append(Block("file", text, start, options["caption"]))
        elif info == "python":
            out.append(Block("python", text, start))
        elif info == "bash":
            out.append(Block("bash", text, start))
    return out


def test_the_pages_have_code():
    assert [p.stem for p in PAGES] == sorted(["reproduce", "own-experiment", "own-data", "own-estimator", "dask"]), (
        "a new tutorial page? add it to docs/tutorials/index.md and to this list"
    )
    for page in PAGES:
        kinds = {b.kind for b in blocks(page)}
        assert "python" in kinds or "bash" in kinds, page.name


def test_the_fence_parser():
    page = "\n".join(
        [
            "text",
            "```python",
            "x = 1",
            "```",
            "```{code-block} toml",
            ":caption: a.toml",
            "",
            "[scenario]",
            "```",
            "```console",
            "$ not run",
            "```",
            "````bash",
            "echo '```'",
            "````",
        ]
    )
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"choicelab-fence-{os.getpid()}.md"
    path.write_text(page)
    try:
        found = [(b.kind, b.name, b.text) for b in blocks(path)]
    finally:
        path.unlink()
    assert found == [("python", "", "x = 1\n"), ("file", "a.toml", "[scenario]\n"), ("bash", "", "echo '```'\n")]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_tutorial_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a page's own modules (my_rules.py) import from here
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.setdefault("MPLBACKEND", "Agg")
    namespace: dict = {"__name__": "__tutorial__"}
    started = time.perf_counter()
    for block in blocks(page):
        where = f"{page.relative_to(TUTORIALS.parents[1])}:{block.line}"
        if block.kind == "file":
            target = tmp_path / block.name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(block.text)
        elif block.kind == "python":
            code = "\n" * block.line + block.text  # tracebacks then give the page's own line numbers
            exec(compile(code, str(page), "exec"), namespace)  # noqa: S102 - the page's own code
        else:
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", block.text],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=BUDGET_S,
            )
            assert done.returncode == 0, f"{where}: exit status {done.returncode}\n{done.stdout}\n{done.stderr}"
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET_S, f"{page.name} took {elapsed:.0f} s"

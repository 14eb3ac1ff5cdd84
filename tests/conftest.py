"""Fixtures shared across the test folders."""

from __future__ import annotations

import os
import re

# Two test workers share two cores: one BLAS / OpenMP / torch thread each (as the scenario runner
# gives its workers), set before numpy or torch load. Tiny networks slow down many-fold otherwise.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest


def _builtin_text(name: str, **replace) -> str:
    """A built-in scenario's TOML with some `key = value` lines replaced (first occurrence each)."""
    from choicelab.scenarios.spec import builtin_path

    text = builtin_path(name).read_text()
    for key, value in replace.items():
        text, n = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", text, count=1)
        assert n == 1, key
    return text


@pytest.fixture(scope="session")
def builtin_text():
    """``builtin_text(name, key=value, ...)``: a built-in scenario's TOML with lines replaced."""
    return _builtin_text


# The plugin files are test data, imported by the tests under their own module names (as a user's
# --plugin would be): collecting them as modules too would register their entries twice.
collect_ignore_glob = ["scenarios/plugins/*.py"]

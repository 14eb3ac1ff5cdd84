"""Sphinx configuration of the choicelab documentation (``make docs``).

Everything is built from the repository, offline: Markdown pages (MyST), the API reference from
the numpy-style docstrings (autodoc + napoleon), pages generated from the code at every build
(``_ext/generate.py``: the theory table, the scenario file reference, the registries and one
page per built-in scenario), and mathematics rendered by a MathJax copy that ships with the
``sphinx-mathjax-offline`` package and is copied into ``_build/html/_static/mathjax``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

import generate  # noqa: E402  (docs/_ext/generate.py)

import choicelab  # noqa: E402

generate.write_all(HERE)

project = "choicelab"
author = "the choicelab authors"
copyright = "the choicelab authors"
release = version = choicelab.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # sets mathjax_path to the bundled copy; nothing is fetched
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "_ext", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# --- MyST -----------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# --- HTML -----------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"choicelab {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "description": "Social choice theory, checked numerically, for reward learning from comparisons",
    "fixed_sidebar": True,
    "page_width": "1180px",
    "sidebar_width": "240px",
    "body_max_width": "none",
    "show_powered_by": False,
}
html_show_sourcelink = False
html_show_sphinx = False
# MathJax from _static/mathjax (sphinx-mathjax-offline); no menu, so no component is ever fetched
# on demand (the speech/explorer extensions would otherwise be loadable from the menu).
mathjax3_config = {"options": {"enableMenu": False}}

# --- autodoc / napoleon ---------------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "none"  # the numpy docstrings state the types
autodoc_class_signature = "separated"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # Attributes sections as fields: no duplicate entries beside autodoc's
napoleon_use_rtype = False

# --- doctest --------------------------------------------------------------------------------
# Only the pages' own {doctest} blocks run here; the docstrings' examples run in `make test`
# (pytest --doctest-modules), where the modules' globals are in scope.
doctest_test_doctest_blocks = ""
doctest_global_setup = "import numpy as np"

# --- docstrings that are not valid reStructuredText yet -------------------------------------
# (documented object, start of the docutils message): logged as information, not as a warning.
# Only these exact pairs; any other problem in any docstring or page fails the build. See
# _ext/docstring_issues.py; the build log lists each match with its file and line.
extensions.append("docstring_issues")
known_docstring_issues = []  # every docstring is valid reStructuredText now



# --- "contract A1" in a docstring links to the contract's item ------------------------------
import re as _re  # noqa: E402

_CONTRACT_ID = _re.compile(r"(?<![`\w])contract (?:(?P<id>[ATPX][0-9])\b|Eq\. (?P<eq>[12])\b)")


def _link_contract(app, what, name, obj, options, lines):
    """Rewrite 'contract A1' / 'contract Eq. 2' in docstrings as references to the contract page."""
    for k, line in enumerate(lines):
        if "contract " not in line or "``" in line:
            continue

        def ref(m):
            if m.group("id"):
                return f":ref:`contract {m.group('id')} <{m.group('id').lower()}>`"
            return f":ref:`contract Eq. {m.group('eq')} <eq-{m.group('eq')}>`"

        lines[k] = _CONTRACT_ID.sub(ref, line)


def setup(app):
    app.connect("autodoc-process-docstring", _link_contract)

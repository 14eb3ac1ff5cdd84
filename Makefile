# The two commands: `make demo` and `make test`. Both build .venv from nothing when it is missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser demo test docs bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,dask,neural,docs]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium renders reports in the browser test; installed once when missing (as root).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the report browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(VENV)/bin/choicelab run psz-case-study --db demo.sqlite
	$(VENV)/bin/choicelab report --db demo.sqlite --batch psz-case-study --out reports
	@echo "open reports/psz-case-study/index.html"

# lint and format check (ruff, configured in pyproject.toml), then the tests and the docstrings' examples
test: $(STAMP) browser
	$(VENV)/bin/ruff check choicelab tests benchmarks
	$(VENV)/bin/ruff format --check choicelab tests benchmarks
	$(PY) -m pytest -q -n 2 --timeout 600 --doctest-modules choicelab tests

# The documentation site, offline, warnings as errors: docs/_build/html/index.html. Then the pages'
# {doctest} examples, a check that no page loads anything from the network, and every tutorial's code.
DOCS_OPTS := -W --keep-going -q -d docs/_build/doctrees
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -E $(DOCS_OPTS) -b html docs docs/_build/html
	$(VENV)/bin/sphinx-build $(DOCS_OPTS) -b doctest docs docs/_build/doctest
	$(PY) docs/_ext/check_offline.py docs/_build/html
	$(PY) -m pytest -q -p no:cacheprovider tests/docs
	@echo "open docs/_build/html/index.html"

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

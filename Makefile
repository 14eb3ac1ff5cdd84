# The two commands: `make demo` and `make test`. Both build .venv from nothing when it is missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install browser demo test bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,dask,neural]'
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

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache

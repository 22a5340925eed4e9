# The two commands of the README: `make demo` runs everything, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) manage.py rundemo

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# Needs GNU gettext (apt install gettext) to extract and compile the catalogues.
messages: $(STAMP)
	$(PY) manage.py makemessages -l zh_Hans --ignore=.venv --ignore=tests --ignore=.data --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) .data staticfiles

# Benchmarks (bench/README.md): BENCH_ARGS="--scale small" or "points.expiry --scale full".
.PHONY: bench
bench: $(STAMP)
	$(PY) -m bench $(BENCH_ARGS)

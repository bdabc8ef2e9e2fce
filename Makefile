# Quick start: `make demo` (end-to-end job on bundled data, outputs in out/) and `make test`.
# Both create .venv and install what they need on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# the demo installs only what it runs (no Spark, PyMC or test tools); the tests install `dev`
STAMP  := $(VENV)/.installed-dev
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test test-slow lint docs bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

$(DEMO_STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[demo]'
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(PY) -m clv demo --out out

# test files are spread over TEST_WORKERS processes (pytest-xdist; a file stays on one worker,
# so its module fixtures are built once); TEST_WORKERS=0 runs in this process
TEST_WORKERS ?= 2

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15

test-slow: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile -m slow --durations=15 tests

lint: $(STAMP)
	$(PY) -m ruff check clv tests benchmarks scripts notebooks
	$(PY) -m ruff format --check clv tests benchmarks scripts
	$(VENV)/bin/lint-imports
	$(PY) scripts/mypy_gate.py

# KaTeX for the docs' equations, from the npm package (pinned), copied into the site at
# build time: the built site needs no network. Not committed (docs/_vendor is ignored).
KATEX_VERSION := 0.16.22
KATEX_DIR     := docs/_vendor/katex

$(KATEX_DIR)/katex.min.js:
	rm -rf build/npm && mkdir -p build/npm $(KATEX_DIR)
	npm install --silent --no-save --no-audit --no-fund --prefix build/npm katex@$(KATEX_VERSION)
	cp build/npm/node_modules/katex/dist/katex.min.css $(KATEX_DIR)/
	cp -r build/npm/node_modules/katex/dist/fonts $(KATEX_DIR)/
	cp build/npm/node_modules/katex/dist/katex.min.js $(KATEX_DIR)/

docs: $(STAMP) $(KATEX_DIR)/katex.min.js
	$(VENV)/bin/mkdocs build --strict --site-dir site

bench: $(STAMP)
	for f in benchmarks/bench_*.py; do $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) out site .pytest_cache docs/_vendor build/npm

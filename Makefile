# shopsense: `make demo` and `make test` are the two commands a new machine needs.
# Both create .venv when missing and install everything; re-running is fast because the
# install is redone only when pyproject.toml changes (a stamp file records it).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# torch comes first, pinned: 2.13.0 is a local CPU wheel here; an unpinned torch would
# pull a multi-GB CUDA build.
TORCH_VERSION := 2.13.0
DATASETS ?= ../shared/datasets

.PHONY: help install demo test check format bench clean browser screenshots

help:
	@echo "make demo   - set up .venv, build the demo shop, train, serve the API on localhost"
	@echo "make test   - set up .venv and run the whole test suite"
	@echo "make check  - ruff and mypy --strict"
	@echo "make bench  - benchmarks (results in benchmarks/results/)"
	@echo "make screenshots - every dashboard page of the demo shop as PNG in docs/images"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "shopsense needs Python >= 3.11, found " + sys.version.split()[0]'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "torch==$(TORCH_VERSION)"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/shopsense demo

# The dashboard's browser tests drive Debian's chromium (headless); install it when
# missing, with a small font that has the Chinese glyphs of the zh interface.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	-$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq \
		chromium fonts-wqy-microhei > /dev/null \
		|| echo "chromium could not be installed: the dashboard's browser tests will be skipped"

browser: $(CHROMIUM)

test: install browser
	$(BIN)/python -m pytest

# Every dashboard page of the demo shop as PNG in docs/images (the README shows them).
screenshots: install browser
	@test -f shopsense-data/shopsense.duckdb || $(BIN)/shopsense demo --no-serve
	$(BIN)/python scripts/screenshots.py --data-dir shopsense-data --out docs/images

check: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/mypy src

format: install
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

bench: install
	$(BIN)/python benchmarks/ingest.py $(DATASETS)/online-retail/online_retail.csv.gz
	$(BIN)/python benchmarks/simulate.py
	$(BIN)/python benchmarks/recommend.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/customers.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/serve.py --datasets $(DATASETS)
	$(BIN)/python benchmarks/analytics.py --work-dir /tmp/shopsense-analytics-bench
	$(BIN)/python benchmarks/experiment_loop.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache shopsense-data

# One entry point per task; CI (.ci/run) calls these same targets.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test lint typecheck bench ci clean docs docs-serve

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: the embedded default bot (HTTP on 127.0.0.1:8080, cron, SQLite). No keys, offline.
run: install
	$(BIN)/agent-runner run examples/run.py

## The test suite (starts its own redis-server when none is listening).
test: install
	scripts/ensure-test-services
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m pip install -q -e '.[bench]'
	command -v wrk >/dev/null || apt-get install -y -q wrk || echo "bench_http.py needs wrk: apt-get install -y wrk"
	$(BIN)/python bench/run_all.py

## The documentation site (MkDocs Material + mkdocstrings), built strictly into site/.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

ci: test lint typecheck

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache site

# make test: builds everything the suite needs from nothing, then lints, type-checks and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test lint venv bench clean upstream-registry demo

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# The real upstream registry of the end-to-end tests (CNCF distribution, Debian package).
upstream-registry:
	@command -v docker-registry >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry; \
	  else \
	    echo "make test needs docker-registry: run 'sudo apt-get install docker-registry' (Debian package)" >&2; exit 1; \
	  fi; }

test: lint upstream-registry
	$(BIN)/python -m pytest

# The README's first command: the plugin in a throw-away Helm home (.demo/), fixture charts
# rendered through --post-renderer harbor-mirror, image references before and after.
demo: venv
	PYTHON=$(BIN)/python sh scripts/demo.sh

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

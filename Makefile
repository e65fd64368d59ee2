# make test: builds everything the suite needs from nothing, then lints, type-checks and tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test lint venv bench clean upstream-registry node-clients demo wheelhouse

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

# The real container clients of the node-mirror tests (tests/e2e/node_runtimes_test.py), as
# command:Debian-package pairs. Each is installed on its own, so a package this machine's
# archive lacks leaves only its own tests skipped, with the reason.
NODE_CLIENTS := skopeo:skopeo podman:podman ctr:containerd
node-clients:
	@missing=""; for pair in $(NODE_CLIENTS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq; \
	  for package in $$missing; do \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$package >/dev/null \
	      || echo "make test: no Debian package $$package here; its node-mirror tests skip" >&2; \
	  done; \
	else \
	  echo "make test: the node-mirror tests skip without$$missing ('sudo apt-get install$$missing')" >&2; \
	fi

# One pytest worker per logical CPU (PYTEST_XDIST_AUTO_NUM_WORKERS=N overrides it); a test file
# stays on one worker, so its module fixtures (a Harbor emulator with setup done, a containerd)
# are made once.
test: lint upstream-registry node-clients
	$(BIN)/python -m pytest -n logical --dist loadfile

# The README's first command: the plugin in a throw-away Helm home (.demo/), fixture charts
# rendered through --post-renderer harbor-mirror, image references before and after.
demo: venv
	PYTHON=$(BIN)/python sh scripts/demo.sh

# Everything the plugin's install hook needs from pip, as wheels, for an offline install
# (README, "Offline install"): the runtime dependencies, this project, and the build backend
# (setuptools, wheel) that pip's build isolation fetches to build the plugin from its source.
# The compiled ruamel.yaml.clib wheel is for this Python version and platform: build it with the
# Python (PYTHON=...) the air-gapped machine runs.
WHEELHOUSE ?= wheelhouse
wheelhouse: venv
	rm -rf $(WHEELHOUSE)
	$(BIN)/python -m pip wheel -q --wheel-dir $(WHEELHOUSE) . setuptools wheel
	@echo "$(WHEELHOUSE): $$(ls $(WHEELHOUSE) | wc -l) wheels; offline install: PIP_NO_INDEX=1 PIP_FIND_LINKS=\"$$(cd $(WHEELHOUSE) && pwd)\" helm plugin install ..."

bench: venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

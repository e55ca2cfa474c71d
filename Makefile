# Workbench: `make up` to use it, `make test` to check it.  `make help` lists the rest.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
PORT   ?= 8888
SCALE  ?= 1.0
# Extra pytest arguments, e.g. `make test PYTEST_ARGS="-k catalog -x"`.
PYTEST_ARGS ?=
# Per-test ceiling so a hung service or browser fails the run instead of eating CI's 90 minutes.
TEST_TIMEOUT ?= 900
# `make bench BENCH_ARGS=` for the full (slow) runs.
BENCH_ARGS ?= --quick

# Exact versions every install uses (pip -c): the set the suite passed with.  `make lock` refreshes it.
LOCK       := constraints.txt
# The resolver `make lock` uses, pinned so a re-lock changes versions, not the file's format.  It lives
# in its own venv so it never appears in (or perturbs) the project's environment.
UV_VERSION ?= 0.13.9
LOCK_TOOLS := $(VENV)/.lock-tools
UV         := $(LOCK_TOOLS)/bin/uv
# Installs are keyed on the content of pyproject.toml and the lock: a second run with the same files
# is a no-op, and a changed lock reinstalls.
DEPS_KEY   := $(shell cat pyproject.toml $(LOCK) 2>/dev/null | sha256sum | cut -c1-16)
STAMPS     := $(VENV)/.workbench-stamps
APP_STAMP  := $(STAMPS)/all-$(DEPS_KEY)
TEST_STAMP := $(STAMPS)/all-test-$(DEPS_KEY)
NOTEBOOKS  := $(wildcard notebooks)

.PHONY: help up install install-test services seed bench test test-unit test-ui lock lock-resolve lock-age clean distclean

help:
	@echo "make up        create .venv, install, build the demo warehouse if missing, start JupyterLab"
	@echo "make test      install test extras, prepare services, run every test and notebook"
	@echo "make install   install the project and its extras into $(VENV)"
	@echo "make seed      (re)build the demo warehouse (SCALE=$(SCALE))"
	@echo "make bench     run every benchmark (BENCH_ARGS=$(BENCH_ARGS))"
	@echo "make services  prepare PostgreSQL, RabbitMQ, Redis and chromium for the tests"
	@echo "make lock      re-resolve $(LOCK) to the newest allowed versions, then run make test"
	@echo "               (make lock-resolve: only re-resolve)"
	@echo "make clean     remove caches and install stamps; make distclean also .venv and .workbench"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(APP_STAMP): | $(PY)
	$(PIP) install --quiet --editable '.[all]' --constraint $(LOCK)
	mkdir -p $(STAMPS) && touch $@

$(TEST_STAMP): | $(PY)
	$(PIP) install --quiet --editable '.[all,test]' --constraint $(LOCK)
	mkdir -p $(STAMPS) && touch $@ $(APP_STAMP)

install: $(APP_STAMP)

install-test: $(TEST_STAMP)

up: install
	$(PY) -m workbench.up --port $(PORT) --scale $(SCALE)

seed: install
	$(VENV)/bin/workbench seed --scale $(SCALE)

services:
	bash scripts/prepare_services.sh

# One pytest run over the unit, spark, services and ui tests and the notebooks, so the summary
# line counts everything.  Exit 5 (nothing collected) is a failure, never a silent pass.
test: install-test services lock-age
	@echo "make test: pytest tests/, then the notebooks on a small demo warehouse"
	@set +e; \
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/pytest tests/ \
	  --timeout=$(TEST_TIMEOUT) -p no:cacheprovider $(PYTEST_ARGS); \
	rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; that is a failure" >&2; rc=1; fi; \
	if [ -n "$(NOTEBOOKS)" ]; then \
	  wh=$$($(PY) tests/notebooks/prepare.py) || exit 1; \
	  PATH="$(abspath $(VENV))/bin:$$PATH" WORKBENCH_WAREHOUSE="$$wh" $(VENV)/bin/pytest \
	    --nbval-lax $(NOTEBOOKS) --timeout=$(TEST_TIMEOUT) -p no:cacheprovider; \
	  nrc=$$?; [ $$rc -eq 0 ] && rc=$$nrc; \
	fi; \
	exit $$rc

test-unit: install-test
	$(VENV)/bin/pytest tests/ -m "not spark and not services and not ui" -p no:cacheprovider $(PYTEST_ARGS)

test-ui: install-test services
	$(VENV)/bin/pytest tests/ui tests/apps -p no:cacheprovider $(PYTEST_ARGS)

# A warning, never a failure: an old lock still reproduces, it only misses upstream fixes.
lock-age: | $(PY)
	@$(PY) scripts/check_lock_age.py $(LOCK)

$(UV): | $(PY)
	$(PY) -m venv $(LOCK_TOOLS)
	$(LOCK_TOOLS)/bin/python -m pip install --quiet 'uv==$(UV_VERSION)'

# Re-resolve every package the [all,test] install pulls in, newest first (--upgrade), for the venv's
# Python, then prove the new set with the full suite.  nlq is left out: it needs torch, which is
# installed from a file on disk, not from the index.  The old lock is kept until the new one resolves.
lock: lock-resolve
	$(MAKE) test

lock-resolve: $(UV)
	@set -e; \
	{ echo "# Exact pins for \`pip install -e '.[all,test]' -c $(LOCK)\`: what make up, make test and CI install."; \
	  echo "# Locked: $$(date -u +%Y-%m-%d)"; \
	  echo "# Made by \`make lock\`: uv $(UV_VERSION) \`uv pip compile pyproject.toml --extra all --extra test"; \
	  echo "#   --upgrade\` for $$($(PY) -c 'import platform; print(platform.python_implementation(), platform.python_version(), platform.system(), platform.machine())')."; \
	  echo "# Not included: the nlq extra (it needs torch==2.13.0, installed from a file on disk) and torch."; \
	  echo "# Packages another platform needs and this one does not (e.g. pywin32) are absent, so pip"; \
	  echo "# resolves them freely there.  Edit pyproject.toml, not this file; then run \`make lock\`."; \
	  echo "#"; \
	  $(UV) pip compile pyproject.toml --extra all --extra test --upgrade --python $(PY) \
	    --no-header --quiet --no-progress; \
	} > $(LOCK).new || { rm -f $(LOCK).new; echo "make lock: resolution failed; $(LOCK) unchanged" >&2; exit 1; }
	mv $(LOCK).new $(LOCK)
	@echo "make lock: wrote $(LOCK) ($$(grep -c '^[^#]*==' $(LOCK)) pins)"

bench: install
	@set -e; for script in benchmarks/[!_]*.py; do \
	  echo "== $$script $(BENCH_ARGS)"; $(PY) $$script $(BENCH_ARGS); \
	done

clean:
	rm -rf $(STAMPS) .pytest_cache build dist *.egg-info .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .workbench

# Two commands a new machine needs: `make sandbox` and `make test`. Both build .venv first.
# python3.11, else python3 when it is 3.11 to 3.13 (Azure Functions runs all three).
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || { python3 -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' >/dev/null 2>&1 && echo python3 || echo python3.11; })
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: sandbox test lint scan venv azurite clean bench campaign

venv: $(STAMP)

$(STAMP): requirements.txt requirements-console.txt requirements-dev.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

sandbox: $(STAMP)
	$(BIN)/autoattach sandbox --least-privilege

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/actionlint

# Static security scan of infra/ with checkov, offline. checkov pins a pycep-parser that conflicts with the dev
# requirements, so it lives in its own virtual environment (requirements-scan.txt), kept inside .venv so that git,
# ruff and `make clean` treat it like the main one.
SCAN_VENV := $(VENV)/scan
SCAN_STAMP := $(SCAN_VENV)/.installed

$(SCAN_STAMP): requirements-scan.txt
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "needs $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 1; }
	$(PYTHON) -m venv $(SCAN_VENV)
	$(SCAN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SCAN_VENV)/bin/python -m pip install --quiet -r requirements-scan.txt
	touch $(SCAN_STAMP)

scan: $(SCAN_STAMP)
	$(SCAN_VENV)/bin/python tests/infra/scan.py

# Azurite, Microsoft's storage emulator, for the Blob double's and the ledger adapter's tests (run
# against both): the version pinned by tests/azurite/package-lock.json, installed with `npm ci` into
# .venv/azurite. Node and npm come from Debian's packages where missing (root, or sudo).
AZURITE_DIR := $(VENV)/azurite
AZURITE_STAMP := $(AZURITE_DIR)/.installed
AS_ROOT := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(AZURITE_STAMP): tests/azurite/package.json tests/azurite/package-lock.json
	@command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || { \
		echo "installing node and npm from Debian's packages"; \
		$(AS_ROOT) apt-get update -q && $(AS_ROOT) apt-get install -y -q nodejs npm; }
	mkdir -p $(AZURITE_DIR)
	cp tests/azurite/package.json tests/azurite/package-lock.json $(AZURITE_DIR)/
	npm ci --prefix $(AZURITE_DIR) --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(AZURITE_STAMP)

azurite: $(AZURITE_STAMP)

test: lint scan azurite
	$(BIN)/pytest

# Figures, not pass/fail: issue 9's table (goal beside measured, the sequential manual script beside
# autoattach on the same throttled ARM double) and benchmarks/results/ (JSON, PNG plots).
# See benchmarks/README.md.
bench: $(STAMP)
	$(BIN)/python -m benchmarks.bench

# Figures, not a unit test: a seeded, randomized campaign of 10,000 events over the sandbox (changes,
# duplicate and lost deliveries, ARM faults, worker crashes), with its invariants checked after each
# scenario's sweep; ARM authorizes every request against exactly what infra/ grants autoattach.
# Replay a violation with `$(BIN)/python -m campaign --least-privilege --seed S --events N`.
campaign: $(STAMP)
	$(BIN)/python -m campaign --events 10000 --least-privilege

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

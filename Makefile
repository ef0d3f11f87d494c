# powchain: `make run` starts a local 3-node devnet, `make test` runs lint and every test.
# Both create .venv and install the project with its test extras when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint unit functional bench soak clean fmt browser

$(STAMP): pyproject.toml setup.py src/powchain/node/_powkernel.c src/powchain/node/_powkernel_simd.h src/powchain/node/_powkernel_shani.h
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/powchain devnet --nodes 3 --traffic

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy --strict src/powchain/core src/powchain/consensus src/powchain/policy src/powchain/stratum

test: lint browser
	$(BIN)/python -m pytest -m "not soak" -q

# Debian's Chromium for the explorer's browser tests (Playwright drives /usr/bin/chromium).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	test -x /usr/bin/chromium || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit tests/integration -q

functional: $(STAMP)
	$(BIN)/python -m pytest tests/functional -q

# Benchmarks B1-B10 (issue 4): one table of ratios against bounds measured in the same run,
# JSON in test-output/bench.json. Not part of `make test` (a smoke run of it is).
bench: $(STAMP)
	$(BIN)/python -m bench

soak: $(STAMP)
	command -v ip >/dev/null || (apt-get update -q && apt-get install -y -q iproute2) || true
	rm -f /tmp/powchain-soak-report.jsonl
	status=0; $(BIN)/python -m pytest -m soak -q -s || status=$$?; \
	$(BIN)/python -m tests.soak.report; exit $$status

fmt: $(STAMP)
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache .mypy_cache .ruff_cache

# compplan: `make run` optimises the bundled default case; `make test` runs the suite.
# Both create .venv and install the pinned dependencies (requirements.lock) first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= plan

.PHONY: run test lint conformance clean

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "compplan needs Python 3.11 or newer (PYTHON=$(PYTHON))")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/compplan optimise --out $(OUT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check common models optimizer cli tests
	$(BIN)/mypy common models optimizer cli

conformance: $(STAMP)
	$(BIN)/python ../shared/tools/conformance.py --compplan $(BIN)/compplan

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache *.egg-info

# Scale benchmark (docs/benchmarks.md): generated cases are cached in bench/.cache/.
# Monte Carlo: $(BIN)/python bench/run.py --sizes 1000,10000 --montecarlo 500 --markdown
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python bench/run.py --sizes 1000,10000,100000 --markdown

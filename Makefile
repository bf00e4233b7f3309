# compplan: `make run` optimises the bundled default case; `make test` runs the suite.
# Both create .venv and install the pinned dependencies (requirements.lock) first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= plan

.PHONY: run test lint conformance clean browser

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "compplan needs Python 3.11 or newer (PYTHON=$(PYTHON))")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/compplan optimise --out $(OUT)

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The browser test of the HTML report (tests/test_report_browser.py) needs Chromium:
# installed here when missing, as root with apt-get; otherwise the test is skipped, and
# this step says why. It never fails the build.
APT_CHROMIUM := DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
browser:
	@if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "note: chromium is not installed and installing it needs root; the browser test of the report will be skipped (as root: apt-get update && apt-get install -y chromium)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: chromium is not installed and there is no apt-get here; the browser test of the report will be skipped"; \
	else \
	  echo "installing chromium for the browser test of the report (apt-get)"; \
	  $(APT_CHROMIUM) >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && $(APT_CHROMIUM) >/dev/null 2>&1; } \
	    || echo "note: apt-get could not install chromium; the browser test of the report will be skipped"; \
	fi

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

# compplan: `make run` optimises the bundled default case; `make test` runs the suite.
# Both create .venv and install the pinned dependencies (requirements.lock) first.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= out/plan
# The project's shared folder (spec/MODEL.md and tools/conformance.py), beside this clone.
CONTRACT ?= ../shared
PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

.PHONY: run test lint conformance clean browser spreadsheet postgres

$(STAMP): pyproject.toml requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "compplan needs Python 3.11 or newer (PYTHON=$(PYTHON))")'
	@echo "setting up $(VENV): a Python environment with the pinned dependencies (once, a few minutes)"
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --upgrade pip
	@# The build backend warns on every editable install (and about data folders such as
	@# cases/*/ that look like packages): notes for packagers, not for a user of make run.
	@PYTHONWARNINGS=ignore $(PIP) install -c requirements.lock -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@echo "compplan optimise --out $(OUT)   (the bundled default case, cases/enterprise_first)"
	@$(BIN)/compplan optimise --out $(OUT)

test: $(STAMP) browser spreadsheet postgres
	$(BIN)/python -m pytest -q

# Debian packages some tests need, installed by tools/need.sh when missing (as root with
# apt-get); otherwise those tests are skipped, and the step says why. None fails the build.
# The browser tests of the HTML report and of the studio (tests/test_report_browser.py,
# tests/test_studio_browser.py) drive Chromium.
browser:
	@$(SHELL) tools/need.sh chromium 'command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]' \
	  chromium "the browser tests of the report and the studio"

# The workbook test (tests/test_workbook_live.py) recalculates the exported workbook with
# LibreOffice headless.
spreadsheet:
	@$(SHELL) tools/need.sh LibreOffice 'command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1' \
	  "--no-install-recommends libreoffice-calc-nogui" "the workbook's recalculation test"

# The database tests of cases from transactions (tests/test_sources_sql.py) start a real
# PostgreSQL server of their own (a temporary folder and socket, as the user nobody).
postgres:
	@$(SHELL) tools/need.sh PostgreSQL 'ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1' \
	  "--no-install-recommends postgresql" "the database tests"

lint: $(STAMP)
	$(BIN)/ruff check common models optimizer render batch cli studio tests bench cases
	$(BIN)/mypy common models optimizer render batch cli studio cases/generate.py cases/generate_ledger.py

# Without the shared folder, the contract's cases copied into tests/data/conformance
# still run (through pytest), and the message says where the checker comes from.
conformance: $(STAMP)
	@if [ -f $(CONTRACT)/tools/conformance.py ]; then \
	  $(BIN)/python $(CONTRACT)/tools/conformance.py --compplan $(BIN)/compplan; \
	else \
	  echo "note: the contract's checker ($(CONTRACT)/tools/conformance.py) is not here: it is in the project's shared folder (spec/MODEL.md and tools/), which sits beside this clone as ../shared in the project's workspace; give its place with 'make conformance CONTRACT=/path/to/shared'. Meanwhile, the contract's cases copied into tests/data/conformance:"; \
	  $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_conformance.py; \
	fi

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache *.egg-info

# Scale benchmark (docs/benchmarks.md): generated cases are cached in bench/.cache/.
# Monte Carlo: $(BIN)/python bench/run.py --sizes 1000,10000 --montecarlo 500 --markdown
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python bench/run.py --sizes 1000,10000,100000 --markdown

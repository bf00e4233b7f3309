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

# The browser tests of the HTML report and of the studio (tests/test_report_browser.py,
# tests/test_studio_browser.py) need Chromium:
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
	  log=$$(mktemp); \
	  $(APT_CHROMIUM) >$$log 2>&1 || { apt-get update -q >>$$log 2>&1 && $(APT_CHROMIUM) >>$$log 2>&1; } \
	    || { echo "note: apt-get could not install chromium (its own words below); the browser test of the report will be skipped"; \
	         grep -E '^(E|W|Err):' $$log | awk '!seen[$$0]++' | tail -n 5 | sed 's/^/  apt-get: /'; }; \
	  rm -f $$log; \
	fi

# The workbook test (tests/test_workbook_live.py) recalculates the exported workbook with
# LibreOffice headless: installed here when missing, as root with apt-get; otherwise the
# test is skipped, and this step says why. It never fails the build.
APT_CALC := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libreoffice-calc-nogui
spreadsheet:
	@if command -v soffice >/dev/null 2>&1 || command -v libreoffice >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "note: LibreOffice is not installed and installing it needs root; the workbook's recalculation test will be skipped (as root: apt-get update && apt-get install -y libreoffice-calc-nogui)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: LibreOffice is not installed and there is no apt-get here; the workbook's recalculation test will be skipped"; \
	else \
	  echo "installing LibreOffice Calc for the workbook's recalculation test (apt-get)"; \
	  log=$$(mktemp); \
	  $(APT_CALC) >$$log 2>&1 || { apt-get update -q >>$$log 2>&1 && $(APT_CALC) >>$$log 2>&1; } \
	    || { echo "note: apt-get could not install LibreOffice (its own words below); the workbook's recalculation test will be skipped"; \
	         grep -E '^(E|W|Err):' $$log | awk '!seen[$$0]++' | tail -n 5 | sed 's/^/  apt-get: /'; }; \
	  rm -f $$log; \
	fi

# The database tests of cases from transactions (tests/test_sources_sql.py) start a real
# PostgreSQL server of their own (a temporary folder and socket, as the user nobody):
# Debian's binaries installed here when missing, as root with apt-get; otherwise those
# tests are skipped, and this step says why. It never fails the build.
APT_POSTGRES := DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "note: PostgreSQL is not installed and installing it needs root; the database tests will be skipped (as root: apt-get update && apt-get install -y postgresql)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "note: PostgreSQL is not installed and there is no apt-get here; the database tests will be skipped"; \
	else \
	  echo "installing PostgreSQL for the database tests (apt-get)"; \
	  $(APT_POSTGRES) >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && $(APT_POSTGRES) >/dev/null 2>&1; } \
	    || echo "note: apt-get could not install PostgreSQL; the database tests will be skipped"; \
	fi

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

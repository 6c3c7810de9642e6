# The two commands a newcomer needs:  make run  and  make test.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
# The demo and the tests key the audit chain with the published development key, unless
# BREACHDASH_AUDIT_KEY (or [audit] key in secrets.toml) is set, which always wins (docs/security.md).
export BREACHDASH_AUDIT_DEV_KEY ?= 1

.PHONY: run test setup chromium bench clean-db help

help:
	@echo "make run    - install, migrate, load the demo if the database is empty, serve on 127.0.0.1:8501"
	@echo "make test   - install test tools and Chromium, run the whole suite"
	@echo "make bench  - print the benchmark table"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "breachdash needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@touch $@

$(DEV_STAMP): requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(RUNTIME_STAMP) $@

setup: $(RUNTIME_STAMP)
	$(BIN)/python -m breachdash setup

# Streamlit's own STREAMLIT_SERVER_PORT / STREAMLIT_SERVER_ADDRESS override .streamlit/config.toml.
run: setup
	$(BIN)/streamlit run app.py

# Browser tests need Debian's Chromium (kaleido uses it for PDF charts too); the emoji font makes
# screenshots show our page icons; DejaVu gives PDFs full Unicode; poppler renders PDFs to PNG in tests.
BROWSER_PACKAGES := chromium fonts-noto-color-emoji fonts-dejavu-core fonts-noto-cjk poppler-utils
chromium:
	@missing=""; for pkg in $(BROWSER_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = "0" ]; then \
		echo "Installing$$missing for the browser tests ..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	elif command -v chromium >/dev/null 2>&1; then \
		echo "note: optional package(s)$$missing missing; screenshots may show empty boxes for emoji"; \
	else \
		echo "error: the browser tests need Chromium (/usr/bin/chromium). Install it with:"; \
		echo "    sudo apt-get install $(BROWSER_PACKAGES)"; \
		exit 1; \
	fi

test: $(DEV_STAMP) chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(DEV_STAMP)
	$(BIN)/python -m breachdash bench $(BENCH_ARGS)

clean-db:
	rm -f data/breachdash.db data/breachdash.db-wal data/breachdash.db-shm

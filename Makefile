# The two commands of the README: `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test services lint bench-products clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock requirements-nodeps.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -r requirements-nodeps.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

run: install
	$(BIN)/alephee db upgrade
	$(BIN)/alephee demo --if-empty
	ALEPHEE_PUBLIC_URL=$${ALEPHEE_PUBLIC_URL:-http://$(HOST):$(PORT)} $(BIN)/alephee serve --host $(HOST) --port $(PORT) --with-worker

services:
	bash scripts/services.sh

# The suite's Python processes (the two pytest workers, every server and CLI a test starts) keep their compiled
# bytecode in .pycache/ (outside the sources, ignored by git) even where the environment sets
# PYTHONDONTWRITEBYTECODE: otherwise each of them compiles the package and the tests again (docs/architecture.md).
test: install services
	bash scripts/browser.sh
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/lint-imports
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/.pycache $(BIN)/pytest -n 2 --dist worksteal $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) alephee.db alephee.db-wal alephee.db-shm var

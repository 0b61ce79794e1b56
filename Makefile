# Cosource: `make demo` runs the app on the embedded default (SQLite, in-process jobs, a seeded demo
# brand); `make test` runs the whole suite (SQLite and PostgreSQL, Redis, a real arq worker).
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp

.PHONY: demo test venv lint format schema migrations services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/cosource demo

services:
	@scripts/services.sh

test: venv services
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy engine api webhooks runtime tests scripts
	$(BIN)/pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy engine api webhooks runtime tests scripts
	$(BIN)/python scripts/import_graph.py

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Regenerate the checked-in SDL after changing the GraphQL layer.
schema: venv
	$(BIN)/cosource export-schema --output schema.graphql

# Generate a migration after changing a model (never edit the database by hand).
migrations: venv
	COSOURCE_DATABASE_URL=sqlite://:memory: $(BIN)/tortoise -c runtime.composition.TORTOISE_ORM makemigrations

bench: venv services
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache .hypothesis cosource.db*

# Cosource: `make demo` runs the app on the embedded default (SQLite, in-process jobs, a seeded demo
# brand); `make test` runs the whole suite (SQLite and PostgreSQL, Redis, a real arq worker).
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed-stamp
TEST_WORKERS ?= 2

.PHONY: demo test venv lint format schema migrations services bench clean assets screenshots

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# Build-time JavaScript tools and vendored browser assets (npm; nothing from Node runs on a server).
NODE_STAMP = node_modules/.package-lock.json
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

# Rebuild api/static/widget.min.js and api/static/graphiql/ (committed) after changing widget/.
assets: $(NODE_STAMP)
	node scripts/build-assets.mjs

# The README's widget (desktop and 375 px) and console (1280 and 768 px) screenshots, taken by the browser tests.
screenshots: venv $(NODE_STAMP)
	COSOURCE_SCREENSHOTS=docs/img COSOURCE_TEST_BACKENDS=sqlite $(BIN)/pytest tests/browser -q -k screenshot

demo: venv
	$(BIN)/cosource demo

services:
	@scripts/services.sh

test: venv services $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy engine api webhooks runtime tests scripts bench
	# Everything but the load and fault tests on $(TEST_WORKERS) workers (browser tests together on
	# one), then those alone: they print latencies and stop services (docs/architecture.md, "Testing").
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not slow"
	$(BIN)/pytest -m slow

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy engine api webhooks runtime tests scripts bench
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

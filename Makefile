# posts-api: `make run` serves the API, `make test` runs the fast tests (`make test-all`: every
# test). Each installs first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# The server's settings (WORKERS, THREADS, the timeouts...) default in config/settings.py;
# given on the command line (`make run WORKERS=4`) they reach it too.
export PORT WORKERS THREADS
export DJANGO_SETTINGS_MODULE ?= config.settings

# The databases `make bench` measures (sqlite, mysql or both).
BENCH_DATABASES ?= sqlite,mysql

# mysqlclient needs system headers, so it is installed only when a MySQL URL is in use
# (or when `make bench` measures MySQL).
USES_MYSQL := $(if $(findstring mysql,$(DATABASE_URL)$(TEST_DATABASE_URL)$(if $(filter bench,$(MAKECMDGOALS)),$(BENCH_DATABASES))),1,)
LOCK := $(if $(USES_MYSQL),requirements/mysql.txt,requirements/test.txt)
STAMP := $(VENV)/.installed-$(notdir $(LOCK))

.PHONY: install mysql-headers run dev migrate static test test-all test-mysql test-all-mysql check format schema lock \
	loadtest bench graphiql-assets clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is required" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Checked first, so a machine without them stops at once with one line, not a pip traceback.
mysql-headers:
	@$(if $(shell pkg-config --exists libmariadb 2>/dev/null || pkg-config --exists mysqlclient 2>/dev/null && echo found),,$(error mysqlclient needs the MariaDB client headers: install libmariadb-dev pkg-config (Debian/Ubuntu; see docs/operations.md, "MySQL / MariaDB")))

$(STAMP): $(LOCK) pyproject.toml | $(if $(USES_MYSQL),mysql-headers) $(BIN)/python
	@$(BIN)/python -m pip --version >/dev/null 2>&1 || $(BIN)/python -m ensurepip --upgrade >/dev/null
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

migrate: install
	$(BIN)/python -m config.serve --migrate-only

## Collect static files (GraphiQL's) into var/static, gzipped beside each, for WhiteNoise.
static: install
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

## Serve on 127.0.0.1:$(PORT) with the production server: config/serve.py checks every
## setting, applies the migrations, says where it listens and with what, and starts granian.
run: static
	$(BIN)/python -m config.serve --migrate

## Django's development server with autoreload.
dev: migrate
	DEBUG=$${DEBUG:-1} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# What only `make test-all` runs (the markers are described in pyproject.toml).
FULL_TIER_ONLY := live or browser or budget or fuzz or slow
MYSQL_TEST_URL := mysql+mysqldb://root@127.0.0.1:3306/posts_api_test?charset=utf8mb4

## The fast tier, about a minute: unit, API and in-process integration tests; what fuzzes
## there (FUZZ_EXAMPLES) fuzzes briefly.
test: install static
	FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),50) $(BIN)/python -m pytest -m "not ($(FULL_TIER_ONLY))" $(PYTEST_ARGS)

## Every test: the fast tier plus servers in subprocesses, the browser, CPU and memory
## budgets, long fuzzing, the load test's and the benchmark's smoke runs (CI runs this).
test-all: install static
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## The same two against MariaDB/MySQL (TEST_DATABASE_URL, default: local root).
test-mysql: export TEST_DATABASE_URL ?= $(MYSQL_TEST_URL)
test-mysql:
	$(MAKE) test TEST_DATABASE_URL="$(TEST_DATABASE_URL)"

test-all-mysql: export TEST_DATABASE_URL ?= $(MYSQL_TEST_URL)
test-all-mysql:
	$(MAKE) test-all TEST_DATABASE_URL="$(TEST_DATABASE_URL)"

check: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Regenerate schema.graphql from the code.
schema: install
	$(BIN)/python -m gql.export > schema.graphql

## Load test: 32 clients for 60 s against a server it starts with `make run` (DATABASE_URL as for run).
loadtest: install
	$(BIN)/python scripts/loadtest.py --start-server $(LOADTEST_ARGS)

## Benchmark: the app served as by `make run`, on SQLite and MariaDB, against a bare Django
## view and a FastAPI app, driven by wrk; report in bench/results/ (BENCH_ARGS: python -m bench --help).
bench: install
	WORKERS=$(WORKERS) THREADS=$(THREADS) $(BIN)/python -m bench --databases $(BENCH_DATABASES) $(BENCH_ARGS)

## Re-resolve the lock files from pyproject.toml (uv comes with the dev lock).
lock:
	$(BIN)/uv pip compile -q pyproject.toml -o requirements/run.txt
	$(BIN)/uv pip compile -q pyproject.toml --extra dev -o requirements/test.txt
	$(BIN)/uv pip compile -q pyproject.toml --extra mysql --extra dev -o requirements/mysql.txt

## Re-download the pinned GraphiQL assets from the npm registry, verified, into
## gql/static/graphiql/ with their MANIFEST.json (needs npm; not run by CI).
graphiql-assets:
	$(PYTHON) scripts/graphiql_assets.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

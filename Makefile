# Kefu — two commands: `make run` starts the demo shop, `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck test-sqlite test-postgres i18n clean

$(STAMP): pyproject.toml
	@test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## Start Kefu with the demo shop on SQLite at http://127.0.0.1:8000/
run: $(STAMP)
	$(BIN)/kefu serve --demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test-sqlite: $(STAMP)
	KEFU_TEST_DB=sqlite $(BIN)/pytest -q -p no:cacheprovider

test-postgres: $(STAMP)
	KEFU_TEST_DB=postgresql $(BIN)/pytest -q -p no:cacheprovider -m "not browser"

## ruff, mypy, then the whole suite on SQLite and again on PostgreSQL
test: lint typecheck test-sqlite test-postgres

i18n: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --ignore-dirs=".*" -o kefu/locale/messages.pot kefu
	$(BIN)/pybabel update -i kefu/locale/messages.pot -d kefu/locale
	$(BIN)/pybabel compile -d kefu/locale

clean:
	rm -rf $(VENV) kefu.db kefu.db-wal kefu.db-shm test-output

# Open Competitie: `make run` serves the demo, `make test` runs the suite.
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  ?= python3
export FLASK_APP := wsgi.py

.PHONY: run test install db translations extract-messages lint format clean-db help

help:
	@echo "make run    install, create/upgrade the SQLite database with demo data, serve on http://127.0.0.1:5000"
	@echo "make test   run the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL)"
	@echo "make lint   ruff"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Compiled catalogues (.mo) are build output, not committed.
translations: install
	@$(BIN)/pybabel compile --use-fuzzy -d competition/translations -D messages -f >/dev/null 2>&1 || \
	  $(BIN)/pybabel compile -d competition/translations -D messages

extract-messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o competition/translations/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i competition/translations/messages.pot -d competition/translations -D messages --no-fuzzy-matching

db: install translations
	$(BIN)/flask db upgrade
	$(BIN)/flask competition seed-demo --if-empty

run: db
	SESSION_COOKIE_SECURE=0 $(BIN)/flask run --host 127.0.0.1 --port 5000

test: install translations
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check competition tests bench

format: install
	$(BIN)/ruff format competition tests bench
	$(BIN)/ruff check --fix .

clean-db:
	rm -f instance/competition.sqlite3

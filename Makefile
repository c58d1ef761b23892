# Open Competitie: `make run` serves the demo, `make test` runs the suite.
VENV    := .venv
BIN     := $(VENV)/bin
PYTHON  ?= python3
export FLASK_APP := wsgi.py
DEMO_PHASE ?= submission
# pytest-xdist processes; each gets its own database (on PostgreSQL: <name>_gw0, …).
TEST_WORKERS ?= 2

.PHONY: run test install db translations extract-messages lint format clean-db help

help:
	@echo "make run    install, create/upgrade the SQLite database with demo data, serve on http://127.0.0.1:5000"
	@echo "make test   run the whole test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL)"
	@echo "make lint   ruff"
	@echo "make extract-messages   after changing UI text: refresh messages.pot and the Dutch catalogue"

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Translations: English msgids in the code, one catalogue per language in LOCALES.
# Compiled catalogues (.mo) are build output, not committed; fuzzy entries are never compiled.
TRANSLATIONS := competition/translations
LOCALES      := nl
# Keywords on top of Babel's defaults (_, gettext, ngettext, pgettext, npgettext, …).
# tests/test_translations.py reads this line, so keep it on one line.
BABEL_KEYWORDS := -k _l -k lazy_gettext -k lazy_ngettext:1,2 -k lazy_pgettext:1c,2

translations: install
	$(BIN)/pybabel compile -d $(TRANSLATIONS) -D messages --statistics

# After adding or changing UI text: refresh messages.pot and every catalogue, then translate
# the new (empty) entries in $(TRANSLATIONS)/<lang>/LC_MESSAGES/messages.po.
extract-messages: install
	@mkdir -p $(TRANSLATIONS)
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --add-comments=TRANSLATORS: \
	  --project="Open Competitie" --no-location --sort-output -o $(TRANSLATIONS)/messages.pot .
	@for lang in $(LOCALES); do \
	  if [ -f $(TRANSLATIONS)/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -D messages \
	      -l $$lang --no-fuzzy-matching || exit 1; \
	  else \
	    $(BIN)/pybabel init -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) -D messages \
	      -l $$lang || exit 1; \
	  fi; \
	done

db: install translations
	$(BIN)/flask db upgrade
	$(BIN)/flask competition seed-demo --if-empty --phase $(DEMO_PHASE)

run: db
	SESSION_COOKIE_SECURE=0 JOBS_THREAD_WORKER=1 $(BIN)/flask run --host 127.0.0.1 --port 5000

test: install translations
	$(BIN)/pytest -n $(TEST_WORKERS)

# The code is wrapped by hand at 100 columns (see pyproject.toml); `ruff check` is the gate, as in CI.
lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff check --fix .

clean-db:
	rm -f instance/competition.sqlite3

# Two set-up commands: `make run` (demo server) and `make test` (the whole suite). Both create the
# virtualenv and install the pinned requirements first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 8000
# The embedded default: an SQLite file, rate-limit counters in memory. No PostgreSQL or Redis needed.
export DATABASE_URL ?= sqlite:///$(CURDIR)/instance/tracker_api.sqlite3

.PHONY: install run test migrate demo clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(BIN)/.installed

migrate: install
	mkdir -p instance
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo --port $(PORT)

run: demo
	@echo "Database: $(DATABASE_URL)"
	@echo "Rate limits: counted in process memory (REDIS_URL unset), so one gunicorn worker serves the demo."
	@echo "Serving on http://$(HOST):$(PORT)  (Swagger UI: http://$(HOST):$(PORT)/api/docs, Ctrl-C stops)"
	$(BIN)/gunicorn --workers 1 --threads 8 --bind $(HOST):$(PORT) wsgi:app

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache

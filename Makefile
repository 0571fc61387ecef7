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

.PHONY: install e2e-deps run test migrate demo clean

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

# What the end-to-end tests (tests/test_e2e_nginx.py) run besides Python: Debian's nginx, php-cli with cURL, node
# and curl. Installs only what is missing and only where apt-get can (as root); otherwise it says so and the
# suite goes on, where those tests skip naming what is missing (or fail, under CI=true).
e2e-deps:
	@missing=""; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx-light"; \
	command -v php >/dev/null || missing="$$missing php-cli"; \
	php -r 'exit(extension_loaded("curl") ? 0 : 1);' 2>/dev/null || missing="$$missing php-curl"; \
	command -v node >/dev/null || missing="$$missing nodejs"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "e2e-deps: cannot install$$missing (needs root and apt-get); the end-to-end tests will skip"; exit 0; fi; \
	echo "e2e-deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -qq --no-install-recommends $$missing >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
		|| echo "e2e-deps: could not install$$missing; the end-to-end tests will skip"

test: install e2e-deps replica-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# What tests/test_replicas.py needs besides PostgreSQL 15's own binaries: Debian's pgbouncer, and a primary
# (REPLICA_PRIMARY) that accepts replication connections from 127.0.0.1, for pg_basebackup and the streaming
# replica the tests start in a temporary directory. Where such connections are refused and the primary's
# pg_hba.conf is writable here, appends one line to it, "host replication all 127.0.0.1/32 trust" (the trust the
# file already gives every database from 127.0.0.1), and reloads the configuration; nothing else on the primary
# changes (wal_level = replica and max_wal_senders > 0, PostgreSQL's defaults, would need a restart: left alone,
# pg_basebackup names them if they are missing). Idempotent; what it cannot do it says, and those tests skip
# naming it (fail, under CI=true).
REPLICA_PRIMARY ?= host=127.0.0.1 port=5432 user=postgres dbname=postgres
.PHONY: replica-deps
replica-deps:
	@if ! command -v pgbouncer >/dev/null && ! [ -x /usr/sbin/pgbouncer ]; then \
		if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
			echo "replica-deps: cannot install pgbouncer (needs root and apt-get); the PgBouncer tests will skip"; \
		else \
			echo "replica-deps: installing pgbouncer"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null 2>&1 \
				|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends pgbouncer >/dev/null; } \
				|| echo "replica-deps: could not install pgbouncer; the PgBouncer tests will skip"; \
		fi; \
	fi
	@if psql "$(REPLICA_PRIMARY) replication=true" -Atc IDENTIFY_SYSTEM >/dev/null 2>&1; then exit 0; fi; \
	hba=$$(psql "$(REPLICA_PRIMARY)" -Atc "SHOW hba_file" 2>/dev/null) \
		|| { echo "replica-deps: PostgreSQL not reachable ($(REPLICA_PRIMARY)); the replica tests will skip"; exit 0; }; \
	if [ ! -w "$$hba" ]; then \
		echo "replica-deps: $$hba refuses replication from 127.0.0.1 and is not writable here; the replica tests will skip"; \
		exit 0; fi; \
	echo "replica-deps: allowing replication connections from 127.0.0.1 in $$hba"; \
	printf '%s\n' "# tracker_api make replica-deps: pg_basebackup and a test replica from this host" \
		"host replication all 127.0.0.1/32 trust" >> "$$hba"; \
	psql "$(REPLICA_PRIMARY)" -Atc "SELECT pg_reload_conf()" >/dev/null

# What tests/test_docs_browser.py drives: Debian's Chromium and the chromedriver built with it, from apt only
# (no tool ever downloads a browser). Installs them only where missing, as e2e-deps does; without them the
# browser test skips saying so (fails under CI=true).
.PHONY: browser-deps
browser-deps:
	@if [ -x /usr/lib/chromium/chromium ] && [ -x /usr/bin/chromedriver ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
		echo "browser-deps: cannot install chromium chromium-driver (needs root and apt-get); the browser test will skip"; \
		exit 0; fi; \
	echo "browser-deps: installing chromium chromium-driver"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1 \
		|| { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; } \
		|| echo "browser-deps: could not install chromium chromium-driver; the browser test will skip"

test: browser-deps

clean:
	rm -rf $(VENV) $(PEERS_VENV) instance .pytest_cache

# The Russian catalogue of every message the API sends (tracker_api/web/i18n.py): collect the messages from the code
# (babel.cfg), merge them into the .po (new ones arrive with an empty msgstr: write their Russian), compile the .mo
# that is committed beside it. tests/test_translations.py fails on a missing translation or a stale .mo.
TRANSLATIONS := tracker_api/translations
.PHONY: translations
translations: install
	$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k _l -k N_ --no-location --sort-output --omit-header \
		-o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching --ignore-obsolete \
		--width 120
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics

# The Schemathesis run of `make test` (tests/test_fuzz_openapi.py), longer: FUZZ_EXAMPLES generated cases per
# operation instead of 25, on SQLite and PostgreSQL. FUZZ_SEED picks another reproducible run.
FUZZ_EXAMPLES ?= 1000
.PHONY: fuzz
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest tests/test_fuzz_openapi.py $(PYTEST_ARGS)

# A bounded soak (bench/soak.py): SOAK_SECONDS of mixed traffic at SOAK_RATE requests/s through Debian's nginx
# and gunicorn with the deployment's config files, then every acknowledged write checked in PostgreSQL, 5xx
# counted and the workers' memory followed; exits non-zero if a check fails. Drops and creates the database
# SOAK_DATABASE, flushes SOAK_REDIS_URL.
SOAK_SECONDS ?= 600
SOAK_RATE ?= 40
SOAK_DATABASE ?= tracker_api_soak
SOAK_REDIS_URL ?= redis://127.0.0.1:6379/9
.PHONY: soak
soak: install e2e-deps
	$(BIN)/python bench/soak.py --seconds $(SOAK_SECONDS) --rate $(SOAK_RATE) --database $(SOAK_DATABASE) \
		--redis-url $(SOAK_REDIS_URL)

# The benchmark of issues 7 and 21 (bench/run.py): a million tracking numbers for a big bot and 99 small bots in
# the PostgreSQL database BENCH_DATABASE (generated once, reused while its counts match; BENCH_ARGS=--regenerate
# forces it), the app with the production config and ../shared/bench/floor_app.py side by side under gunicorn,
# wrk -t2 -c32 per scenario; then the peers of ../shared/bench/peers (FastAPI, DRF, flask-smorest) beside the API
# in alternating rounds, on their own database BENCH_DATABASE_peers of the same shape. The tables go to
# bench/results/latest.md. Needs wrk (apt-get install wrk). About 40 minutes once the data exists (plus 3 minutes
# to generate it); BENCH_ARGS="--soak-minutes 5" adds the memory soak, "--scale 0.01" a quick check of the harness.
BENCH_DURATION ?= 15
BENCH_DATABASE ?= tracker_api_bench_big
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/3
.PHONY: bench
bench: install peers-venv
	@command -v wrk >/dev/null || { echo "bench: needs wrk (apt-get install wrk)"; exit 1; }
	$(BIN)/python bench/run.py --duration $(BENCH_DURATION) --database $(BENCH_DATABASE) \
		--redis-url $(BENCH_REDIS_URL) --peers-dir $(PEERS) --peers-venv $(PEERS_VENV) $(BENCH_ARGS)

# The peers' own virtualenv, from their pinned requirements: for `make bench` only, never part of `make test`.
PEERS ?= $(abspath $(CURDIR)/../shared/bench/peers)
PEERS_VENV ?= .venv-peers
$(PEERS_VENV)/bin/.installed: $(PEERS)/requirements.txt
	test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(PEERS)/requirements.txt
	touch $@

.PHONY: peers-venv
peers-venv: $(PEERS_VENV)/bin/.installed

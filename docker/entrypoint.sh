#!/bin/sh
# The app container's entrypoint: bring the database schema up to date, then run the command (gunicorn).
#
# An up-to-date schema makes the upgrade a no-op. When several app containers start at once on a new
# revision, one may lose the race and exit; its restart policy brings it back to a migrated database.
# MIGRATE_ON_START=0 skips the step (e.g. when a release job runs `flask --app wsgi db upgrade` itself).
set -eu

if [ "${MIGRATE_ON_START:-1}" != "0" ]; then
    # A migration may rebuild an index over millions of rows: no per-statement limit for it.
    DATABASE_STATEMENT_TIMEOUT_MS=0 flask --app wsgi db upgrade
fi
exec "$@"

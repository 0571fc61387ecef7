"""Read replicas and PgBouncer with real parts (tracker_api/database/replicas.py, access/replica_reads.py, database/__init__.py, docs/REPLICAS.md).

A streaming replica of the machine's primary is made with pg_basebackup into a cluster of the tests' own; lag is
made by pausing its replay, so that a row the primary has committed is missing on the replica: a read that shows
the row did not come from the lagging replica, and one that misses it did. Debian's pgbouncer in transaction
pooling mode stands in front of the primary for the app's ordinary traffic. `make replica-deps` installs
pgbouncer and lets the primary accept replication connections from 127.0.0.1; without them these tests skip
saying why (fail, under CI=true).
"""
import json
import os
import shutil
import threading
import time
from urllib.parse import urlsplit

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from config import TestConfig, normalize_database_url
from conftest import (POSTGRES_ADMIN_URL, REDIS_TEST_URL, SAMPLE_TRACKING, dispose_app, flush_test_redis,
                      fresh_postgres_database, in_app, make_migrated_app, make_tenant, require_service, wipe,
                      worker_suffix)
from servers import PgBouncer, StreamingReplica, free_port
from tracker_api import create_app
from tracker_api.extensions import db
from tracker_api.access.keys import issue_key

BOT_ID = 123
TRACKING = f"/api/v1/tracking/{BOT_ID}"
PRIMARY = urlsplit(POSTGRES_ADMIN_URL)  # the tests' PostgreSQL server (TEST_POSTGRES_URL), the replica's primary
PRIMARY_HOST, PRIMARY_PORT = PRIMARY.hostname, PRIMARY.port or 5432
# Checks five times a second: a test waits for a verdict a fraction of a second, not the default second.
CHECK_SECONDS = 0.2


@pytest.fixture(scope="module")
def replica():
    try:
        replica = StreamingReplica(PRIMARY_HOST, PRIMARY_PORT)
    except (RuntimeError, psycopg.Error, FileNotFoundError, IndexError) as error:
        require_service(f"no streaming replica of {PRIMARY_HOST}:{PRIMARY_PORT} (make replica-deps allows "
                        f"replication from 127.0.0.1): {str(error)[:500]}")
    yield replica
    replica.destroy()


@pytest.fixture(scope="module")
def primary_url():
    """A database of these tests' own on the primary, migrated; the replica gets it by streaming."""
    url = fresh_postgres_database(f"tracker_api_replicas_{worker_suffix()}")
    dispose_app(make_migrated_app(url))
    return url


def database_name(url):
    return url.rsplit("/", 1)[1]


@pytest.fixture
def replica_url(replica, primary_url):
    return f"{replica.url}/{database_name(primary_url)}"


def dispose_all(app):
    """Stop the app's replica checks and close every engine's connections (the primary's and the replicas')."""
    if "replicas" in app.extensions:
        app.extensions["replicas"].stop()
    dispose_app(app)
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def make_app(primary_url):
    """Apps on the primary database, emptied first, with the given settings; disposed of after the test."""
    apps = []

    def make(**settings):
        app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI=normalize_database_url(primary_url),
                         **{"DATABASE_REPLICA_CHECK_SECONDS": CHECK_SECONDS, **settings})
        apps.append(app)
        return app
    wipe(make())
    yield make
    for app in apps:
        dispose_all(app)


@pytest.fixture
def lagging(replica):
    """The replica; whatever a test paused or stopped, it is running and replaying again afterwards."""
    yield replica
    if not replica.is_running():
        replica.start()
    replica.resume_replay()


def wait_until(condition, what, timeout=15):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.05)


def in_service(app):
    """The app's replicas in service now (its checker started, as a request's pick() starts it)."""
    replicas = app.extensions["replicas"]
    replicas.pick()
    return replicas.in_service


def pause_when_in_service(replica, *apps):
    """Once the replica has replayed everything so far and the apps use it: pause its replay."""
    replica.catch_up()
    wait_until(lambda: all(in_service(app) for app in apps), "the replica in service")
    replica.pause_replay()


def two_keys(app):
    """A bot with a writing key and a reading key, visible on the replica before the test pauses it."""
    writer = make_tenant(app, BOT_ID, "Demo Cargo", "@demo_cargo_bot")
    reader_key = in_app(app, lambda: issue_key(BOT_ID, "reader")[1])
    return writer.headers, {"X-API-Key": reader_key}


def listed(http, headers):
    response = http.get(TRACKING, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["tracking_number"] for item in response.get_json()["tracking_numbers"]]


def on_replica(replica_url, tracking_number):
    with psycopg.connect(replica_url, autocommit=True) as connection:
        return connection.execute("SELECT count(*) FROM tracking_numbers WHERE tracking_number = %s",
                                  (tracking_number,)).fetchone()[0] == 1


def create(http, headers, tracking_number):
    response = http.post(TRACKING, json={**SAMPLE_TRACKING, "tracking_number": tracking_number,
                                         "weight_kg": "10.5", "price_per_kg_usd": "14.29",
                                         "total_cost_usd": "150.00"}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["id"]


# --- routing ------------------------------------------------------------------------------------------------

def test_without_replica_urls_nothing_is_registered(make_app):
    app = make_app()
    assert "replicas" not in app.extensions
    assert app.config["SQLALCHEMY_BINDS"] == {}
    hooks = app.before_request_funcs[None] + app.after_request_funcs[None] + app.teardown_request_funcs[None]
    assert "tracker_api.access.replica_reads" not in {hook.__module__ for hook in hooks}


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_reads_come_from_the_replica_and_a_writers_own_from_the_primary(make_app, replica_url, lagging, store):
    if store == "redis":
        flush_test_redis()
    app = make_app(DATABASE_REPLICA_URLS=(replica_url,), DATABASE_REPLICA_MAX_LAG_SECONDS=600,
                   DATABASE_REPLICA_STICKY_SECONDS=2.5, REDIS_URL=REDIS_TEST_URL if store == "redis" else None)
    http = app.test_client()
    writer, reader = two_keys(app)
    pause_when_in_service(lagging, app)

    tracking_id = create(http, writer, "WRITTEN-1")
    assert not on_replica(replica_url, "WRITTEN-1")  # the replica really lags behind this write
    assert listed(http, reader) == []  # another key reads the (lagging, but within bound) replica
    assert listed(http, writer) == ["WRITTEN-1"]  # the writer reads its own write: from the primary
    assert http.get(f"{TRACKING}/{tracking_id}", headers=writer).status_code == 200
    assert http.head(f"{TRACKING}/{tracking_id}", headers=writer).status_code == 200
    assert http.put(f"{TRACKING}/{tracking_id}", json={"status": "in_transit"}, headers=writer).status_code == 200
    assert http.get(f"{TRACKING}/{tracking_id}", headers=writer).get_json()["current_status"] == "in_transit"
    assert http.get(f"{TRACKING}/{tracking_id}", headers=reader).status_code == 404  # the replica has none yet
    time.sleep(2.6)  # the read-your-writes window ends: the writer reads the replica again
    assert listed(http, writer) == []


def test_a_writers_mark_holds_in_every_worker_through_redis(make_app, replica_url, lagging):
    """Two apps on one Redis are two gunicorn workers: the write goes through one, the next read through the other."""
    flush_test_redis()
    settings = {"DATABASE_REPLICA_URLS": (replica_url,), "DATABASE_REPLICA_MAX_LAG_SECONDS": 600,
                "DATABASE_REPLICA_STICKY_SECONDS": 30, "REDIS_URL": REDIS_TEST_URL}
    first, second = make_app(**settings), make_app(**settings)
    writer, reader = two_keys(first)
    pause_when_in_service(lagging, first, second)

    create(first.test_client(), writer, "WRITTEN-2")
    assert listed(second.test_client(), reader) == []  # the replica: it has not replayed the write
    assert listed(second.test_client(), writer) == ["WRITTEN-2"]


def test_a_replica_lagging_past_the_bound_is_skipped_until_it_catches_up(make_app, replica_url, lagging):
    app = make_app(DATABASE_REPLICA_URLS=(replica_url,), DATABASE_REPLICA_MAX_LAG_SECONDS=1,
                   DATABASE_REPLICA_STICKY_SECONDS=0.001)
    http = app.test_client()
    writer, reader = two_keys(app)
    pause_when_in_service(lagging, app)

    create(http, writer, "WRITTEN-3")
    wait_until(lambda: not in_service(app), "the lagging replica out of service")
    assert not on_replica(replica_url, "WRITTEN-3")  # still lagging: a read there would miss the row
    assert listed(http, reader) == ["WRITTEN-3"]
    assert listed(http, writer) == ["WRITTEN-3"]

    lagging.resume_replay()
    lagging.catch_up()
    wait_until(lambda: in_service(app), "the replica back in service once caught up")
    assert listed(http, reader) == ["WRITTEN-3"]


def test_a_replica_that_goes_down_is_skipped_at_once(make_app, replica_url, lagging):
    app = make_app(DATABASE_REPLICA_URLS=(replica_url,), DATABASE_REPLICA_MAX_LAG_SECONDS=600,
                   DATABASE_REPLICA_CHECK_SECONDS=600)  # no check in between: the request itself must notice
    http = app.test_client()
    writer, reader = two_keys(app)
    pause_when_in_service(lagging, app)
    create(http, writer, "WRITTEN-4")
    assert listed(http, reader) == []  # from the replica, whose connection now waits in the pool

    lagging.stop("fast")
    for _ in range(5):
        assert listed(http, reader) == ["WRITTEN-4"]  # from the primary, with no error on the way
    assert in_service(app) == ()


def test_a_replica_down_from_the_start_leaves_every_read_to_the_primary(make_app, primary_url):
    dead = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/{database_name(primary_url)}"
    app = make_app(DATABASE_REPLICA_URLS=(dead,))
    http = app.test_client()
    writer, reader = two_keys(app)
    create(http, writer, "WRITTEN-5")
    in_service(app)
    time.sleep(3 * CHECK_SECONDS)  # checks have found it unreachable
    assert in_service(app) == ()
    assert listed(http, reader) == ["WRITTEN-5"]


def test_the_change_feed_reads_the_primary(make_app, replica_url, lagging):
    app = make_app(DATABASE_REPLICA_URLS=(replica_url,), DATABASE_REPLICA_MAX_LAG_SECONDS=600)
    http = app.test_client()
    writer, reader = two_keys(app)
    start = http.get(f"{TRACKING}?updated_since=2000-01-01T00:00:00Z", headers=reader).get_json()["next_cursor"]
    pause_when_in_service(lagging, app)
    create(http, writer, "WRITTEN-6")
    assert listed(http, reader) == []  # a plain page: the replica
    for query in ("updated_since=2000-01-01T00:00:00Z", f"cursor={start}"):
        feed = http.get(f"{TRACKING}?{query}", headers=reader)
        assert feed.status_code == 200, feed.get_data(as_text=True)
        assert [item["tracking_number"] for item in feed.get_json()["tracking_numbers"]] == ["WRITTEN-6"]


def test_an_export_reads_every_batch_from_the_replica(make_app, replica_url, lagging, monkeypatch):
    """An export's later batches are read after the request's own context has ended (export/service.py): they still
    come from the request's replica."""
    monkeypatch.setattr("tracker_api.resources.export.service.BATCH_SIZE", 1)
    app = make_app(DATABASE_REPLICA_URLS=(replica_url,), DATABASE_REPLICA_MAX_LAG_SECONDS=600)
    http = app.test_client()
    writer, reader = two_keys(app)
    for number in range(3):
        create(http, writer, f"EXPORTED-{number}")
    pause_when_in_service(lagging, app)
    create(http, writer, "WRITTEN-7")  # the highest id: the last batch would hold it
    response = http.get(f"/api/v1/export/{BOT_ID}/tracking?format=ndjson", headers=reader)
    assert response.status_code == 200
    exported = [json.loads(line)["tracking_number"] for line in response.get_data(as_text=True).splitlines()]
    assert exported == ["EXPORTED-0", "EXPORTED-1", "EXPORTED-2"]


# --- PgBouncer in transaction pooling mode --------------------------------------------------------------------

@pytest.fixture(scope="module")
def pgbouncer():
    if not (shutil.which("pgbouncer") or os.path.exists("/usr/sbin/pgbouncer")):
        require_service("pgbouncer is not installed (make replica-deps installs Debian's)")
    try:
        bouncer = PgBouncer(PRIMARY_HOST, PRIMARY_PORT, pool_size=2)
    except RuntimeError as error:
        require_service(str(error)[:500])
    yield bouncer
    bouncer.stop()


@pytest.fixture
def bounced_app(pgbouncer):
    """The app on a fresh database reached only through PgBouncer (migrations included)."""
    name = f"tracker_api_pgbouncer_{worker_suffix()}"
    fresh_postgres_database(name)
    app = make_migrated_app(f"{pgbouncer.url}/{name}", DATABASE_PGBOUNCER=True)
    yield app
    dispose_app(app)


def test_the_api_serves_its_traffic_through_pgbouncer_in_transaction_mode(bounced_app, pgbouncer):
    writer = make_tenant(bounced_app, BOT_ID, "Demo Cargo", "@demo_cargo_bot").headers
    failures = []

    def client_traffic(number):
        """Writes in a row, then reads: psycopg would prepare a statement run five times in a connection (it forgets
        them at each ROLLBACK, which ends every read here), so the writes' statements get there."""
        http = bounced_app.test_client()
        try:
            tracking_id = create(http, writer, f"BOUNCED-{number}")
            responses = [http.put(f"{TRACKING}/{tracking_id}", json={"status": "pending" if turn % 2 else "in_transit"},
                                  headers=writer) for turn in range(30)]
            for _ in range(20):
                responses += [http.get(TRACKING, headers=writer), http.get(f"{TRACKING}/{tracking_id}", headers=writer),
                              http.get(f"{TRACKING}/{tracking_id}/history", headers=writer)]
            failures.extend((response.status_code, response.get_data(as_text=True)[:300]) for response in responses
                            if response.status_code != 200)
        except Exception as error:  # the test client raises what the app did not handle (TESTING)
            failures.append(f"{type(error).__name__}: {str(error)[:300]}")

    threads = [threading.Thread(target=client_traffic, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []  # 4 × 91 requests, each 2xx
    body = bounced_app.test_client().get(TRACKING, headers=writer).get_json()
    assert body["total"] == 4
    history = bounced_app.test_client().get(f"{TRACKING}/{body['tracking_numbers'][0]['id']}/history",
                                            headers=writer).get_json()["history"]
    assert len(history) == 31  # the first status and 30 changes of it, each recorded
    # The app's pooled connections outnumbered PgBouncer's server connections: its transactions took turns on them.
    database = bounced_app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]
    servers = [row for row in pgbouncer.admin("SHOW SERVERS") if row["database"] == database]
    clients = [row for row in pgbouncer.admin("SHOW CLIENTS") if row["database"] == database]
    assert 1 <= len(servers) <= 2 < len(clients)


def test_behind_pgbouncer_each_transaction_sets_its_own_settings(bounced_app, pgbouncer):
    def settings():
        return db.session.execute(text("SELECT current_setting('statement_timeout'), "
                                       "current_setting('TimeZone')")).one()
    assert in_app(bounced_app, settings) == ("10s", "UTC")
    # ... and leaves nothing behind on the server connections other clients get next.
    database = bounced_app.config["SQLALCHEMY_DATABASE_URI"].rsplit("/", 1)[1]
    for _ in range(4):
        with psycopg.connect(f"{pgbouncer.url}/{database}", autocommit=True, prepare_threshold=None) as other:
            assert other.execute("SELECT current_setting('statement_timeout')").fetchone()[0] == "0"


def test_behind_pgbouncer_the_statement_timeout_still_cancels(pgbouncer, primary_url):
    app = make_migrated_app(f"{pgbouncer.url}/{primary_url.rsplit('/', 1)[1]}", DATABASE_PGBOUNCER=True,
                            DATABASE_STATEMENT_TIMEOUT_MS=200)
    try:
        def sleep():
            db.session.execute(text("SELECT pg_sleep(2)"))
        with pytest.raises(OperationalError) as cancelled:
            in_app(app, sleep)
        assert cancelled.value.orig.sqlstate == "57014"
    finally:
        dispose_app(app)


def test_behind_pgbouncer_reads_still_come_from_the_replica(pgbouncer, primary_url, replica_url, lagging):
    """PgBouncer mode on the replica's engine too: its reads run in transactions that set their own settings."""
    bounced_url = normalize_database_url(f"{pgbouncer.url}/{database_name(primary_url)}")
    app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI=bounced_url, DATABASE_PGBOUNCER=True,
                     DATABASE_REPLICA_URLS=(replica_url,), DATABASE_REPLICA_MAX_LAG_SECONDS=600,
                     DATABASE_REPLICA_CHECK_SECONDS=CHECK_SECONDS)
    try:
        wipe(app)
        http = app.test_client()
        writer, reader = two_keys(app)
        pause_when_in_service(lagging, app)
        create(http, writer, "BOUNCED-READ")
        assert listed(http, reader) == []  # the replica, lagging
        assert listed(http, writer) == ["BOUNCED-READ"]  # the primary, through PgBouncer
    finally:
        dispose_all(app)


def test_this_pgbouncer_would_break_prepared_statements(pgbouncer, primary_url):
    """The control: psycopg's server-side prepared statements do break behind this PgBouncer, so the traffic test
    above passes because the app prepares none (prepare_threshold=None), not because nothing could go wrong."""
    database = primary_url.rsplit("/", 1)[1]
    first = psycopg.connect(f"{pgbouncer.url}/{database}", autocommit=True, prepare_threshold=0)
    second = psycopg.connect(f"{pgbouncer.url}/{database}", autocommit=True, prepare_threshold=0)
    try:
        with pytest.raises((psycopg.errors.DuplicatePreparedStatement, psycopg.errors.InvalidSqlStatementName)):
            for number in range(10):
                first.execute(f"SELECT {number}")
                second.execute(f"SELECT {number} + 1")
    finally:
        first.close()
        second.close()

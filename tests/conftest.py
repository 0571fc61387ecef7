"""Fixtures: the app on SQLite and on PostgreSQL, tenants (a bot and its key), and data factories.

Every test that takes `app` runs twice, once per database. PostgreSQL and Redis are real services;
outside CI a test that cannot reach one is skipped with the reason, with CI=true it fails instead.
"""
import os
from dataclasses import dataclass
from decimal import Decimal

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, event, text

from config import TestConfig, normalize_database_url
from tracker_api import create_app
from tracker_api.access.keys import issue_key, set_rate_limit
from tracker_api.extensions import db
from tracker_api.models import Client
from tracker_api.resources.bots.service import create_bot
from tracker_api.resources.tracking.service import create_tracking
from tracker_api.writes import totals
from tracker_api.writes.parcel_statements import BOTS_WITH_WEBHOOKS

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLES = ("idempotency_records", "deleted_records", "status_events", "tracking_numbers", "clients", "api_keys",
          "bots")


def require_service(reason):
    """Skip, or fail under CI=true, when a real service the test needs cannot be reached."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: every service must be available)")
    pytest.skip(reason)


def fresh_postgres_database(name):
    """Drop and create database `name` on the test server; returns its URL (or skips/fails)."""
    admin = create_engine(normalize_database_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # connection refused, auth, ...: the service is not there
        require_service(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(error).__name__}")
    finally:
        admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def worker_suffix():
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def make_migrated_app(database_url, **overrides):
    app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI=normalize_database_url(database_url), **overrides)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture(scope="session")
def sqlite_app(tmp_path_factory):
    return make_migrated_app(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tracker_api.sqlite3'}")


@pytest.fixture(scope="session")
def postgresql_url():
    return fresh_postgres_database(f"tracker_api_test_{worker_suffix()}")


@pytest.fixture(scope="session")
def postgresql_app(postgresql_url):
    return make_migrated_app(postgresql_url)


def wipe(app):
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                db.session.execute(text(f"DELETE FROM {table}"))
        db.session.commit()
    app.extensions.pop(BOTS_WITH_WEBHOOKS, None)  # what the app learnt about the bots it no longer has


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request):
    """The app on an empty, migrated database; parametrized over both databases."""
    app = request.getfixturevalue(f"{request.param}_app")
    wipe(app)
    return app


@pytest.fixture
def postgresql_only_app(postgresql_app):
    wipe(postgresql_app)
    return postgresql_app


@pytest.fixture
def http(app):
    return app.test_client()


@dataclass
class Tenant:
    bot_id: int
    key_id: int
    key: str

    @property
    def headers(self):
        return {"X-API-Key": self.key}


def in_app(app, function, *args, **kwargs):
    """Run a function inside an app context and return what it returns (no context leaks into requests)."""
    with app.app_context():
        return function(*args, **kwargs)


def executed_statements(app, action):
    """[(whether the connection was in autocommit, the SQL)] of each statement `action()` sends, each a round trip
    on PostgreSQL."""
    seen = []

    def note(connection, cursor, statement, *_):
        seen.append((getattr(connection.connection.driver_connection, "autocommit", None), statement))

    engine = in_app(app, lambda: db.engine)
    event.listen(engine, "before_cursor_execute", note)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return seen


def make_tenant(app, bot_id, name="Cargo Co", username="@cargo_bot", **bot_fields):
    def build():
        create_bot(bot_id=bot_id, name=name, username=username, **bot_fields)
        api_key, plain_key = issue_key(bot_id, "tests")
        return Tenant(bot_id, api_key.id, plain_key)
    return in_app(app, build)


def make_bot_tenant(app, bot_id, rate_limit=None):
    """A new bot named after its id and its key, with a budget of `rate_limit` requests a minute when given."""
    tenant = make_tenant(app, bot_id, f"Cargo {bot_id}", f"@cargo_{bot_id}_bot")
    if rate_limit:
        in_app(app, set_rate_limit, tenant.key_id, rate_limit)
    return tenant


@pytest.fixture
def tenant(app):
    return make_tenant(app, 123, "Demo Cargo", "@demo_cargo_bot")


@pytest.fixture
def other_tenant(app):
    return make_tenant(app, 456, "Rival Cargo", "@rival_cargo_bot")


SAMPLE_TRACKING = {"tracking_number": "ABC123456", "client_code": "CLIENT123", "status": "pending", "quantity": 5,
                   "weight_kg": Decimal("10.5"), "price_per_kg_usd": Decimal("14.29"),
                   "total_cost_usd": Decimal("150.00"), "note": "Хрупкое"}


def make_tracking(app, bot_id, **fields):
    """Create a tracking number through the service (history included); returns its id."""
    return in_app(app, lambda: create_tracking(bot_id, {**SAMPLE_TRACKING, **fields}).id)


def assert_totals_exact(app):
    """The totals kept per bot (tracker_api/writes/totals.py) equal a fresh count of the rows."""
    def differences():
        with db.engine.connect() as connection:
            return totals.differences(connection)
    assert in_app(app, differences) == []


def make_client(app, bot_id, client_code="CLIENT123", **fields):
    def build():
        client = Client(bot_id=bot_id, client_code=client_code, **{"name": "Алия Нурланова", **fields})
        db.session.add(client)
        db.session.commit()
        return client.id
    return in_app(app, build)


# --- Redis, rate limits and the audit trail ---------------------------------------------------------
import redis  # noqa: E402  (appended section: imports kept with the fixtures that use them)

TABLES = TABLES + ("security_events",)  # no foreign keys, so its place in the wipe order is free
TABLES = TABLES + ("admin_audit_events", "platform_tokens")  # the admin API's (tests/test_admin_api.py)
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def flush_test_redis():
    """Empty the tests' own Redis database (DB 15 by default, never the developer's), or skip/fail."""
    client = redis.Redis.from_url(REDIS_TEST_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.flushdb()
    except redis.RedisError as error:
        require_service(f"Redis not reachable at {REDIS_TEST_URL}: {type(error).__name__}")
    finally:
        client.close()


@pytest.fixture
def redis_url():
    """A flushed Redis database for this test."""
    flush_test_redis()
    return REDIS_TEST_URL


@pytest.fixture(params=["memory", "redis"])
def counters(request):
    """Where the shared counters live: process memory (REDIS_URL unset) or a flushed Redis database."""
    return request.getfixturevalue("redis_url") if request.param == "redis" else None


def make_app_like(app, **overrides):
    """A new app on `app`'s (migrated, wiped) database with its own settings and fresh in-memory counters."""
    return create_app(TestConfig(), SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], **overrides)


def dispose_app(app):
    """Close the app's connections, and write the usage its Redis store summed now, not in a later test's Redis."""
    store = app.extensions.get("shared_store")
    if hasattr(store, "flush"):
        store.flush()
    with app.app_context():
        db.engine.dispose()


# Small budgets, so that a test reaches them in a few requests; a test may change any of them in config.
LIMITED_SETTINGS = {"RATE_LIMIT_PER_MINUTE": 5, "RATE_LIMIT_PER_ADDRESS": 3, "INVALID_KEY_BURST": 100,
                    "RATE_LIMIT_HAMMERING": 100}


@pytest.fixture
def limited_app(app, counters):
    """The app with real (small) budgets; parametrized over both databases and both counter stores."""
    limited = make_app_like(app, REDIS_URL=counters, **LIMITED_SETTINGS)
    yield limited
    dispose_app(limited)


@pytest.fixture
def limited_http(limited_app):
    return limited_app.test_client()


# --- webhooks -------------------------------------------------------------------------------------------
from tracker_api.models import WebhookEndpoint  # noqa: E402  (appended section)
from tracker_api.webhooks.signing import new_secret  # noqa: E402


def make_webhook(app, bot_id, url="https://hooks.example.com/tracker", events=None):
    """A webhook endpoint of the bot, straight in the database; returns (id, secret)."""
    from tracker_api.models import WEBHOOK_EVENT_TYPES

    def build():
        endpoint = WebhookEndpoint(bot_id=bot_id, url=url, events=",".join(events or WEBHOOK_EVENT_TYPES),
                                   enabled=True, secret=new_secret())
        db.session.add(endpoint)
        db.session.commit()
        return endpoint.id, endpoint.secret
    return in_app(app, build)


# --- the browser tests (tests/browser.py): each module gives its own `artifacts` directory -----------------
from browser import local_chromium, screenshot_saver  # noqa: E402


@pytest.fixture
def chromium(tmp_path):
    with local_chromium(tmp_path) as browser:
        yield browser


@pytest.fixture
def screenshot(chromium, artifacts, capsys):
    return screenshot_saver(chromium, artifacts, capsys)

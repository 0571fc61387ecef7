"""Migrations (`flask db ...`) on brand-new databases, PostgreSQL and an SQLite file alike: upgrade to head,
a schema equal to the models (nothing left for autogenerate to find), every revision reversible, and rows
written under an older revision still there, intact, after the upgrade."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import inspect, text

from config import TestConfig, normalize_database_url
from conftest import fresh_postgres_database, worker_suffix
from tracker_api import MIGRATIONS_DIRECTORY, create_app
from tracker_api.extensions import db
from tracker_api.access.keys import pepper_fingerprint
from tracker_api.models import WebhookEndpoint
from tracker_api.writes import totals

REVISIONS = ScriptDirectory(MIGRATIONS_DIRECTORY)
BASE_TABLES = {"alembic_version"}


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_app(request, tmp_path):
    """The app on a database that has never seen a migration: a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        url = fresh_postgres_database(f"tracker_api_migrations_{worker_suffix()}")
    app = create_app(TestConfig(), SQLALCHEMY_DATABASE_URI=normalize_database_url(url))
    yield app
    with app.app_context():
        db.engine.dispose()


def flask_db(app, *args):
    """`flask db ARGS` through the app's CLI; fails the test, with the output, if the command fails."""
    result = app.test_cli_runner().invoke(args=["db", *args])
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def tables(app):
    with app.app_context():
        return set(inspect(db.engine).get_table_names())


def current_revision(app):
    with app.app_context(), db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_differences(app):
    """What `flask db migrate` would put in a new revision: tables, columns, types, nullability, indexes,
    unique and foreign keys that differ between the database and the models."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_an_empty_database_upgrades_to_head_with_every_table(empty_app):
    assert tables(empty_app) == set()
    flask_db(empty_app, "upgrade")
    assert current_revision(empty_app) == REVISIONS.get_current_head()
    assert tables(empty_app) == set(db.metadata.tables) | BASE_TABLES


def test_the_migrated_schema_is_the_models_schema(empty_app):
    flask_db(empty_app, "upgrade")
    assert schema_differences(empty_app) == []
    flask_db(empty_app, "check")  # the operator's form of the same question: exits 1 if anything differs


def test_downgrade_to_base_and_upgrade_again(empty_app):
    flask_db(empty_app, "upgrade")
    flask_db(empty_app, "downgrade", "base")
    assert tables(empty_app) == BASE_TABLES and current_revision(empty_app) is None
    flask_db(empty_app, "upgrade")
    assert current_revision(empty_app) == REVISIONS.get_current_head()
    assert schema_differences(empty_app) == []


def test_every_revision_upgrades_downgrades_and_upgrades_again_on_its_own(empty_app):
    for script in reversed(list(REVISIONS.walk_revisions())):  # oldest first
        flask_db(empty_app, "upgrade", script.revision)
        after_upgrade = tables(empty_app)
        flask_db(empty_app, "downgrade", script.down_revision or "base")
        assert current_revision(empty_app) == script.down_revision
        flask_db(empty_app, "upgrade", script.revision)
        assert tables(empty_app) == after_upgrade
    assert schema_differences(empty_app) == []


def test_rows_written_before_an_upgrade_survive_it(empty_app):
    """0002 rebuilds api_keys on SQLite (batch mode): the keys issued before it must come through unchanged."""
    first, *later = list(reversed(list(REVISIONS.walk_revisions())))
    if not later:
        pytest.skip("only one revision: nothing to upgrade across")
    flask_db(empty_app, "upgrade", first.revision)
    with empty_app.app_context():
        db.session.execute(text("INSERT INTO bots (id, name, username, is_active, subscription_status, created_at) "
                                "VALUES (123, 'Demo Cargo', '@demo_bot', true, 'active', '2025-01-27 10:00:00+00')"))
        db.session.execute(text("INSERT INTO api_keys (bot_id, name, prefix, key_hash, created_at) "
                                "VALUES (123, 'website', 'tb_abcdef', :hash, '2025-01-27 10:00:00+00')"),
                           {"hash": "0" * 64})
        db.session.commit()
    flask_db(empty_app, "upgrade")
    with empty_app.app_context():
        row = db.session.execute(text("SELECT bot_id, name, prefix, key_hash, rate_limit_per_minute "
                                      "FROM api_keys")).one()
    assert tuple(row) == (123, "website", "tb_abcdef", "0" * 64, None)


def insert_bots(*bot_ids):
    """Bots written in SQL, as a database at an older revision holds them."""
    for bot_id in bot_ids:
        db.session.execute(text("INSERT INTO bots (id, name, username, is_active, subscription_status, created_at) "
                                "VALUES (:id, 'Cargo', '@cargo_bot', true, 'active', '2025-01-27 10:00:00+00')"),
                           {"id": bot_id})


def test_the_change_feed_migration_numbers_existing_rows_before_any_new_change(empty_app):
    """0003 gives existing rows their id as change number and each bot the largest, so the feed walks them all
    and the first change after the upgrade comes after every one of them."""
    flask_db(empty_app, "upgrade", "0002")
    with empty_app.app_context():
        insert_bots(123, 456)
        for row_id, bot_id in ((1, 123), (2, 456), (3, 123)):
            db.session.execute(text("INSERT INTO tracking_numbers (id, bot_id, tracking_number, client_code, status, "
                                    "quantity, created_at, updated_at) VALUES (:id, :bot, :number, 'C1', 'pending', "
                                    "1, '2025-01-27 10:00:00+00', '2025-01-27 10:00:00+00')"),
                               {"id": row_id, "bot": bot_id, "number": f"T{row_id}"})
        db.session.execute(text("INSERT INTO clients (id, bot_id, client_code, created_at, updated_at) VALUES "
                                "(9, 123, 'C1', '2025-01-27 10:00:00+00', '2025-01-27 10:00:00+00')"))
        db.session.commit()
    flask_db(empty_app, "upgrade", "0003")
    with empty_app.app_context():
        def numbers(table):
            return dict(db.session.execute(text(f"SELECT id, change_seq FROM {table}")).all())
        assert numbers("tracking_numbers") == {1: 1, 2: 2, 3: 3} and numbers("clients") == {9: 9}
        assert numbers("bots") == {123: 9, 456: 2}


def test_the_totals_migration_counts_the_rows_already_there(empty_app):
    """0005 fills the totals from existing rows: exact, as a fresh count finds them, on either database."""
    flask_db(empty_app, "upgrade", "0004")
    with empty_app.app_context():
        insert_bots(123, 456)
        parcels = ((1, 123, "pending", "2.500", "2025-01-27 10:00:00+00"),
                   (2, 456, "issued", None, "2025-01-27 23:59:59+00"),
                   (3, 123, "pending", "1.000", "2025-01-28 00:00:00+00"),
                   (2000, 123, "issued", None, "2025-01-28 00:00:01+00"))
        for row_id, bot_id, status, weight, at in parcels:
            db.session.execute(text("INSERT INTO tracking_numbers (id, bot_id, tracking_number, client_code, status, "
                                    "quantity, weight_kg, created_at, updated_at, change_seq) VALUES (:id, :bot, "
                                    ":number, 'C1', :status, 1, :weight, :at, :at, :id)"),
                               {"id": row_id, "bot": bot_id, "number": f"T{row_id}", "status": status,
                                "weight": weight, "at": at})
        db.session.execute(text("INSERT INTO clients (id, bot_id, client_code, created_at, updated_at, change_seq) "
                                "VALUES (9, 123, 'C1', '2025-01-27 10:00:00+00', '2025-01-27 10:00:00+00', 9)"))
        db.session.commit()
    flask_db(empty_app, "upgrade", "0005")
    with empty_app.app_context():
        def rows(sql):
            return sorted(tuple(str(value) for value in row) for row in db.session.execute(text(sql)))
        assert rows("SELECT bot_id, status, count, CAST(total_weight_kg * 1000 AS INTEGER) AS grams "
                    "FROM tracking_status_totals") == [("123", "issued", "1", "0"), ("123", "pending", "2", "3500"),
                                                       ("456", "issued", "1", "0")]
        assert rows("SELECT bot_id, day, count FROM tracking_created_days") == [
            ("123", "2025-01-27", "1"), ("123", "2025-01-28", "2"), ("456", "2025-01-27", "1")]
        assert rows("SELECT bot_id, bucket, count FROM tracking_id_buckets") == [("123", "0", "2"), ("123", "1", "1"),
                                                                                  ("456", "0", "1")]
        assert rows("SELECT bot_id, count FROM client_totals") == [("123", "1")]
    # Later revisions carry the totals on (0012: days become quarter hours): at head they equal a fresh count.
    flask_db(empty_app, "upgrade")
    with empty_app.app_context():
        # 2025-01-27 10:00:00 UTC is quarter 1931080; 23:59:59 is 1931135; 2025-01-28 00:00:00 and :01, 1931136.
        assert sorted(tuple(row) for row in db.session.execute(text(
            "SELECT bot_id, quarter, count FROM tracking_created_quarters"))) == [
            (123, 1931080, 1), (123, 1931136, 2), (456, 1931135, 1)]
        with db.engine.connect() as connection:
            assert totals.differences(connection) == []


def test_the_secrets_migration_encrypts_the_secrets_already_there_and_the_downgrade_restores_them(empty_app):
    """0008 turns each stored webhook secret, current and previous (rotation grace), into a Fernet token under
    WEBHOOK_SECRET_KEYS; the app reads them as before; the downgrade gives the plain values back."""
    flask_db(empty_app, "upgrade", "0007")
    plain = {1: ("whsec_current_one", "whsec_previous_one"), 2: ("whsec_current_two", None)}
    with empty_app.app_context():
        insert_bots(123)
        for endpoint_id, (secret, previous) in plain.items():
            db.session.execute(text("INSERT INTO webhook_endpoints (id, bot_id, url, events, enabled, secret, "
                                    "previous_secret, created_at, updated_at) VALUES (:id, 123, 'https://e.example/', "
                                    "'tracking.created', true, :secret, :previous, '2025-01-27 10:00:00+00', "
                                    "'2025-01-27 10:00:00+00')"), {"id": endpoint_id, "secret": secret,
                                                                   "previous": previous})
        db.session.commit()
    flask_db(empty_app, "upgrade", "0008")
    box = MultiFernet([Fernet(key) for key in empty_app.config["WEBHOOK_SECRET_KEYS"]])
    with empty_app.app_context():
        stored = {row.id: (row.secret, row.previous_secret) for row in db.session.execute(
            text("SELECT id, secret, previous_secret FROM webhook_endpoints"))}
        assert stored[2][1] is None
        assert {endpoint_id: tuple(value and box.decrypt(value.encode()).decode() for value in values)
                for endpoint_id, values in stored.items()} == plain
        assert not any(value and value.startswith("whsec_") for values in stored.values() for value in values)
        endpoint = db.session.get(WebhookEndpoint, 1)
        assert (endpoint.secret, endpoint.previous_secret) == plain[1]
    flask_db(empty_app, "downgrade", "0007")
    with empty_app.app_context():
        assert dict((row.id, (row.secret, row.previous_secret)) for row in db.session.execute(
            text("SELECT id, secret, previous_secret FROM webhook_endpoints"))) == plain


def test_the_pepper_migration_marks_the_keys_already_there_with_the_one_pepper_in_force(empty_app):
    """0009: with a single pepper every existing key was hashed with it, so `flask keys peppers` counts them."""
    flask_db(empty_app, "upgrade", "0008")
    with empty_app.app_context():
        insert_bots(123)
        db.session.execute(text("INSERT INTO api_keys (bot_id, name, prefix, key_hash, created_at) "
                                "VALUES (123, 'website', 'tb_abcdef', :hash, '2025-01-27 10:00:00+00')"),
                           {"hash": "0" * 64})
        db.session.commit()
    flask_db(empty_app, "upgrade", "0009")
    with empty_app.app_context():
        marked = db.session.execute(text("SELECT pepper_fingerprint FROM api_keys")).scalar_one()
        assert marked == pepper_fingerprint(empty_app.config["API_KEY_PEPPER"])

"""Database plumbing (tracker_api/database/__init__.py) on PostgreSQL: reads run without a transaction, writes inside one, and a
pooled connection the server has closed is never handed to a request."""
import pytest
from sqlalchemy import text

from conftest import dispose_app, make_app_like, make_tenant
from tracker_api.extensions import db

BOT = 123


@pytest.fixture
def watched_app(postgresql_only_app):
    """The app, noting after each request whether its connection was in autocommit and its transaction status."""
    app = make_app_like(postgresql_only_app)

    @app.after_request
    def note_the_connection(response):
        dbapi_connection = db.session.connection().connection.dbapi_connection
        app.extensions["seen"] = (dbapi_connection.autocommit, dbapi_connection.info.transaction_status.name)
        return response
    yield app
    dispose_app(app)


def test_a_read_runs_its_statements_without_begin_or_rollback(watched_app):
    tenant = make_tenant(watched_app, BOT)
    response = watched_app.test_client().get(f"/api/v1/tracking/{BOT}", headers=tenant.headers)
    assert response.status_code == 200
    assert watched_app.extensions["seen"] == (True, "IDLE")  # no transaction was ever opened


def test_a_write_runs_in_one_transaction(watched_app):
    tenant = make_tenant(watched_app, BOT)
    response = watched_app.test_client().post(f"/api/v1/tracking/{BOT}", headers=tenant.headers,
                                              json={"tracking_number": "TX1", "client_code": "C1"})
    assert response.status_code == 201, response.json
    autocommit, _ = watched_app.extensions["seen"]
    assert autocommit is False


def test_a_pooled_connection_whose_backend_was_terminated_is_replaced_at_checkout(postgresql_only_app):
    app = make_app_like(postgresql_only_app)
    try:
        tenant = make_tenant(app, BOT)
        client = app.test_client()
        assert client.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).status_code == 200
        with app.app_context():
            assert db.engine.pool.checkedin() >= 1
            with db.engine.connect() as admin:  # the pooled connection itself: the pool hands it out first
                backend = admin.execute(text("SELECT pg_backend_pid()")).scalar()
            with postgresql_only_app.app_context(), db.engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        statuses = [client.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).status_code for _ in range(3)]
        assert statuses == [200, 200, 200]
    finally:
        dispose_app(app)


def test_prepared_statements_are_planned_for_their_own_parameters(postgresql_only_app):
    """A generic plan of a list page cannot tell a big bot from a small one (database.postgresql_session_options)."""
    with postgresql_only_app.app_context():
        with db.engine.connect() as connection:
            assert connection.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"


def test_the_one_statement_writes_keep_one_generic_plan_while_the_lists_are_planned_for_their_bot(
        postgresql_only_app):
    """database.plan_once_where_asked: the writes keep the generic plan made once psycopg has prepared them (after
    five executions); a list page on the same connection is planned for its own parameters at every execution.
    One pooled connection, so that every request's prepared statements are on it."""
    app = make_app_like(postgresql_only_app, SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})
    try:
        tenant = make_tenant(app, BOT)
        client = app.test_client()
        for number in range(8):
            created = client.post(f"/api/v1/tracking/{BOT}", headers=tenant.headers,
                                  json={"tracking_number": f"PLAN{number}", "client_code": "C1"})
            assert created.status_code == 201, created.json
            updated = client.put(f"/api/v1/tracking/{BOT}/{created.json['id']}", headers=tenant.headers,
                                 json={"status": "in_transit"})
            assert updated.status_code == 200, updated.json
            assert client.get(f"/api/v1/tracking/{BOT}", headers=tenant.headers).status_code == 200
        with app.app_context():
            plans = db.session.execute(text("SELECT statement, generic_plans, custom_plans "
                                            "FROM pg_prepared_statements")).all()
            assert db.session.execute(text("SHOW plan_cache_mode")).scalar() == "force_custom_plan"
    finally:
        dispose_app(app)
    writes = {"create": [plan for plan in plans if "INSERT INTO tracking_numbers" in plan.statement],
              "update": [plan for plan in plans if "UPDATE tracking_numbers" in plan.statement]}
    lists = [plan for plan in plans if plan.statement.startswith("SELECT") and "ORDER BY tracking_numbers.id DESC"
             in plan.statement]
    for name, prepared in writes.items():
        assert len(prepared) == 1, (name, plans)
        assert prepared[0].generic_plans >= 1 and prepared[0].custom_plans == 0, (name, prepared)
    assert lists and all(plan.custom_plans >= 1 and plan.generic_plans == 0 for plan in lists), lists

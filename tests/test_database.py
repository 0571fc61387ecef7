"""Database plumbing (tracker_api/database/__init__.py) on PostgreSQL: reads run without a transaction, writes inside one, and a
pooled connection the server has closed is never handed to a request."""
import pytest
from sqlalchemy import text

from conftest import dispose_app, executed_statements, make_app_like, make_tenant, make_webhook
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


@pytest.fixture
def deployed_app(postgresql_only_app, redis_url):
    """The app with Redis, as deployed: a worker caches a key's lookup (access/key_cache.py), so a request of a
    key it knows reads nothing before its view."""
    app = make_app_like(postgresql_only_app, REDIS_URL=redis_url)
    yield app
    dispose_app(app)


def test_a_read_runs_its_statements_without_begin_or_rollback(watched_app):
    tenant = make_tenant(watched_app, BOT)
    response = watched_app.test_client().get(f"/api/v1/tracking/{BOT}", headers=tenant.headers)
    assert response.status_code == 200
    assert watched_app.extensions["seen"] == (True, "IDLE")  # no transaction was ever opened


def test_a_write_runs_in_one_transaction(watched_app):
    tenant = make_tenant(watched_app, BOT)
    response = watched_app.test_client().post(f"/api/v1/clients/{BOT}", headers=tenant.headers,
                                              json={"client_code": "C1", "name": "Aigerim"})
    assert response.status_code == 201, response.json
    autocommit, _ = watched_app.extensions["seen"]
    assert autocommit is False


def test_a_parcel_write_of_a_bot_without_webhooks_is_one_statement_committed_alone(deployed_app):
    """parcel_statements.py: a create and a status update of a bot with no enabled webhook endpoint are one statement
    in autocommit, with no BEGIN or COMMIT round trip; what it wrote is all there for others to read."""
    tenant = make_tenant(deployed_app, BOT)
    client = deployed_app.test_client()
    assert client.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).status_code == 200  # the key's lookup cached
    answers = []
    created = executed_statements(deployed_app, lambda: answers.append(client.post(
        f"/api/v1/tracking/{BOT}", headers=tenant.headers, json={"tracking_number": "ALONE1", "client_code": "C1"})))
    assert answers[0].status_code == 201, answers[0].json
    parcel = answers[0].json["id"]
    updated = executed_statements(deployed_app, lambda: answers.append(client.put(
        f"/api/v1/tracking/{BOT}/{parcel}", headers=tenant.headers, json={"status": "delivered"})))
    assert answers[1].status_code == 200, answers[1].json
    for statements in (created, updated):
        assert len(statements) == 1, statements
        autocommit, statement = statements[0]
        assert autocommit is True and statement.startswith("WITH locked AS (UPDATE bots"), statements
    with deployed_app.app_context(), db.engine.connect() as other:  # another connection sees every part committed
        history = other.execute(text("SELECT previous_status, status FROM status_events WHERE tracking_id = :id "
                                     "ORDER BY id"), {"id": parcel}).all()
        assert [tuple(row) for row in history] == [(None, "pending"), ("pending", "delivered")]
        assert other.execute(text("SELECT change_seq FROM bots WHERE id = :bot"), {"bot": BOT}).scalar() == 2
        totals = dict(other.execute(text("SELECT status, count FROM tracking_status_totals WHERE bot_id = :bot "
                                         "AND count <> 0"), {"bot": BOT}).all())
        assert totals == {"delivered": 1}


def test_a_write_committed_alone_answers_its_conflicts_and_misses_as_in_a_transaction(deployed_app):
    """A duplicate number fails the statement in its pipeline: the 409 names the parcel that has it, and nothing of
    the failed create stays (its change number, history and totals were one statement). A missing parcel's update
    writes nothing alone, is looked for in a transaction, and is a 404."""
    tenant = make_tenant(deployed_app, BOT)
    client = deployed_app.test_client()
    assert client.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).status_code == 200  # the key's lookup cached
    body = {"tracking_number": "TWICE1", "client_code": "C1"}
    first = client.post(f"/api/v1/tracking/{BOT}", headers=tenant.headers, json=body)
    assert first.status_code == 201, first.json
    answers = []
    statements = executed_statements(deployed_app, lambda: answers.append(client.post(
        f"/api/v1/tracking/{BOT}", headers=tenant.headers, json=body)))
    assert answers[0].status_code == 409 and answers[0].json["existing_id"] == first.json["id"], answers[0].json
    assert statements[0][0] is True and "NOT EXISTS" in statements[0][1], statements  # it was tried alone
    missing = client.put(f"/api/v1/tracking/{BOT}/{first.json['id'] + 1000}", headers=tenant.headers,
                         json={"status": "delivered"})
    assert missing.status_code == 404, missing.json
    with deployed_app.app_context():
        counts = db.session.execute(text(
            "SELECT (SELECT change_seq FROM bots WHERE id = :bot), (SELECT count(*) FROM status_events), "
            "(SELECT sum(count) FROM tracking_status_totals WHERE bot_id = :bot)"), {"bot": BOT}).one()
    assert tuple(counts) == (1, 1, 1)  # the first create's alone


def test_a_bot_whose_endpoint_appears_after_its_last_write_still_gets_the_event(deployed_app):
    """The worker's hint says the bot had no endpoint; the statement that would commit alone finds one and writes
    nothing, and the write is made again in a transaction, with its webhook event; the next one starts there."""
    tenant = make_tenant(deployed_app, BOT)
    client = deployed_app.test_client()
    assert client.get(f"/api/v1/bots/{BOT}", headers=tenant.headers).status_code == 200  # the key's lookup cached
    first = client.post(f"/api/v1/tracking/{BOT}", headers=tenant.headers,
                        json={"tracking_number": "HOOK1", "client_code": "C1"})
    assert first.status_code == 201, first.json
    make_webhook(deployed_app, BOT)
    answers = []
    statements = executed_statements(deployed_app, lambda: answers.append(client.put(
        f"/api/v1/tracking/{BOT}/{first.json['id']}", headers=tenant.headers, json={"status": "in_transit"})))
    assert answers[0].status_code == 200, answers[0].json
    assert [autocommit for autocommit, _ in statements][:2] == [True, False], statements
    assert "NOT EXISTS" in statements[0][1] and "NOT EXISTS" not in statements[1][1]
    with deployed_app.app_context():
        events = db.session.execute(text("SELECT type FROM webhook_events WHERE bot_id = :bot"),
                                    {"bot": BOT}).scalars().all()
        assert events == ["tracking.status_changed"]
        assert db.session.execute(text("SELECT count(*) FROM status_events WHERE tracking_id = :id"),
                                  {"id": first.json["id"]}).scalar() == 2  # written once, not twice
    then = executed_statements(deployed_app, lambda: answers.append(client.post(
        f"/api/v1/tracking/{BOT}", headers=tenant.headers, json={"tracking_number": "HOOK2", "client_code": "C1"})))
    assert answers[1].status_code == 201, answers[1].json
    assert then[0][0] is False and "NOT EXISTS" not in then[0][1], then


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


@pytest.mark.parametrize("with_webhook", [False, True], ids=["committed alone", "in a transaction"])
def test_the_one_statement_writes_keep_one_generic_plan_while_the_lists_are_planned_for_their_bot(
        postgresql_only_app, redis_url, with_webhook):
    """database.plan_once_where_asked: the writes keep the generic plan made once psycopg has prepared them (after
    five executions), whether they commit alone (a bot without a webhook endpoint: the setting and the statement in
    one pipeline) or in a transaction (a bot with one); a list page on the same connection is planned for its own
    parameters at every execution. One pooled connection, so that every request's prepared statements are on it."""
    app = make_app_like(postgresql_only_app, REDIS_URL=redis_url,
                        SQLALCHEMY_ENGINE_OPTIONS={"pool_size": 1, "max_overflow": 0})
    try:
        tenant = make_tenant(app, BOT)
        if with_webhook:
            make_webhook(app, BOT)
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
        assert ("NOT EXISTS" in prepared[0].statement) is not with_webhook, prepared  # the statement committed alone
    assert lists and all(plan.custom_plans >= 1 and plan.generic_plans == 0 for plan in lists), lists

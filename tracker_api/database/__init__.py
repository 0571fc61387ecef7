"""Database plumbing: per-dialect connection settings, reads without a transaction, the liveness check of pooled
PostgreSQL connections, the one place where a failed request's transaction is rolled back, and a database that
cannot answer turned into a 503."""
import logging
import select
from contextlib import nullcontext

from flask import current_app, has_request_context, request
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from ..extensions import db
from ..web.errors import problem
from ..web.i18n import lazy_gettext
from .replicas import replica_binds

log = logging.getLogger(__name__)

# What the client is told, by SQLSTATE (code, else class); anything else reads as a lost database. All are
# OperationalErrors: the service's state, not the request's fault.
DETAILS = {
    "57014": lazy_gettext("The database did not answer in time; retry shortly."),  # query_canceled: statement_timeout
    "53": lazy_gettext("The database is out of space or resources; retry later."),  # disk_full, out_of_memory, too_many_...
}
LOST = lazy_gettext("The database is unavailable; retry shortly.")


def register_database(app):
    """Connection settings for the configured dialect, the read replicas' binds (replicas.py), and the 503 for a
    database that cannot answer."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    if url.get_backend_name() == "postgresql":
        connect_args = options["connect_args"] = dict(options.get("connect_args", {}))
        if app.config.get("DATABASE_PGBOUNCER"):
            connect_args.setdefault("prepare_threshold", None)  # a prepared statement lives on one server connection
        else:
            connect_args.setdefault("options", postgresql_session_options(app.config))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    if app.config.get("DATABASE_REPLICA_URLS"):
        app.config["SQLALCHEMY_BINDS"] = {**app.config.get("SQLALCHEMY_BINDS", {}),
                                          **replica_binds(app.config, options)}
    db.init_app(app)
    if url.get_backend_name() == "postgresql":
        with app.app_context():
            if app.config.get("DATABASE_PGBOUNCER"):
                for engine in db.engines.values():
                    settings_per_transaction(engine, app.config)
            else:
                plan_once_where_asked(db.engine)  # the primary's: the replicas are never written to
    # Teardowns run last-registered first: this one before Flask-SQLAlchemy's own session removal.
    app.teardown_appcontext(end_session)
    app.register_error_handler(OperationalError, handle_database_unavailable)


def postgresql_session_options(config):
    """libpq `options` set on every new connection, so no request can run without them."""
    # Dates (statistics per day) are computed in UTC whatever the server's TimeZone is. psycopg prepares a statement
    # run five times, and PostgreSQL may then plan it once for any parameters: a generic plan of a list page cannot
    # see which bot it reads, and read all of a big bot's million rows to sort them (488 ms instead of 0.3). Custom
    # plans keep preparing's saved parsing and plan each execution for its own values.
    settings = ["-c timezone=UTC", "-c plan_cache_mode=force_custom_plan"]
    if config.get("DATABASE_STATEMENT_TIMEOUT_MS"):
        settings.append(f"-c statement_timeout={int(config['DATABASE_STATEMENT_TIMEOUT_MS'])}")
    return " ".join(settings)


def settings_per_transaction(engine, config):
    """Behind PgBouncer in transaction pooling mode: each transaction sets the session options itself, with SET
    LOCAL's scope (set_config(..., true)), before its first statement. A connection's `options` or a plain SET would
    stay on whichever server connection PgBouncer lent, and leave the next one without them. Without prepared
    statements every execution is planned for its own values, so plan_cache_mode is not needed."""
    settings = "set_config('TimeZone', 'UTC', true)"
    if config.get("DATABASE_STATEMENT_TIMEOUT_MS"):
        settings += f", set_config('statement_timeout', '{int(config['DATABASE_STATEMENT_TIMEOUT_MS'])}', true)"
    statement = f"SELECT {settings}"

    @event.listens_for(engine, "begin")
    def _transaction_begins(connection):
        connection.info[SETTINGS_PENDING] = True

    @event.listens_for(engine, "before_cursor_execute")
    def _apply_settings(connection, cursor, sql, parameters, context, executemany):
        if connection.info.pop(SETTINGS_PENDING, False):
            cursor.connection.execute(statement)  # psycopg opens the transaction first


SETTINGS_PENDING = "transaction_settings_pending"

# The execution option of a statement whose best plan does not depend on its values (writes/parcel_statements.py).
PLAN_ONCE = "plan_once"
GENERIC_PLANS_IN_THIS_TRANSACTION = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true)"


def plan_once_where_asked(engine):
    """A statement executed with the PLAN_ONCE option runs under a generic plan, made once per connection when
    psycopg prepares the statement, instead of being planned again at every execution as force_custom_plan has
    every statement planned (postgresql_session_options says why the lists need that). Why: planning a
    one-statement write cost PostgreSQL nearly as much as running it (0.27 ms against 0.36 for a status update;
    bench/README.md). The setting is the transaction's (set_config's `true`): the lists of the next request are
    planned for their own bot again. On a connection in autocommit (a write that commits alone,
    writes/parcel_statements.py) the setting and the statement go in one psycopg pipeline, one round trip ending
    in one Sync: PostgreSQL runs what comes before a Sync as one implicit transaction, so the setting holds for the
    statement and ends with its commit. Not behind PgBouncer, where no statement is prepared, so none keeps a plan."""

    @event.listens_for(engine, "do_execute")
    def _execute_under_generic_plan(cursor, statement, parameters, context):
        if not context.execution_options.get(PLAN_ONCE):
            return None  # SQLAlchemy executes it as usual
        connection = cursor.connection
        with connection.pipeline() if connection.autocommit else nullcontext():
            cursor.execute(GENERIC_PLANS_IN_THIS_TRANSACTION)
            cursor.execute(statement, parameters)
        return True


def handle_database_unavailable(error):
    """A lost or refused connection, a statement cancelled by DATABASE_STATEMENT_TIMEOUT_MS, a full disk: 503
    with Retry-After, the answer the API documents for an unavailable database. Not 504: that is a gateway's
    word for an upstream that did not answer (nginx's own 504 is already turned into this 503 problem), and
    clients keep one rule for both: wait Retry-After, then retry. The failed transaction is rolled back by
    roll_back_error_answer, as for every error answer."""
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
    log.error("database unavailable (SQLSTATE %s): %s", sqlstate or "none", getattr(error, "orig", error))
    detail = DETAILS.get(sqlstate) or DETAILS.get(sqlstate[:2]) or LOST
    return problem(503, detail, headers={"Retry-After": "5"})


def register_rollback_on_error(app):
    """Register last in create_app: after-request hooks run last-registered first, so this one runs before any
    other, and nothing that writes after the view (idempotency records, usage, security events) ever waits on the
    locks of a request that failed."""
    app.after_request(roll_back_error_answer)


def roll_back_error_answer(response):
    """An error answer commits nothing: whatever its request wrote is rolled back here, the one place that does it,
    for a 4xx from a view or a hook, a 5xx, and the 503 of a database that cannot answer."""
    if response.status_code >= 400:
        discard_transaction()
    return response


def lift_statement_timeout(connection):
    """For an operator's command that reads a whole database (a recount of a million parcels takes longer than a
    request may): this transaction only, on PostgreSQL, runs without DATABASE_STATEMENT_TIMEOUT_MS."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SET LOCAL statement_timeout = 0"))


def retry_after_integrity_error(write, *args):
    """Run `write(*args)`; on an IntegrityError, roll back and run it once more. Writes through this API queue on
    the bot's change counter, so a code inserted between our look-up and our insert comes from a writer that
    bypasses it (the Telegram bot writing to the database itself): the code exists now, and the second attempt
    updates it instead."""
    try:
        return write(*args)
    except IntegrityError:
        discard_transaction()
        return write(*args)


def discard_transaction():
    """Roll the request's transaction back; if the connection is already cut (the ROLLBACK itself fails, as on
    a database restart), drop the connection instead of raising."""
    try:
        db.session.rollback()
    except SQLAlchemyError as error:
        drop_connection(error)


def end_session(exception):
    """End the request's session without raising: a request that already has its answer (a 200 read just
    before PostgreSQL cut the connection) must not turn into gunicorn's bare 500 because the closing ROLLBACK
    failed in a teardown, where no error handler can catch it. Closing (not rolling back) leaves the objects
    already loaded readable, as Flask-SQLAlchemy's own teardown does."""
    try:
        db.session.close()
    except SQLAlchemyError as error:
        drop_connection(error)


def drop_connection(error):
    log.warning("database connection lost; discarded: %s", getattr(error, "orig", error))
    db.session().invalidate()  # the Session itself: the scoped proxy does not offer invalidate()


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


@event.listens_for(Engine, "checkout")
def _check_pooled_postgresql_connection(dbapi_connection, connection_record, connection_proxy):
    """Hand out no pooled PostgreSQL connection that the server has closed (a restart, a terminated backend): such a
    connection has something to read, the server's goodbye or end of file, while an idle live one has nothing.
    What pool_pre_ping does with a round trip per checkout, a zero-timeout poll of the socket does for free; on
    DisconnectionError the pool replaces the connection and tries again."""
    if not type(dbapi_connection).__module__.startswith("psycopg"):
        return
    if dbapi_connection.closed or select.select([dbapi_connection.fileno()], [], [], 0)[0]:
        raise DisconnectionError("the server closed this pooled connection")


READ_ONLY_METHODS = ("GET", "HEAD", "OPTIONS")


def autocommit_if_possible(session):
    """Run the session's statements in autocommit, and say whether it does: only before its first statement takes
    its connection, and on PostgreSQL (SQLite's round trips are in-process), not behind PgBouncer (there each
    transaction carries the session's settings: settings_per_transaction)."""
    if (session.in_transaction() or current_app.config.get("DATABASE_PGBOUNCER")
            or session.get_bind().dialect.name != "postgresql"):
        return False
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    return True


@event.listens_for(Session, "do_orm_execute")
def _read_without_a_transaction(execute_state):
    """A request that only reads runs its statements in autocommit: no BEGIN and ROLLBACK round trips around them.
    Nothing is lost: under READ COMMITTED every statement already saw its own snapshot, transaction or not."""
    session = execute_state.session
    if not session.in_transaction() and has_request_context() and request.method in READ_ONLY_METHODS:
        autocommit_if_possible(session)

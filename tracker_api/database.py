"""Database plumbing: per-dialect connection settings, and a lost database answered with a 503."""
import logging

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError

from .errors import problem
from .extensions import db

log = logging.getLogger(__name__)


def register_database(app):
    """Connection settings for the configured dialect, and the 503 for a lost database."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    if url.get_backend_name() == "postgresql":
        # Dates (statistics per day) are computed in UTC whatever the server's TimeZone is.
        options.setdefault("connect_args", {}).setdefault("options", "-c timezone=UTC")
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    db.init_app(app)
    app.register_error_handler(OperationalError, handle_database_unavailable)


def handle_database_unavailable(error):
    """A lost or refused connection is the service's state, not the client's fault: 503, retry later."""
    log.error("database unavailable: %s", getattr(error, "orig", error))
    db.session.rollback()
    return problem(503, "The database is unavailable; retry shortly.", headers={"Retry-After": "5"})


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection, connection_record):
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

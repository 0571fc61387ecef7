"""Extension objects, created unbound and bound to the app in the factory."""
from flask_babel import Babel
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_sqlalchemy.session import Session
from sqlalchemy import MetaData

from .web.errors import Api

class RoutingSession(Session):
    """The session class of `db.session`: Flask-SQLAlchemy's, with the request's SELECTs sent to the read replica that
    access/replica_reads.py chose for the request (SQLAlchemy's documented way: a Session subclass overriding
    get_bind). `read_bind`, when set, takes every SELECT; everything else (flushes, DML, text(), `connection()`)
    stays on the binds Flask-SQLAlchemy picks, the primary. Unset, as in every deployment without replicas, it costs
    one attribute test per statement."""

    read_bind = None

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if self.read_bind is not None and bind is None and getattr(clause, "is_select", False):
            return self.read_bind
        return super().get_bind(mapper, clause, bind, **kwargs)


# Named constraints so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# expire_on_commit off: a write's answer is dumped from the object it just committed, as it was written, instead
# of a SELECT per record to read back what the request itself sent (each request has its own session). The session
# class sends a request's reads to a replica when access/replica_reads.py picked one (DATABASE_REPLICA_URLS).
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                session_options={"expire_on_commit": False, "class_": RoutingSession})
migrate = Migrate()
api = Api()
babel = Babel()  # problem titles, details and field errors in the request's language (web/i18n.py)
# The platform admin API (/api/admin/v1) has its own document and Swagger UI: settings prefixed ADMIN_ (config/).
admin_api = Api(config_prefix="ADMIN_")
# The rate limiter is not here: Flask-Limiter keeps one storage per instance, and each app counts in the
# storage its own REDIS_URL names, so access/rate_limits.py builds one per app.

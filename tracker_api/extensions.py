"""Extension objects, created unbound and bound to the app in the factory."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from .errors import Api
from .session_routing import RoutingSession

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
# class sends a request's reads to a replica when replicas.py picked one (DATABASE_REPLICA_URLS).
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                session_options={"expire_on_commit": False, "class_": RoutingSession})
migrate = Migrate()
api = Api()
# The rate limiter is not here: Flask-Limiter keeps one storage per instance, and each app counts in the
# storage its own REDIS_URL names, so ratelimit.register_rate_limits builds one per app.

"""Extension objects, created unbound and bound to the app in the factory."""
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

from .web.errors import Api

# Named constraints so Alembic migrations are identical on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# expire_on_commit off: a write's answer is dumped from the object it just committed, as it was written, instead
# of a SELECT per record to read back what the request itself sent (each request has its own session).
db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION), session_options={"expire_on_commit": False})
migrate = Migrate()
api = Api()
# The platform admin API (/api/admin/v1) has its own document and Swagger UI: settings prefixed ADMIN_ (config/).
admin_api = Api(config_prefix="ADMIN_")
# The rate limiter is not here: Flask-Limiter keeps one storage per instance, and each app counts in the
# storage its own REDIS_URL names, so access/rate_limits.py builds one per app.

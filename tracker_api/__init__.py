"""tracker_api: the REST integration API of the cargo-tracking bot platform."""
import os

from flask import Flask

from config import load_config

from .access import register_access
from .commands import register_commands
from .database import register_database, register_rollback_on_error
from .access.replica_reads import register_replica_reads
from .extensions import admin_api, api, babel, db, migrate
from .ops import health, register_observability
from .resources import register_blueprints
from .resources.admin import register_admin_blueprints
from .resources.reference import register_reference
from .resources.widget import script as widget_script
from .web import docs, problem_pages
from .web.i18n import select_language
from .web.json_provider import OrjsonProvider
from .web.proxy import register_proxy_fix
from .web.request_id import register_request_id
from .web.security_headers import register_security_headers
from .writes.idempotency import register_idempotency

MIGRATIONS_DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config=None, **overrides):
    """Build the app: settings, extensions, hooks, blueprints, CLI. Errors: see web/errors.py."""
    app = Flask(__name__, static_folder=None)
    app.config.from_object(config or load_config())
    app.config.update(overrides)
    app.json = OrjsonProvider(app)
    register_proxy_fix(app)
    register_database(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIRECTORY, render_as_batch=True)
    api.init_app(app)
    register_reference(api)  # the introduction and code samples: before any operation is documented
    babel.init_app(app, locale_selector=select_language)
    admin_api.init_app(app)

    # Request hooks, in the order of these calls (after-request hooks run in the reverse order).
    register_request_id(app)
    register_security_headers(app)
    register_access(app, api, admin_api)  # block, key, budget, authentication; after: usage and security events
    register_replica_reads(app)  # an authenticated GET may read a replica (DATABASE_REPLICA_URLS); the key decides
    register_observability(app)  # the request log and the metrics read the Caller once the answer is ready
    register_idempotency(app)  # a POST's Idempotency-Key is claimed per API key, so after authentication
    register_rollback_on_error(app)  # last, so its after-request hook runs first (database/__init__.py)

    register_blueprints(api)
    register_admin_blueprints(admin_api)
    app.register_blueprint(docs.blp)
    app.register_blueprint(problem_pages.blp)
    app.register_blueprint(health.blp)
    app.register_blueprint(widget_script.blp)
    register_commands(app)
    return app

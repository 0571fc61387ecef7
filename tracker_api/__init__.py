"""tracker_api: the REST integration API of the cargo-tracking bot platform."""
import os

from flask import Flask

from config import load_config

from . import docs, health
from .audit import register_audit
from .auth import register_auth
from .commands import register_commands
from .database import register_database
from .extensions import api, db, migrate
from .idempotency import register_idempotency
from .json_provider import OrjsonProvider
from .key_cache import register_key_cache
from .metrics import register_metrics
from .proxy import register_proxy_fix
from .ratelimit import register_rate_limits
from .replicas import register_replicas
from .request_id import register_request_id
from .resources import register_blueprints
from .resources.widget import script as widget_script
from .security_headers import register_security_headers
from .shared_store import register_shared_store

MIGRATIONS_DIRECTORY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config=None, **overrides):
    """Build the app: settings, extensions, hooks, blueprints, CLI. Errors: see errors.Api."""
    app = Flask(__name__, static_folder=None)
    app.config.from_object(config or load_config())
    app.config.update(overrides)
    app.json = OrjsonProvider(app)
    register_proxy_fix(app)
    register_database(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIRECTORY, render_as_batch=True)
    api.init_app(app)
    register_shared_store(app)
    register_key_cache(app)

    # Request hooks run in this order: request id; audit (timer, blocked addresses); rate limit (spends
    # the key's or the address's budget, so refused keys count too); authentication and bot scoping;
    # the read replica of a GET (after authentication: the key decides read-your-writes); idempotency (a
    # POST's Idempotency-Key is claimed per API key, so after authentication). Security headers go on every
    # answer; metrics read the audit's timer and verdict when the response is ready.
    register_request_id(app)
    register_security_headers(app)
    register_audit(app)
    register_metrics(app)
    register_rate_limits(app, api)
    register_auth(app, api)
    register_replicas(app)  # reads of authenticated GETs to a replica, when DATABASE_REPLICA_URLS names any
    register_idempotency(app)

    register_blueprints(api)
    app.register_blueprint(docs.blp)
    app.register_blueprint(health.blp)
    app.register_blueprint(widget_script.blp)
    register_commands(app)
    return app

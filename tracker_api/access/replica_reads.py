"""Which requests read from a replica (database/replicas.py), and read-your-writes. Operators: docs/REPLICAS.md.

What reads a replica: the SELECTs of the API's GET and HEAD requests, from the moment the request's key is
authenticated. Everything else uses the primary: writes and whatever a write request reads; the key lookup itself
(a revocation must hold at once, and a lookup is cached under the shared key token, key_cache.py); the change feed
(`cursor`, `updated_since`: its high-water mark is read where changes commit, writes/feed.py); the totals' upkeep,
the CLI, the webhook worker, /readyz. Without DATABASE_REPLICA_URLS nothing here is registered.

Read-your-writes: a key's write request marks the key in the shared store (Redis: every worker sees the mark) for
DATABASE_REPLICA_STICKY_SECONDS, and a marked key reads from the primary. While Redis fails, a worker cannot see
other workers' marks, so all its reads go to the primary.
"""
import logging

from flask import current_app, request
from sqlalchemy.exc import DBAPIError, DisconnectionError

from ..database.replicas import BIND_PREFIX, ReplicaSet, describe
from ..extensions import db
from .authentication import current_key_id
from .shared_store import shared_store

log = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD")
FEED_ARGUMENTS = frozenset({"cursor", "updated_since"})  # the change feed reads the primary (see above)
WROTE = "replicas:wrote:"  # + key id: the key's read-your-writes mark


def wrote_recently(key_id):
    """Whether the key sent a write within DATABASE_REPLICA_STICKY_SECONDS, or cannot be known not to have."""
    store = shared_store()
    marked = store.ttl(WROTE + str(key_id)) is not None
    return marked or (store.kind == "redis" and not store.available)


def route_reads():
    """Before a request's view, after authentication: send its SELECTs to a replica in service when it may read
    there. The replica's connection is taken here, so a replica that just went down costs nothing but a refused
    connection: it is set aside and the primary serves."""
    session = db.session()
    session.read_bind = None  # a session outliving a request (an app context around several) starts afresh
    key_id = current_key_id()
    if request.method not in READ_METHODS or key_id is None or not FEED_ARGUMENTS.isdisjoint(request.args):
        return
    if wrote_recently(key_id):
        return
    replicas = current_app.extensions["replicas"]
    engine = replicas.pick()
    if engine is None:
        return
    try:
        session.connection(bind_arguments={"bind": engine})
    except (DBAPIError, DisconnectionError) as error:
        log.warning("replica %s unreachable, set aside: %s", describe(engine), getattr(error, "orig", error))
        replicas.set_aside(engine)
        session.rollback()
        return
    session.read_bind = engine


def mark_writer(response):
    """After a key's write request: its next reads, in any worker, go to the primary for the sticky window."""
    key_id = current_key_id()
    if key_id is not None and request.method not in (*READ_METHODS, "OPTIONS"):
        shared_store().put(WROTE + str(key_id), current_app.config["DATABASE_REPLICA_STICKY_SECONDS"])
    return response


def forget_read_bind(exception):
    db.session().read_bind = None


def register_replica_reads(app):
    """The replica set and its hooks, when DATABASE_REPLICA_URLS names any; to be registered after authentication."""
    if not app.config.get("DATABASE_REPLICA_URLS"):
        return
    with app.app_context():
        engines = [engine for key, engine in db.engines.items() if key and key.startswith(BIND_PREFIX)]
    app.extensions["replicas"] = ReplicaSet(engines, app.config["DATABASE_REPLICA_MAX_LAG_SECONDS"],
                                            app.config["DATABASE_REPLICA_CHECK_SECONDS"])
    app.before_request(route_reads)
    app.after_request(mark_writer)
    app.teardown_request(forget_read_bind)
